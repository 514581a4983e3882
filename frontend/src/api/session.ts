/**
 * The session: the access token lives in memory only; the refresh token is
 * persisted (localStorage, so a resident stays signed in across visits on
 * their own phone — the trade-off against an httpOnly cookie, which the API
 * does not offer). Refreshing is single-flight: however many requests find
 * the access token expired at once, one `refreshToken` mutation runs and all
 * of them wait for it. Refresh tokens rotate and a reused one revokes the
 * whole family, so across tabs the refresh runs under a Web Lock and always
 * takes the freshest token from storage.
 */
import { ApiError } from './errors'

export interface TokenPair {
  accessToken: string
  accessTokenExpiresAt: string
  refreshToken: string
  refreshTokenExpiresAt: string
}

export type RefreshFn = (refreshToken: string) => Promise<TokenPair>

export const REFRESH_KEY = 'yishi.refreshToken'
/** Refresh this long before the access token expires. */
const SKEW_MS = 30_000

export interface SessionOptions {
  storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null
  now?: () => number
  /** Runs `fn` exclusively across tabs (Web Locks when available). */
  lock?: <T>(fn: () => Promise<T>) => Promise<T>
}

function defaultStorage(): SessionOptions['storage'] {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage
  } catch {
    return null
  }
}

function defaultLock<T>(fn: () => Promise<T>): Promise<T> {
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined
  return locks ? (locks.request('yishi-refresh', fn) as unknown as Promise<T>) : fn()
}

export class Session {
  private access: string | null = null
  private accessExpiresAt = 0
  private inflight: Promise<string | null> | null = null
  private readonly listeners = new Set<(signedIn: boolean) => void>()
  private readonly storage: SessionOptions['storage']
  private readonly now: () => number
  private readonly lock: <T>(fn: () => Promise<T>) => Promise<T>
  private refreshFn: RefreshFn | null = null

  constructor(opts: SessionOptions = {}) {
    this.storage = opts.storage === undefined ? defaultStorage() : opts.storage
    this.now = opts.now ?? Date.now
    this.lock = opts.lock ?? defaultLock
  }

  /** The function that trades a refresh token (set once by the client). */
  setRefresher(fn: RefreshFn): void {
    this.refreshFn = fn
  }

  get refreshToken(): string | null {
    return this.storage?.getItem(REFRESH_KEY) ?? null
  }

  /** True when a session may exist (an access token, or a refresh token to get one). */
  get maybeSignedIn(): boolean {
    return this.access !== null || this.refreshToken !== null
  }

  /** The current access token without refreshing (may be expired). */
  get accessToken(): string | null {
    return this.access
  }

  set(pair: TokenPair): void {
    this.access = pair.accessToken
    this.accessExpiresAt = Date.parse(pair.accessTokenExpiresAt) || 0
    this.storage?.setItem(REFRESH_KEY, pair.refreshToken)
    this.emit(true)
  }

  clear(): void {
    const had = this.maybeSignedIn
    this.access = null
    this.accessExpiresAt = 0
    this.storage?.removeItem(REFRESH_KEY)
    if (had) this.emit(false)
  }

  onChange(fn: (signedIn: boolean) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  /** An access token valid for at least a few more seconds, refreshing when needed; null when signed out. */
  async validAccessToken(): Promise<string | null> {
    if (this.access && this.accessExpiresAt - SKEW_MS > this.now()) return this.access
    if (!this.refreshToken) return this.access ? null : null
    return this.refresh()
  }

  /**
   * Trades the refresh token for a new pair. Concurrent callers share one
   * attempt. Resolves to the new access token, or null when the session is
   * gone (refresh token invalid or revoked): then the session is cleared.
   * Network errors reject and keep the session, so a flaky connection does
   * not sign the resident out.
   */
  refresh(): Promise<string | null> {
    if (this.inflight) return this.inflight
    const started = this.access
    this.inflight = this.lock(async () => {
      // Another tab (or an earlier waiter) may have refreshed meanwhile.
      if (this.access && this.access !== started && this.accessExpiresAt - SKEW_MS > this.now()) {
        return this.access
      }
      const token = this.refreshToken
      if (!token || !this.refreshFn) {
        this.clear()
        return null
      }
      try {
        const pair = await this.refreshFn(token)
        this.set(pair)
        return pair.accessToken
      } catch (err) {
        if (err instanceof ApiError && (err.code === 'UNAUTHENTICATED' || err.code === 'BAD_USER_INPUT')) {
          this.clear()
          return null
        }
        throw err
      }
    }).finally(() => {
      this.inflight = null
    })
    return this.inflight
  }

  private emit(signedIn: boolean): void {
    for (const fn of this.listeners) fn(signedIn)
  }
}

/** The one session of this page. */
export const session = new Session()
