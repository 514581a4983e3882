/**
 * The topic form: its empty state, loading from a topic, checking before
 * sending (messages are i18n keys under admin.validation) and turning it
 * into the API's TopicInput.
 */
import type { TopicCategory, TopicEligibility, TopicInput, TopicKind } from '@/gql/graphql'

export interface TopicForm {
  title: string
  body: string
  category: TopicCategory | ''
  kind: TopicKind
  scopeCode: string
  technical: boolean
  reasonRequiredForDissent: boolean
  secret: boolean
  /** Empty string: no quorum. */
  quorumPercent: number | null
  eligibility: TopicEligibility
  /** User IDs, comma or space separated (STAKEHOLDERS only). */
  stakeholders: string
  options: string[]
  noticeAt: Date | null
  opensAt: Date | null
  closesAt: Date | null
}

export type TopicFormErrors = Partial<Record<keyof TopicForm | `options.${number}`, string>>

export const TITLE_MAX = 200
export const BODY_MAX = 5000
export const OPTION_MAX = 20
export const OPTION_LABEL_MAX = 200

export function emptyTopicForm(scopeCode = ''): TopicForm {
  return {
    title: '',
    body: '',
    category: '',
    kind: 'DECISION',
    scopeCode,
    technical: false,
    reasonRequiredForDissent: false,
    secret: false,
    quorumPercent: null,
    eligibility: 'RESIDENTS',
    stakeholders: '',
    options: ['', ''],
    noticeAt: null,
    opensAt: null,
    closesAt: null,
  }
}

export interface TopicLike {
  title: string
  body: string
  category: TopicCategory
  kind: TopicKind
  scopeCode: string
  technical: boolean
  reasonRequiredForDissent: boolean
  secret: boolean
  quorumPercent?: number | null
  eligibility: TopicEligibility
  options: ReadonlyArray<{ label: string; position: number }>
  noticeAt?: string | null
  opensAt?: string | null
  closesAt?: string | null
}

const date = (s: string | null | undefined): Date | null => (s ? new Date(s) : null)

export function formFromTopic(t: TopicLike): TopicForm {
  const options = [...t.options].sort((a, b) => a.position - b.position).map((o) => o.label)
  return {
    title: t.title,
    body: t.body,
    category: t.category,
    kind: t.kind,
    scopeCode: t.scopeCode,
    technical: t.technical,
    reasonRequiredForDissent: t.reasonRequiredForDissent,
    secret: t.secret,
    quorumPercent: t.quorumPercent ?? null,
    eligibility: t.eligibility,
    stakeholders: '',
    options: options.length ? options : ['', ''],
    noticeAt: date(t.noticeAt),
    opensAt: date(t.opensAt),
    closesAt: date(t.closesAt),
  }
}

export function stakeholderIds(s: string): string[] {
  return s
    .split(/[\s,，;；]+/)
    .map((x) => x.trim())
    .filter(Boolean)
}

/** Checks the form; returns field → i18n key (empty when valid). `now` for tests. */
export function validateTopicForm(f: TopicForm, now: Date = new Date()): TopicFormErrors {
  const e: TopicFormErrors = {}
  const title = f.title.trim()
  if (!title) e.title = 'admin.validation.required'
  else if ([...title].length > TITLE_MAX) e.title = 'admin.validation.titleTooLong'
  const body = f.body.trim()
  if (!body) e.body = 'admin.validation.required'
  else if ([...body].length > BODY_MAX) e.body = 'admin.validation.bodyTooLong'
  if (!f.category) e.category = 'admin.validation.required'
  if (!f.scopeCode) e.scopeCode = 'admin.validation.required'
  else if (![6, 9, 12].includes(f.scopeCode.length)) e.scopeCode = 'admin.validation.scopeLevel'
  if (f.quorumPercent !== null && (!Number.isInteger(f.quorumPercent) || f.quorumPercent < 1 || f.quorumPercent > 100)) {
    e.quorumPercent = 'admin.validation.quorum'
  }
  if (f.eligibility === 'STAKEHOLDERS') {
    const ids = stakeholderIds(f.stakeholders)
    if (ids.length === 0) e.stakeholders = 'admin.validation.stakeholders'
    else if (ids.some((id) => !/^\d+$/.test(id))) e.stakeholders = 'admin.validation.stakeholderIds'
  }
  if (f.kind === 'CHOICE') {
    const labels = f.options.map((o) => o.trim())
    const filled = labels.filter(Boolean)
    if (filled.length < 2 || labels.length > OPTION_MAX) e.options = 'admin.validation.optionCount'
    labels.forEach((l, i) => {
      if (!l) e[`options.${i}`] = 'admin.validation.required'
      else if ([...l].length > OPTION_LABEL_MAX) e[`options.${i}`] = 'admin.validation.titleTooLong'
      else if (labels.indexOf(l) !== i) e[`options.${i}`] = 'admin.validation.optionDuplicate'
    })
  }
  if (f.opensAt && f.closesAt && f.closesAt.getTime() <= f.opensAt.getTime()) e.closesAt = 'admin.validation.closesAfterOpens'
  if (f.closesAt && !f.opensAt && f.closesAt.getTime() <= now.getTime()) e.closesAt = 'admin.validation.inFuture'
  if (f.noticeAt && f.opensAt && f.noticeAt.getTime() > f.opensAt.getTime()) e.noticeAt = 'admin.validation.noticeBeforeOpens'
  return e
}

export function hasErrors(e: TopicFormErrors): boolean {
  return Object.keys(e).length > 0
}

export function topicInput(f: TopicForm): TopicInput {
  const input: TopicInput = {
    title: f.title.trim(),
    body: f.body.trim(),
    category: f.category as TopicCategory,
    kind: f.kind,
    scopeCode: f.scopeCode,
    technical: f.technical,
    reasonRequiredForDissent: f.reasonRequiredForDissent,
    secret: f.secret,
    quorumPercent: f.quorumPercent ?? null,
    eligibility: f.eligibility,
    noticeAt: f.noticeAt?.toISOString() ?? null,
    opensAt: f.opensAt?.toISOString() ?? null,
    closesAt: f.closesAt?.toISOString() ?? null,
  }
  if (f.kind === 'CHOICE') input.options = f.options.map((o) => o.trim())
  if (f.eligibility === 'STAKEHOLDERS') input.stakeholderUserIds = stakeholderIds(f.stakeholders)
  return input
}
