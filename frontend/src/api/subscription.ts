/**
 * Subscriptions over graphql-ws (graphql-transport-ws) at `/graphql/ws`.
 * The graphql-ws client is loaded on first use, so pages without live data
 * never download it. The access token goes in `connection_init` as
 * `{"Authorization": "Bearer …"}`; the socket is reopened when the session
 * changes. The server ends a subscription when the token it was opened
 * with expires (UNAUTHENTICATED): it is then opened again on a new socket
 * with a refreshed token, at most once per {@link RENEW_AFTER_MS}.
 */
import { onScopeDispose, shallowRef, toValue, watch, type MaybeRefOrGetter, type ShallowRef } from 'vue'
import type { Client } from 'graphql-ws'
import type { Doc } from './client'
import { fromGraphQLErrors, networkError, type ApiError, type GraphQLErrorLike } from './errors'
import { session } from './session'

let clientPromise: Promise<Client> | null = null

/** A subscription whose token expired is renewed at most this often. */
export const RENEW_AFTER_MS = 10_000

export function wsUrl(loc: Pick<Location, 'protocol' | 'host'> = window.location): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/graphql/ws`
}

function client(): Promise<Client> {
  clientPromise ??= import('graphql-ws').then(({ createClient }) =>
    createClient({
      url: wsUrl(),
      lazy: true,
      retryAttempts: 8,
      connectionParams: async () => {
        const token = await session.validAccessToken().catch(() => session.accessToken)
        return token ? { Authorization: `Bearer ${token}` } : {}
      },
    }),
  )
  return clientPromise
}

session.onChange(() => {
  // Signed in or out: the next subscription connects with the new identity.
  const old = clientPromise
  clientPromise = null
  void old?.then((c) => c.dispose())
})

export interface SubscriptionState<R> {
  data: ShallowRef<R | undefined>
  error: ShallowRef<ApiError | null>
}

/** Subscribes while `enabled` is true and the calling scope lives. */
export function useSubscription<R, V>(
  doc: Doc<R, V>,
  variables: MaybeRefOrGetter<V>,
  opts: { enabled?: MaybeRefOrGetter<boolean>; onData?: (data: R) => void } = {},
): SubscriptionState<R> {
  const data = shallowRef<R | undefined>()
  const error = shallowRef<ApiError | null>(null)
  let stop: (() => void) | null = null
  let renewedAt = 0

  async function start(vars: V): Promise<void> {
    stop?.()
    let cancelled = false
    let unsubscribe: (() => void) | null = null
    stop = () => {
      cancelled = true
      unsubscribe?.()
    }
    const used = client()
    const c = await used
    if (cancelled) return
    unsubscribe = c.subscribe<R>(
      { query: doc.toString(), variables: vars as Record<string, unknown> },
      {
        next: (msg) => {
          if (msg.errors?.length) {
            const err = fromGraphQLErrors(msg.errors as GraphQLErrorLike[])
            const now = Date.now()
            if (err.code === 'UNAUTHENTICATED' && session.accessToken && now - renewedAt > RENEW_AFTER_MS) {
              // The socket speaks for the expired token: the next one is
              // opened with a refreshed token (the old one closes once idle).
              renewedAt = now
              if (clientPromise === used) clientPromise = null
              void start(vars)
              return
            }
            error.value = err
          } else if (msg.data) {
            data.value = msg.data
            opts.onData?.(msg.data)
          }
        },
        error: (err) => {
          error.value = Array.isArray(err) ? fromGraphQLErrors(err as GraphQLErrorLike[]) : networkError(err)
        },
        complete: () => {},
      },
    )
  }

  watch(
    () => [toValue(variables), opts.enabled === undefined ? true : toValue(opts.enabled)] as const,
    ([vars, enabled]) => {
      if (enabled) void start(vars as V)
      else {
        stop?.()
        stop = null
      }
    },
    { deep: true, immediate: true },
  )
  onScopeDispose(() => stop?.())
  return { data, error }
}
