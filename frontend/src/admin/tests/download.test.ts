import { afterEach, describe, expect, it, vi } from 'vitest'
import { session } from '@/api/session'
import { ApiError } from '@/api/errors'
import { fetchWithToken, filenameFrom, opinionsCsvUrl, reportUrl } from '../lib/download'

const pair = (access: string) => ({
  accessToken: access,
  accessTokenExpiresAt: new Date(Date.now() + 600_000).toISOString(),
  refreshToken: `r-${access}`,
  refreshTokenExpiresAt: new Date(Date.now() + 86_400_000).toISOString(),
})

afterEach(() => session.clear())

describe('downloads with the bearer token', () => {
  it('sends the token in the Authorization header, never in the URL', async () => {
    session.set(pair('tok-1'))
    const fetchImpl = vi.fn(async () =>
      new Response('id,stance\n1,OPPOSE\n', { status: 200, headers: { 'Content-Disposition': 'attachment; filename="topic-7-opinions.csv"' } }),
    )
    const file = await fetchWithToken(opinionsCsvUrl('7'), 'fallback.csv', fetchImpl as unknown as typeof fetch)
    expect(fetchImpl).toHaveBeenCalledTimes(1)
    const [url, init] = fetchImpl.mock.calls[0] as unknown as [string, RequestInit]
    expect(url).toBe('/api/topics/7/opinions.csv')
    expect(url).not.toContain('tok-1')
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer tok-1')
    expect(file.filename).toBe('topic-7-opinions.csv')
    expect(await file.blob.text()).toContain('OPPOSE')
  })

  it('turns the JSON error body into an ApiError with its code', async () => {
    session.set(pair('tok-2'))
    const fetchImpl = vi.fn(async () => new Response(JSON.stringify({ error: 'not yours', code: 'FORBIDDEN' }), { status: 403 }))
    const err = await fetchWithToken('/api/x', 'x', fetchImpl as unknown as typeof fetch).catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err.code).toBe('FORBIDDEN')
  })

  it('maps a status without a JSON body, and a network failure', async () => {
    const notFound = vi.fn(async () => new Response('<html>', { status: 404 }))
    expect((await fetchWithToken('/api/x', 'x', notFound as unknown as typeof fetch).catch((e) => e)).code).toBe('NOT_FOUND')
    const offline = vi.fn(async () => {
      throw new TypeError('Failed to fetch')
    })
    expect((await fetchWithToken('/api/x', 'x', offline as unknown as typeof fetch).catch((e) => e)).code).toBe('NETWORK')
  })

  it('refreshes once on 401 and retries with the new token', async () => {
    session.set(pair('old'))
    const refresh = vi.spyOn(session, 'refresh').mockResolvedValue('new')
    const seen: string[] = []
    const fetchImpl = vi.fn(async (_u: string, init: RequestInit) => {
      const auth = (init.headers as Record<string, string>).Authorization
      seen.push(auth)
      return auth === 'Bearer new' ? new Response('ok', { status: 200 }) : new Response('{}', { status: 401 })
    })
    const file = await fetchWithToken('/api/x', 'x.csv', fetchImpl as unknown as typeof fetch)
    expect(refresh).toHaveBeenCalledTimes(1)
    expect(seen).toEqual(['Bearer old', 'Bearer new'])
    expect(file.filename).toBe('x.csv')
  })

  it('reads file names and builds report URLs', () => {
    expect(filenameFrom(null, 'f')).toBe('f')
    expect(filenameFrom('attachment; filename="a b.csv"', 'f')).toBe('a b.csv')
    expect(filenameFrom("attachment; filename*=UTF-8''%E6%8A%A5%E5%91%8A.csv", 'f')).toBe('报告.csv')
    expect(reportUrl('7', 'html', 'en')).toBe('/api/topics/7/report.html?locale=en')
    expect(reportUrl('7', 'csv', 'en')).toBe('/api/topics/7/report.csv')
  })
})
