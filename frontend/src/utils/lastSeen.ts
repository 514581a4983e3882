/**
 * What a page showed last time, kept in localStorage so the next visit can
 * show it at once (marked as not yet refreshed) while the session refreshes
 * and the page asks the server again — on a slow phone that is seconds of
 * content instead of a spinner. Only lists that are fine to show again
 * before the server answers belong here; everything is dropped on sign-out
 * (`forgetAll`, called by the auth store).
 */
const PREFIX = 'yishi.seen.'

export interface Seen<T> {
  /** What the entry was asked for (e.g. the variables of the query). */
  for: unknown
  value: T
  savedAt: number
}

export function recall<T>(key: string): Seen<T> | null {
  try {
    const raw = localStorage.getItem(PREFIX + key)
    return raw ? (JSON.parse(raw) as Seen<T>) : null
  } catch {
    return null
  }
}

export function remember<T>(key: string, forWhat: unknown, value: T): void {
  try {
    localStorage.setItem(PREFIX + key, JSON.stringify({ for: forWhat, value, savedAt: Date.now() } satisfies Seen<T>))
  } catch {
    /* no storage, or full: the next visit just waits for the server */
  }
}

export function forgetAll(): void {
  try {
    for (let i = localStorage.length - 1; i >= 0; i--) {
      const key = localStorage.key(i)
      if (key?.startsWith(PREFIX)) localStorage.removeItem(key)
    }
  } catch {
    /* no storage */
  }
}
