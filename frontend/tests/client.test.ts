import { afterEach, describe, expect, it, vi } from 'vitest'
import { gqlRequest, setFetch, type Doc } from '@/api/client'
import { session } from '@/api/session'

const ME = { toString: () => 'query { me { id } }' } as Doc<{ me: { id: string } | null }, Record<string, never>>

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

const future = (ms: number) => new Date(Date.now() + ms).toISOString()

afterEach(() => session.clear())

describe('gqlRequest', () => {
  it('sends the bearer token and returns data', async () => {
    session.set({ accessToken: 'A', accessTokenExpiresAt: future(600_000), refreshToken: 'R', refreshTokenExpiresAt: future(1e9) })
    const fetchMock = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) => {
      expect((init?.headers as Record<string, string>).Authorization).toBe('Bearer A')
      return json({ data: { me: { id: '1' } } })
    })
    setFetch(fetchMock as typeof fetch)
    expect(await gqlRequest(ME)).toEqual({ me: { id: '1' } })
  })

  it('refreshes once on UNAUTHENTICATED and retries with the new token', async () => {
    session.set({ accessToken: 'OLD', accessTokenExpiresAt: future(600_000), refreshToken: 'R1', refreshTokenExpiresAt: future(1e9) })
    const seen: string[] = []
    setFetch((async (_url: RequestInfo | URL, init?: RequestInit) => {
      const body = JSON.parse(String(init?.body))
      if (String(body.query).includes('refreshToken(')) {
        seen.push(`refresh:${body.variables.refreshToken}`)
        return json({
          data: {
            refreshToken: { accessToken: 'NEW', accessTokenExpiresAt: future(600_000), refreshToken: 'R2', refreshTokenExpiresAt: future(1e9) },
          },
        })
      }
      const auth = (init?.headers as Record<string, string>).Authorization
      seen.push(auth)
      if (auth === 'Bearer OLD') return json({ data: null, errors: [{ message: 'expired', extensions: { code: 'UNAUTHENTICATED' } }] })
      return json({ data: { me: { id: '7' } } })
    }) as typeof fetch)
    expect(await gqlRequest(ME)).toEqual({ me: { id: '7' } })
    expect(seen).toEqual(['Bearer OLD', 'refresh:R1', 'Bearer NEW'])
    expect(session.refreshToken).toBe('R2')
  })

  it('throws ApiError with the code of the first error', async () => {
    setFetch((async () => json({ errors: [{ message: 'no', extensions: { code: 'NOT_FOUND' } }] }, 400)) as typeof fetch)
    await expect(gqlRequest(ME)).rejects.toMatchObject({ code: 'NOT_FOUND', status: 400 })
  })

  it('turns a failed fetch into NETWORK and an HTML 502 into NETWORK', async () => {
    setFetch((async () => {
      throw new TypeError('Failed to fetch')
    }) as typeof fetch)
    await expect(gqlRequest(ME)).rejects.toMatchObject({ code: 'NETWORK' })
    setFetch((async () => new Response('<html>bad gateway</html>', { status: 502 })) as typeof fetch)
    await expect(gqlRequest(ME)).rejects.toMatchObject({ code: 'NETWORK', status: 502 })
  })
})
