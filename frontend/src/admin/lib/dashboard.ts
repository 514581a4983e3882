/** Dashboard figures: topics by state, open/active counts, and the chart data per child division. */
import type { TopicState } from '@/gql/graphql'

export interface Kpis {
  divisionCode: string
  topicsByState: ReadonlyArray<{ state: TopicState; count: number }>
  responses: number
  eligible: number
  participation?: number | null
  completedOnTime: number
  completedLate: number
  onTimeRate?: number | null
  overdue: number
  dissenters: number
  explained: number
  explanationCoverage?: number | null
  satisfied: number
  unsatisfied: number
  satisfaction?: number | null
}

export const STATES: readonly TopicState[] = ['DRAFT', 'ANNOUNCED', 'OPEN', 'CLOSED', 'DECIDED', 'IMPLEMENTING', 'COMPLETED', 'WITHDRAWN']

export function stateCount(k: Kpis, state: TopicState): number {
  return k.topicsByState.find((s) => s.state === state)?.count ?? 0
}

export function totalTopics(k: Kpis): number {
  return k.topicsByState.reduce((n, s) => n + s.count, 0)
}

/** Topics under way: announced, open, closed awaiting a decision, decided or implementing. */
export function activeTopics(k: Kpis): number {
  return (['ANNOUNCED', 'OPEN', 'CLOSED', 'DECIDED', 'IMPLEMENTING'] as const).reduce((n, s) => n + stateCount(k, s), 0)
}

/** A stacked bar per child division: topics by state (only states that occur somewhere). */
export function topicsByChild(children: readonly Kpis[], name: (code: string) => string) {
  const states = STATES.filter((s) => children.some((c) => stateCount(c, s) > 0))
  return {
    categories: children.map((c) => name(c.divisionCode)),
    states,
    values: states.map((s) => children.map((c) => stateCount(c, s))),
  }
}

/** Rates per child division in percent (null → no bar). */
export function ratesByChild(children: readonly Kpis[]) {
  const p = (v: number | null | undefined) => (v === null || v === undefined ? null : Math.round(v * 1000) / 10)
  return {
    participation: children.map((c) => p(c.participation)),
    onTime: children.map((c) => p(c.onTimeRate)),
    coverage: children.map((c) => p(c.explanationCoverage)),
    satisfaction: children.map((c) => p(c.satisfaction)),
  }
}

/** Whether any child has anything to show (else an empty state). */
export function anyActivity(children: readonly Kpis[]): boolean {
  return children.some((c) => totalTopics(c) > 0 || c.responses > 0)
}
