/**
 * Form rules checked before sending; the same limits the API enforces, so a
 * resident hears about a mistake at once and in their language. Each rule
 * returns an i18n key (resident.validation.*) or null when the value is fine.
 */
import type { Stance, TopicKind } from '@/gql/graphql'

export type RuleResult = string | null

export function emailRule(v: string): RuleResult {
  const s = v.trim()
  if (!s) return 'resident.validation.emailRequired'
  if (s.length > 254) return 'resident.validation.email'
  // local@domain.tld: the API also wants a dotted domain.
  if (!/^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/.test(s)) return 'resident.validation.email'
  return null
}

export function passwordRule(v: string): RuleResult {
  const n = [...v].length
  if (n === 0) return 'resident.validation.passwordRequired'
  if (n < 8) return 'resident.validation.passwordShort'
  if (n > 128) return 'resident.validation.passwordLong'
  return null
}

export function sameRule(a: string, b: string): RuleResult {
  return a === b ? null : 'resident.validation.passwordMismatch'
}

export function displayNameRule(v: string): RuleResult {
  const n = [...v.trim()].length
  if (n === 0) return 'resident.validation.nameRequired'
  if (n > 64) return 'resident.validation.nameLong'
  return null
}

export function lengthRule(v: string, min: number, max: number): RuleResult {
  const n = [...v.trim()].length
  if (n < min) return 'resident.validation.required'
  if (n > max) return 'resident.validation.tooLong'
  return null
}

export const MAX_REASON = 2000

/** The stances a resident can pick on a topic of this kind (CHOICE: options; OPEN: text only). */
export function stancesFor(kind: TopicKind): Stance[] {
  switch (kind) {
    case 'DECISION':
      return ['SUPPORT', 'OPPOSE', 'ABSTAIN']
    case 'APPRAISAL':
      return ['SATISFIED', 'BASICALLY_SATISFIED', 'UNSATISFIED']
    default:
      return []
  }
}

export function isDissent(stance: Stance | null | undefined): boolean {
  return stance === 'OPPOSE' || stance === 'UNSATISFIED'
}

export interface OpinionDraft {
  stance: Stance | null
  optionId: string | null
  reason: string
}

export interface OpinionTopic {
  kind: TopicKind
  reasonRequiredForDissent: boolean
  options: ReadonlyArray<{ id: string }>
}

/** Problems with an opinion before it is sent, by field. Empty when it can go. */
export function validateOpinion(topic: OpinionTopic, d: OpinionDraft): Partial<Record<'choice' | 'reason', string>> {
  const errors: Partial<Record<'choice' | 'reason', string>> = {}
  const reason = d.reason.trim()
  if (topic.kind === 'CHOICE') {
    if (!d.optionId || !topic.options.some((o) => o.id === d.optionId)) errors.choice = 'resident.validation.chooseOption'
  } else if (topic.kind === 'OPEN') {
    if (!reason) errors.reason = 'resident.validation.suggestionRequired'
  } else if (!d.stance || !stancesFor(topic.kind).includes(d.stance)) {
    errors.choice = 'resident.validation.chooseStance'
  }
  if (!errors.reason && topic.reasonRequiredForDissent && isDissent(d.stance) && !reason) {
    errors.reason = 'resident.validation.reasonRequired'
  }
  if ([...reason].length > MAX_REASON) errors.reason = 'resident.validation.reasonLong'
  return errors
}

/** The variables of submitOpinion for a valid draft. */
export function opinionVariables(topicId: string, topic: OpinionTopic, d: OpinionDraft) {
  const reason = d.reason.trim()
  return {
    topicId,
    stance: topic.kind === 'DECISION' || topic.kind === 'APPRAISAL' ? d.stance : null,
    optionId: topic.kind === 'CHOICE' ? d.optionId : null,
    reason: reason ? reason : null,
  }
}
