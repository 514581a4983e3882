/**
 * Helpers of the notice board (公开栏): dates in China time whatever the
 * reader's clock says (the board is printed and posted where everyone reads
 * the same times), the on-time rate as a percentage, and the overdue items
 * grouped by kind in the board's order.
 */
import type { OverdueKind } from '@/gql/graphql'

/** The board's time zone: China Standard Time (UTC+8, no daylight saving). */
export const CHINA_TIME_ZONE = 'Asia/Shanghai'

function parse(iso: string | null | undefined): Date | null {
  if (!iso) return null
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? null : d
}

function formatter(locale: string, withTime: boolean): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat(locale === 'en' ? 'en-GB' : 'zh-CN', {
    timeZone: CHINA_TIME_ZONE,
    year: 'numeric',
    month: 'long',
    day: 'numeric',
    ...(withTime ? { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' } : {}),
  })
}

/** 2026年12月2日 18:05 / 2 December 2026 at 18:05, in China time; '' when absent. */
export function chinaDateTime(iso: string | null | undefined, locale: string): string {
  const d = parse(iso)
  return d ? formatter(locale, true).format(d) : ''
}

/** 2026年12月2日 / 2 December 2026, in China time; '' when absent. */
export function chinaDate(iso: string | null | undefined, locale: string): string {
  const d = parse(iso)
  return d ? formatter(locale, false).format(d) : ''
}

/** 0.875 → "88%", 1 → "100%", 0.9949 → "99%"; null when nothing is completed. */
export function ratePercent(rate: number | null | undefined): string | null {
  if (rate === null || rate === undefined || Number.isNaN(rate)) return null
  const clamped = Math.min(1, Math.max(0, rate))
  // Never round up to 100% while something was late.
  const pct = clamped < 1 ? Math.min(99, Math.round(clamped * 100)) : 100
  return `${pct}%`
}

/** The overdue kinds in the board's order (as the API sorts them). */
export const OVERDUE_KINDS: readonly OverdueKind[] = ['DECISION', 'IMPLEMENTATION', 'EXPLANATION', 'REPORT']

/** Items grouped by kind, in [`OVERDUE_KINDS`] order, empty groups left out. */
export function groupOverdue<T extends { kind: OverdueKind }>(items: readonly T[]): Array<{ kind: OverdueKind; items: T[] }> {
  return OVERDUE_KINDS.map((kind) => ({ kind, items: items.filter((i) => i.kind === kind) })).filter((g) => g.items.length > 0)
}

/** Whether the deadline was moved: the original and the current differ. */
export function deadlineMoved(t: { deadline?: string | null; originalDeadline?: string | null }): boolean {
  if (!t.deadline || !t.originalDeadline) return false
  return Date.parse(t.deadline) !== Date.parse(t.originalDeadline)
}
