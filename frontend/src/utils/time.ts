/** Countdowns and dates, in the user's language. */

export interface CountdownParts {
  days: number
  hours: number
  minutes: number
  seconds: number
}

export function countdownParts(ms: number): CountdownParts {
  const total = Math.max(0, Math.floor(ms / 1000))
  return {
    days: Math.floor(total / 86_400),
    hours: Math.floor((total % 86_400) / 3_600),
    minutes: Math.floor((total % 3_600) / 60),
    seconds: total % 60,
  }
}

type Unit = 'd' | 'h' | 'm' | 's'
const UNITS: Record<string, Record<Unit, string>> = {
  'zh-CN': { d: ' 天', h: ' 小时', m: ' 分', s: ' 秒' },
  en: { d: ' d', h: ' h', m: ' min', s: ' s' },
}

/**
 * "2 天 3 小时", "3 小时 5 分", "5 分 9 秒", "9 秒": the two largest
 * non-zero units, so the text stays short on a phone. Zero or past → "".
 */
export function formatCountdown(ms: number, locale: string): string {
  if (ms <= 0) return ''
  const u = UNITS[locale] ?? UNITS['zh-CN']
  const p = countdownParts(ms)
  const parts: [number, Unit][] = [
    [p.days, 'd'],
    [p.hours, 'h'],
    [p.minutes, 'm'],
    [p.seconds, 's'],
  ]
  const first = parts.findIndex(([n]) => n > 0)
  if (first < 0) return ''
  const sep = locale === 'en' ? ' ' : ' '
  return parts
    .slice(first, first + 2)
    .filter(([n], i) => i === 0 || n > 0)
    .map(([n, unit]) => `${n}${u[unit]}`)
    .join(sep)
}

/** 2026年3月1日 14:00 / Mar 1, 2026, 14:00 */
export function formatDateTime(iso: string | null | undefined, locale: string): string {
  if (!iso) return ''
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return ''
  return new Intl.DateTimeFormat(locale === 'en' ? 'en-GB' : 'zh-CN', {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
  }).format(d)
}

export function formatDate(iso: string | null | undefined, locale: string): string {
  if (!iso) return ''
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return ''
  return new Intl.DateTimeFormat(locale === 'en' ? 'en-GB' : 'zh-CN', {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
  }).format(d)
}

/**
 * A date-time in China time (Asia/Shanghai), whatever the reader's own
 * zone: the public record reads the same for everyone, as a printed notice
 * would ("2026年12月2日 14:00" / "2 Dec 2026, 14:00").
 */
export function formatChinaTime(iso: string | null | undefined, locale: string): string {
  if (!iso) return ''
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return ''
  return new Intl.DateTimeFormat(locale === 'en' ? 'en-GB' : 'zh-CN', {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
    timeZone: 'Asia/Shanghai',
  }).format(d)
}
