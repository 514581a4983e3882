/**
 * The public record of a topic's procedure (`Topic.record`), for reading:
 * its JSON detail picked apart into the few facts a reader wants (dates,
 * versions, the flag's subject and legal basis…), and the acting division's
 * code turned into a name. Shared by the resident page and the admin panel;
 * the words live in each side's messages.
 */

/** Every action the record names today (other codes show as they are). */
export const RECORD_ACTIONS = [
  'announced',
  'opened',
  'closed',
  'early_close_requested',
  'early_close_countersigned',
  'early_close_declined',
  'outcome_published',
  'implementation_started',
  'deadline_extended',
  'flagged',
  'outcome_corrected',
  'flag_accepted',
  'flag_dismissed',
  'explained',
  'explained_in_person',
  'completed',
  'withdrawn',
  'referred',
  'report_submitted',
  'revealed',
] as const

/** Who acts on the record: a role, or the schedule (a time set in advance was reached). */
export const RECORD_ROLES = ['organiser', 'supervisor', 'admin', 'expert', 'schedule'] as const

export type DetailKind = 'date' | 'text' | 'flag' | 'number' | 'yesNo' | 'subject'

/** The detail keys shown, in this order, and how each reads. */
export const DETAIL_KEYS: ReadonlyArray<readonly [string, DetailKind]> = [
  ['opensAt', 'date'],
  ['closesAt', 'date'],
  ['requestedAt', 'date'],
  ['originalDeadline', 'date'],
  ['previousDeadline', 'date'],
  ['newDeadline', 'date'],
  ['deadline', 'date'],
  ['explainedAt', 'date'],
  ['subject', 'subject'],
  ['legalBasis', 'text'],
  ['outcomeVersion', 'number'],
  ['version', 'number'],
  ['correctedVersion', 'number'],
  ['responsibleBody', 'text'],
  ['quorumMet', 'yesNo'],
  ['onTime', 'yesNo'],
  ['note', 'text'],
]

export interface DetailItem {
  key: string
  kind: DetailKind
  value: string
}

/**
 * The facts of an entry's detail worth showing, in a fixed order; unknown
 * keys, internal ids and empty values are left out. A detail that is not
 * JSON yields nothing (the entry still shows its action and reason).
 */
export function recordDetails(detail: string | null | undefined): DetailItem[] {
  if (!detail) return []
  let parsed: unknown
  try {
    parsed = JSON.parse(detail)
  } catch {
    return []
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return []
  const obj = parsed as Record<string, unknown>
  const items: DetailItem[] = []
  for (const [key, kind] of DETAIL_KEYS) {
    const v = obj[key]
    if (v === null || v === undefined || v === '') continue
    if (kind === 'date') {
      if (typeof v === 'string' && !Number.isNaN(Date.parse(v))) items.push({ key, kind, value: v })
    } else if (kind === 'yesNo') {
      if (typeof v === 'boolean') items.push({ key, kind, value: v ? 'yes' : 'no' })
    } else if (kind === 'number') {
      if (typeof v === 'number' && v > 0) items.push({ key, kind, value: String(v) })
    } else if (kind === 'subject') {
      if (v === 'outcome' || v === 'procedure') items.push({ key, kind, value: v.toUpperCase() })
    } else if (typeof v === 'string' || typeof v === 'number') {
      items.push({ key, kind, value: String(v) })
    }
  }
  return items
}

export interface NamedDivision {
  code: string
  fullCode?: string | null
  name: string
}

/**
 * `code → name` from the divisions a page already has (a topic's scope and
 * its ancestors: whoever acts on a topic holds a role in its scope or a
 * division above it), matched by short or 12-digit code; the code itself
 * when none matches.
 */
export function divisionNamer(divisions: readonly NamedDivision[]): (code: string | null | undefined) => string {
  const names = new Map<string, string>()
  for (const d of divisions) {
    names.set(d.code, d.name)
    if (d.fullCode) names.set(d.fullCode, d.name)
  }
  return (code) => (code ? (names.get(code) ?? code) : '')
}
