import { describe, expect, it, vi } from 'vitest'
import { effectScope } from 'vue'

interface Sink {
  next: (msg: { data?: unknown; errors?: unknown[] }) => void
}
interface FakeClient {
  sinks: Sink[]
  subscribe: ReturnType<typeof vi.fn>
  dispose: ReturnType<typeof vi.fn>
}
const clients: FakeClient[] = []

vi.mock('graphql-ws', () => ({
  createClient: vi.fn(() => {
    const c: FakeClient = {
      sinks: [],
      subscribe: vi.fn((_payload: unknown, sink: Sink) => {
        c.sinks.push(sink)
        return () => {}
      }),
      dispose: vi.fn(),
    }
    clients.push(c)
    return c
  }),
}))

const { useSubscription } = await import('@/api/subscription')
const { session } = await import('@/api/session')

const expired = { errors: [{ message: 'the access token has expired', extensions: { code: 'UNAUTHENTICATED' } }] }

describe('useSubscription', () => {
  it('opens an expired subscription again on a new socket, but not in a loop', async () => {
    const later = new Date(Date.now() + 900_000).toISOString()
    session.set({ accessToken: 'a', accessTokenExpiresAt: later, refreshToken: 'r', refreshTokenExpiresAt: later })
    const doc = 'subscription { topicResults(topicId: 1) { topicId } }' as unknown as Parameters<typeof useSubscription>[0]
    const scope = effectScope()
    const state = scope.run(() => useSubscription(doc, {}))!
    await vi.waitFor(() => expect(clients[0]?.subscribe).toHaveBeenCalledTimes(1))

    clients[0].sinks[0].next(expired)
    await vi.waitFor(() => expect(clients[1]?.subscribe).toHaveBeenCalledTimes(1))
    expect(state.error.value).toBeNull()
    clients[1].sinks[0].next({ data: { topicResults: { topicId: '1' } } })
    expect(state.data.value).toEqual({ topicResults: { topicId: '1' } })

    // Refused again at once: shown, not retried.
    clients[1].sinks[0].next(expired)
    await new Promise((r) => setTimeout(r, 20))
    expect(clients).toHaveLength(2)
    expect(state.error.value?.code).toBe('UNAUTHENTICATED')
    scope.stop()
  })
})
