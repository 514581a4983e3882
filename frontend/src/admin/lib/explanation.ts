/** The explanation composer: audience → API input, and checks before sending. */
import type { ExplanationAudienceInput, ExplanationAudienceKind } from '@/gql/graphql'

export interface AudienceForm {
  kind: ExplanationAudienceKind
  divisionCode: string
  opinionIds: string[]
}

export const EXPLANATION_MAX = 20000

/** The API input, or null when the audience is incomplete (no preview then). */
export function audienceInput(a: AudienceForm): ExplanationAudienceInput | null {
  switch (a.kind) {
    case 'ALL_DISSENTERS':
    case 'UNSATISFIED':
      return { kind: a.kind }
    case 'DIVISION':
      return a.divisionCode ? { kind: 'DIVISION', divisionCode: a.divisionCode } : null
    case 'OPINIONS':
      return a.opinionIds.length ? { kind: 'OPINIONS', opinionIds: [...a.opinionIds] } : null
    default:
      return null
  }
}

/** i18n keys of what is wrong (empty when it can be sent). */
export function validateExplanation(a: AudienceForm, body: string, recipients: number | null): Record<string, string> {
  const e: Record<string, string> = {}
  if (a.kind === 'DIVISION' && !a.divisionCode) e.audience = 'admin.validation.chooseDivision'
  if (a.kind === 'OPINIONS' && a.opinionIds.length === 0) e.audience = 'admin.validation.chooseOpinions'
  if (!e.audience && recipients === 0) e.audience = 'admin.validation.noRecipients'
  const text = body.trim()
  if (!text) e.body = 'admin.validation.required'
  else if ([...text].length > EXPLANATION_MAX) e.body = 'admin.validation.bodyTooLong'
  return e
}
