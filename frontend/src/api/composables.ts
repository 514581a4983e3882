/**
 * Vue composables over `gqlRequest`, used by the resident pages and the
 * admin panel alike: `useQuery` (reactive variables, loading / error / data,
 * stale answers dropped) and `useMutation`.
 */
import { ref, shallowRef, toValue, watch, type MaybeRefOrGetter, type Ref, type ShallowRef } from 'vue'
import { gqlRequest, type Doc } from './client'
import { toApiError, type ApiError } from './errors'

export interface QueryState<R> {
  data: ShallowRef<R | undefined>
  error: ShallowRef<ApiError | null>
  loading: Ref<boolean>
  /** Runs the query again with the current variables; resolves when done (never throws). */
  refetch: () => Promise<void>
}

export interface QueryOptions {
  /** Run only while this is true (e.g. until an id is known). Default true. */
  enabled?: MaybeRefOrGetter<boolean>
}

export function useQuery<R, V>(
  doc: Doc<R, V>,
  variables?: MaybeRefOrGetter<V>,
  opts: QueryOptions = {},
): QueryState<R> {
  const data = shallowRef<R | undefined>()
  const error = shallowRef<ApiError | null>(null)
  const loading = ref(false)
  let generation = 0

  async function run(): Promise<void> {
    if (opts.enabled !== undefined && !toValue(opts.enabled)) return
    const mine = ++generation
    loading.value = true
    error.value = null
    try {
      const vars = toValue(variables) as V
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const result = await (gqlRequest as any)(doc, vars)
      if (mine === generation) data.value = result as R
    } catch (err) {
      if (mine === generation) error.value = toApiError(err)
    } finally {
      if (mine === generation) loading.value = false
    }
  }

  watch(
    () => [toValue(variables), opts.enabled === undefined ? true : toValue(opts.enabled)],
    () => void run(),
    { deep: true, immediate: true },
  )

  return { data, error, loading, refetch: run }
}

export interface MutationState<R, V> {
  /** Throws ApiError; also stores it in `error`. */
  execute: (variables: V) => Promise<R>
  loading: Ref<boolean>
  error: ShallowRef<ApiError | null>
}

export function useMutation<R, V>(doc: Doc<R, V>): MutationState<R, V> {
  const loading = ref(false)
  const error = shallowRef<ApiError | null>(null)
  async function execute(variables: V): Promise<R> {
    loading.value = true
    error.value = null
    try {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      return (await (gqlRequest as any)(doc, variables)) as R
    } catch (err) {
      const e = toApiError(err)
      error.value = e
      throw e
    } finally {
      loading.value = false
    }
  }
  return { execute, loading, error }
}
