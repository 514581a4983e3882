/**
 * The audit log's display logic: action codes (`topic.announce`) as words
 * in the user's language with the raw code as the fallback, subject types,
 * and the JSON detail as a one-line summary and an indented block.
 */

/** Every action the backend records today (the filter's choices; other codes still show raw). */
export const AUDIT_ACTIONS = [
  'topic.create',
  'topic.update',
  'topic.announce',
  'topic.open',
  'topic.close',
  'topic.withdraw',
  'topic.decide',
  'topic.implement',
  'topic.complete',
  'topic.draft',
  'topic.progress',
  'topic.assessment',
  'topic.meeting',
  'topic.early_close_request',
  'topic.early_close_decline',
  'topic.extend_deadline',
  'opinion.proxy',
  'outcome.flag',
  'outcome.correct',
  'outcome.flag_accept',
  'outcome.flag_dismiss',
  'explanation.publish',
  'explanation.in_person',
  'suggestion.adopt',
  'suggestion.decline',
  'residency.approve',
  'residency.reject',
  'role.assign',
  'role.bootstrap',
  'role.revoke',
  'outbox.retry',
] as const

export const AUDIT_SUBJECT_TYPES = ['topic', 'suggestion', 'residency', 'user', 'outbox'] as const

/** `(key) => message`, or undefined when the key has no message. */
export type Lookup = (key: string) => string | undefined

const CODE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/

function label(prefix: string, code: string, lookup: Lookup): string {
  if (!CODE.test(code)) return code
  const text = lookup(`${prefix}.${code}`)
  return typeof text === 'string' && text !== '' ? text : code
}

/** `topic.announce` → "发布预告" / "Announced"; an unknown code as it is. */
export function actionLabel(action: string, lookup: Lookup): string {
  // Backticks: a prefix, not a message key (the messages test collects quoted keys).
  return label(`admin.audit.actions`, action, lookup)
}

/** `topic` → "议题" / "Topic"; an unknown type as it is. */
export function subjectTypeLabel(subjectType: string, lookup: Lookup): string {
  return label(`admin.audit.subjects`, subjectType, lookup)
}

/** The detail parsed, or the text itself when it is not JSON. */
export function parseDetail(detail: string): unknown {
  try {
    return JSON.parse(detail)
  } catch {
    return detail
  }
}

function isEmpty(v: unknown): boolean {
  return v === null || v === undefined || v === '' || (typeof v === 'object' && Object.keys(v as object).length === 0)
}

/** True when the detail says nothing (empty, `null`, `{}`, `[]`). */
export function detailIsEmpty(detail: string): boolean {
  return detail.trim() === '' || isEmpty(parseDetail(detail))
}

/** The detail indented for reading (non-JSON text as it is). */
export function formatDetail(detail: string): string {
  const v = parseDetail(detail)
  return typeof v === 'string' ? v : JSON.stringify(v, null, 2)
}

function short(v: unknown): string {
  if (typeof v === 'string') return v
  if (v === null || typeof v !== 'object') return String(v)
  return JSON.stringify(v)
}

/** One line, at most `max` characters: `key: value · key: value…` (empty fields left out). */
export function detailSummary(detail: string, max = 80): string {
  const v = parseDetail(detail)
  let text: string
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    text = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => !isEmpty(x))
      .map(([k, x]) => `${k}: ${short(x)}`)
      .join(' · ')
  } else {
    text = isEmpty(v) ? '' : short(v)
  }
  text = text.replace(/\s+/g, ' ').trim()
  const chars = [...text]
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : text
}

const SUBJECT_OF: Record<string, (typeof AUDIT_SUBJECT_TYPES)[number]> = {
  topic: 'topic',
  opinion: 'topic',
  outcome: 'topic',
  explanation: 'topic',
  suggestion: 'suggestion',
  residency: 'residency',
  role: 'user',
  outbox: 'outbox',
}

/** The actions recorded on a subject type (all of them for '' ). */
export function actionsFor(subjectType: string): string[] {
  return AUDIT_ACTIONS.filter((a) => !subjectType || SUBJECT_OF[a.split('.')[0]] === subjectType)
}
