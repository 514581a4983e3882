/**
 * Files that need the bearer token (opinion CSV, reports): fetched with the
 * token in the Authorization header — never in the URL — and handed to the
 * browser as a blob. Errors come back as `{ "error", "code" }` and become
 * ApiError like the GraphQL ones.
 */
import { ApiError, networkError } from '@/api/errors'
import { session } from '@/api/session'

type Fetch = typeof fetch

export interface FetchedFile {
  blob: Blob
  filename: string
}

const CODES = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'NOT_FOUND', 'CONFLICT', 'RATE_LIMITED', 'INTERNAL'])

/** `attachment; filename="topic-7-opinions.csv"` → `topic-7-opinions.csv`. */
export function filenameFrom(disposition: string | null, fallback: string): string {
  if (!disposition) return fallback
  const star = disposition.match(/filename\*\s*=\s*(?:UTF-8'')?([^;]+)/i)
  if (star) {
    try {
      return decodeURIComponent(star[1].trim().replace(/^"|"$/g, ''))
    } catch {
      /* fall through */
    }
  }
  const plain = disposition.match(/filename\s*=\s*"?([^";]+)"?/i)
  return plain ? plain[1].trim() : fallback
}

async function errorOf(res: Response): Promise<ApiError> {
  let code = 'UNKNOWN'
  let message = `HTTP ${res.status}`
  try {
    const body = (await res.json()) as { code?: string; error?: string }
    if (body.code && CODES.has(body.code)) code = body.code
    if (body.error) message = body.error
  } catch {
    /* not JSON */
  }
  if (code === 'UNKNOWN') {
    if (res.status === 401) code = 'UNAUTHENTICATED'
    else if (res.status === 403) code = 'FORBIDDEN'
    else if (res.status === 404) code = 'NOT_FOUND'
    else if (res.status >= 500) code = 'INTERNAL'
  }
  return new ApiError(code as ApiError['code'], message, { status: res.status })
}

/** GETs `url` with the current access token; refreshes once on 401. */
export async function fetchWithToken(url: string, fallbackName: string, fetchImpl: Fetch = fetch): Promise<FetchedFile> {
  const get = async (token: string | null) => {
    try {
      return await fetchImpl(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} })
    } catch (err) {
      throw networkError(err)
    }
  }
  let token = await session.validAccessToken().catch(() => session.accessToken)
  let res = await get(token)
  if (res.status === 401 && token) {
    token = await session.refresh().catch(() => null)
    if (token) res = await get(token)
  }
  if (!res.ok) throw await errorOf(res)
  return { blob: await res.blob(), filename: filenameFrom(res.headers.get('Content-Disposition'), fallbackName) }
}

/** Saves a blob under `filename` (an object URL, revoked afterwards). */
export function saveBlob({ blob, filename }: FetchedFile): void {
  const href = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = href
  a.download = filename
  a.rel = 'noopener'
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(href), 10_000)
}

/** Opens an HTML blob (a printable report) in a new tab. */
export function openBlob({ blob }: FetchedFile): void {
  const href = URL.createObjectURL(blob)
  window.open(href, '_blank', 'noopener')
  setTimeout(() => URL.revokeObjectURL(href), 60_000)
}

export const opinionsCsvUrl = (topicId: string) => `/api/topics/${encodeURIComponent(topicId)}/opinions.csv`
export const reportUrl = (topicId: string, format: 'csv' | 'html', locale?: string) =>
  `/api/topics/${encodeURIComponent(topicId)}/report.${format}${format === 'html' && locale ? `?locale=${encodeURIComponent(locale)}` : ''}`
