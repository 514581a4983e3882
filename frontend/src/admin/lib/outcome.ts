/** The outcome form (deciding a topic, or correcting its outcome): checks and API input. */
import type { OutcomeInput, Stance, TopicKind } from '@/gql/graphql'

export interface OutcomeForm {
  decision: string
  adoptedStance: Stance | ''
  adoptedOptionId: string
  responsibleBody: string
  deadline: Date | null
  entrustedBy: string
  changeReason: string
  /** Why the outcome stands although participation stayed below the quorum. */
  quorumJustification: string
}

export function emptyOutcomeForm(): OutcomeForm {
  return { decision: '', adoptedStance: '', adoptedOptionId: '', responsibleBody: '', deadline: null, entrustedBy: '', changeReason: '', quorumJustification: '' }
}

export interface OutcomeLike {
  decision: string
  adoptedStance?: Stance | null
  adoptedOptionId?: string | null
  responsibleBody: string
  deadline: string
  entrustedBy?: string | null
}

/**
 * The form for a correction: the current outcome's fields, and the
 * deadline as it stands now (`Topic.deadline`, after any extension) — a
 * correction keeps the deadline; only an extension moves it.
 */
export function correctionFormFrom(o: OutcomeLike, currentDeadline: string | null | undefined, quorumJustification?: string | null): OutcomeForm {
  return { ...outcomeFormFrom(o), deadline: new Date(currentDeadline ?? o.deadline), quorumJustification: quorumJustification ?? '' }
}

export function outcomeFormFrom(o: OutcomeLike): OutcomeForm {
  return {
    decision: o.decision,
    adoptedStance: o.adoptedStance ?? '',
    adoptedOptionId: o.adoptedOptionId ?? '',
    responsibleBody: o.responsibleBody,
    deadline: new Date(o.deadline),
    entrustedBy: o.entrustedBy ?? '',
    changeReason: '',
    quorumJustification: '',
  }
}

/**
 * field → i18n key. `correction` also needs the reason for the change;
 * `justificationRequired` (the server answered QUORUM_JUSTIFICATION_REQUIRED)
 * the quorum justification.
 */
export function validateOutcome(
  f: OutcomeForm,
  kind: TopicKind,
  correction: boolean,
  now: Date = new Date(),
  justificationRequired = false,
): Record<string, string> {
  const e: Record<string, string> = {}
  if (!f.decision.trim()) e.decision = 'admin.validation.required'
  else if ([...f.decision.trim()].length > 5000) e.decision = 'admin.validation.bodyTooLong'
  if (!f.responsibleBody.trim()) e.responsibleBody = 'admin.validation.required'
  if (!f.deadline) e.deadline = 'admin.validation.required'
  else if (!correction && f.deadline.getTime() <= now.getTime()) e.deadline = 'admin.validation.inFuture'
  if ((kind === 'DECISION' || kind === 'APPRAISAL') && !f.adoptedStance) e.adoptedStance = 'admin.validation.required'
  if (kind === 'CHOICE' && !f.adoptedOptionId) e.adoptedOptionId = 'admin.validation.required'
  if (correction && !f.changeReason.trim()) e.changeReason = 'admin.validation.required'
  const why = f.quorumJustification.trim()
  if (justificationRequired && !why) e.quorumJustification = 'admin.validation.required'
  else if ([...why].length > 2000) e.quorumJustification = 'admin.validation.reasonTooLong'
  return e
}

export function outcomeInput(f: OutcomeForm, kind: TopicKind): OutcomeInput {
  return {
    decision: f.decision.trim(),
    adoptedStance: kind === 'DECISION' || kind === 'APPRAISAL' ? (f.adoptedStance || null) : null,
    adoptedOptionId: kind === 'CHOICE' ? f.adoptedOptionId || null : null,
    responsibleBody: f.responsibleBody.trim(),
    deadline: (f.deadline as Date).toISOString(),
    entrustedBy: f.entrustedBy.trim() || null,
    quorumJustification: f.quorumJustification.trim() || null,
  }
}
