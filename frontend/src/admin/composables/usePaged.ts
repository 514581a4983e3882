/**
 * A cursor-paged list: `load()` (first page), `load(true)` (next page),
 * stale answers dropped; reloads when any of `sources` changes.
 */
import { ref, shallowRef, watch, type WatchSource } from 'vue'

export interface Page<T> {
  nodes: T[]
  pageInfo: { hasNextPage: boolean; endCursor?: string | null }
}

export function usePaged<T>(fetchPage: (after: string | null) => Promise<Page<T>>, sources: WatchSource[] = []) {
  const rows = shallowRef<T[]>([])
  const loading = ref(false)
  const error = shallowRef<unknown>(null)
  const hasMore = ref(false)
  let cursor: string | null = null
  let generation = 0

  async function load(more = false): Promise<void> {
    const mine = ++generation
    loading.value = true
    error.value = null
    try {
      const page = await fetchPage(more ? cursor : null)
      if (mine !== generation) return
      rows.value = more ? [...rows.value, ...page.nodes] : page.nodes
      cursor = page.pageInfo.endCursor ?? null
      hasMore.value = page.pageInfo.hasNextPage
    } catch (err) {
      if (mine === generation) error.value = err
    } finally {
      if (mine === generation) loading.value = false
    }
  }

  watch(sources, () => void load(), { immediate: true, deep: true })
  return { rows, loading, error, hasMore, load }
}
