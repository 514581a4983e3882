/** The procedure's timeline as steps, and which results to show. */
import type { DivisionLevel, TopicState } from '@/gql/graphql'

export type StepKey = 'announced' | 'opened' | 'closed' | 'decided' | 'implementing' | 'completed'

export interface TimelineTopic {
  state: TopicState
  noticeAt?: string | null
  announcedAt?: string | null
  opensAt?: string | null
  openedAt?: string | null
  closesAt?: string | null
  closedAt?: string | null
  completedAt?: string | null
  deadline?: string | null
  outcome?: { publishedAt: string } | null
}

export interface Step {
  key: StepKey
  /** When it happened, or when it is planned. */
  at: string | null
  planned: boolean
}

const ORDER: TopicState[] = ['ANNOUNCED', 'OPEN', 'CLOSED', 'DECIDED', 'IMPLEMENTING', 'COMPLETED']

export function timelineSteps(t: TimelineTopic): { steps: Step[]; active: number } {
  const step = (key: StepKey, done: string | null | undefined, plan: string | null | undefined): Step => ({
    key,
    at: done ?? plan ?? null,
    planned: !done && !!plan,
  })
  const steps: Step[] = [
    step('announced', t.announcedAt, t.noticeAt),
    step('opened', t.openedAt, t.opensAt),
    step('closed', t.closedAt, t.closesAt),
    step('decided', t.outcome?.publishedAt, null),
    step('implementing', null, t.deadline),
    step('completed', t.completedAt, null),
  ]
  // Withdrawn or draft: nothing active beyond what happened.
  const active = ORDER.indexOf(t.state)
  return { steps, active: Math.max(active, 0) }
}

export const RESULT_STATES: TopicState[] = ['CLOSED', 'DECIDED', 'IMPLEMENTING', 'COMPLETED']

/** Results by the level below the scope (a village's own row for a village topic). */
export function resultLevel(scope: DivisionLevel): DivisionLevel {
  switch (scope) {
    case 'PROVINCE':
      return 'CITY'
    case 'CITY':
      return 'COUNTY'
    case 'COUNTY':
      return 'TOWNSHIP'
    default:
      return 'VILLAGE'
  }
}
