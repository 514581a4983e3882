import { describe, expect, it, vi } from 'vitest'
import { Session, REFRESH_KEY, type TokenPair } from '@/api/session'
import { ApiError } from '@/api/errors'

function memoryStorage() {
  const m = new Map<string, string>()
  return {
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
  }
}

const NOW = Date.parse('2026-01-01T00:00:00Z')
function pair(n: number, ttlMs = 900_000): TokenPair {
  return {
    accessToken: `access-${n}`,
    accessTokenExpiresAt: new Date(NOW + ttlMs).toISOString(),
    refreshToken: `refresh-${n}`,
    refreshTokenExpiresAt: new Date(NOW + 86_400_000).toISOString(),
  }
}

describe('Session', () => {
  it('keeps the access token in memory and only the refresh token in storage', () => {
    const storage = memoryStorage()
    const s = new Session({ storage, now: () => NOW })
    s.set(pair(1))
    expect(s.accessToken).toBe('access-1')
    expect(storage.getItem(REFRESH_KEY)).toBe('refresh-1')
    expect(JSON.stringify([...['access-1']].map((k) => storage.getItem(k)))).toBe('[null]')
  })

  it('returns a fresh access token without refreshing', async () => {
    const refresh = vi.fn()
    const s = new Session({ storage: memoryStorage(), now: () => NOW })
    s.setRefresher(refresh)
    s.set(pair(1))
    expect(await s.validAccessToken()).toBe('access-1')
    expect(refresh).not.toHaveBeenCalled()
  })

  it('refreshes once for many concurrent callers when the token is about to expire', async () => {
    const s = new Session({ storage: memoryStorage(), now: () => NOW })
    let calls = 0
    s.setRefresher(async (rt) => {
      calls++
      expect(rt).toBe('refresh-1')
      await new Promise((r) => setTimeout(r, 10))
      return pair(2)
    })
    s.set(pair(1, 10_000)) // expires within the 30 s skew
    const tokens = await Promise.all([s.validAccessToken(), s.validAccessToken(), s.refresh(), s.validAccessToken()])
    expect(tokens).toEqual(['access-2', 'access-2', 'access-2', 'access-2'])
    expect(calls).toBe(1)
    // A later expiry refreshes again (not stuck on the first promise).
    s.set(pair(3, 1_000))
    s.setRefresher(async () => pair(4))
    expect(await s.validAccessToken()).toBe('access-4')
  })

  it('signs out when the refresh token is rejected', async () => {
    const storage = memoryStorage()
    const s = new Session({ storage, now: () => NOW })
    const changes: boolean[] = []
    s.onChange((v) => changes.push(v))
    s.setRefresher(async () => {
      throw new ApiError('UNAUTHENTICATED', 'invalid refresh token')
    })
    s.set(pair(1, 0))
    expect(await s.validAccessToken()).toBeNull()
    expect(storage.getItem(REFRESH_KEY)).toBeNull()
    expect(s.maybeSignedIn).toBe(false)
    expect(changes).toEqual([true, false])
  })

  it('keeps the session on a network error while refreshing', async () => {
    const storage = memoryStorage()
    const s = new Session({ storage, now: () => NOW })
    s.setRefresher(async () => {
      throw new ApiError('NETWORK', 'offline')
    })
    s.set(pair(1, 0))
    await expect(s.validAccessToken()).rejects.toMatchObject({ code: 'NETWORK' })
    expect(storage.getItem(REFRESH_KEY)).toBe('refresh-1')
  })

  it('uses the refresh token another tab stored, not a stale one', async () => {
    const storage = memoryStorage()
    const s = new Session({ storage, now: () => NOW })
    s.set(pair(1, 0))
    storage.setItem(REFRESH_KEY, 'refresh-from-other-tab')
    const seen: string[] = []
    s.setRefresher(async (rt) => {
      seen.push(rt)
      return pair(5)
    })
    expect(await s.refresh()).toBe('access-5')
    expect(seen).toEqual(['refresh-from-other-tab'])
  })

  it('is signed out with no refresh token', async () => {
    const s = new Session({ storage: memoryStorage(), now: () => NOW })
    expect(await s.validAccessToken()).toBeNull()
    expect(s.maybeSignedIn).toBe(false)
  })
})
