import { describe, expect, it } from 'vitest'
import type { TopicState } from '@/gql/graphql'
import { actionInto, hasOpinions, isDecided, lifecycleActions, stepOf } from '../lib/lifecycle'

// The backend's State::next() (domain/topics/model.rs), as the API reports it in Topic.nextStates.
const NEXT: Record<TopicState, TopicState[]> = {
  DRAFT: ['ANNOUNCED', 'WITHDRAWN'],
  ANNOUNCED: ['OPEN', 'WITHDRAWN'],
  OPEN: ['CLOSED', 'WITHDRAWN'],
  CLOSED: ['DECIDED', 'WITHDRAWN'],
  DECIDED: ['IMPLEMENTING'],
  IMPLEMENTING: ['COMPLETED'],
  COMPLETED: [],
  WITHDRAWN: [],
}
const TIMES = { opensAt: '2026-05-02T00:00:00Z', closesAt: '2026-05-09T00:00:00Z' }
const actions = (state: TopicState, canManage = true, extra = {}) =>
  lifecycleActions({ state, nextStates: NEXT[state], ...TIMES, ...extra }, canManage).map((b) => b.action)

describe('lifecycle actions', () => {
  it('offers exactly the moves the API allows from each state', () => {
    expect(actions('DRAFT')).toEqual(['edit', 'announce', 'withdraw'])
    expect(actions('ANNOUNCED')).toEqual(['open', 'withdraw'])
    expect(actions('OPEN')).toEqual(['close', 'withdraw'])
    expect(actions('CLOSED')).toEqual(['decide', 'withdraw'])
    expect(actions('DECIDED')).toEqual(['startImplementation'])
    expect(actions('IMPLEMENTING')).toEqual(['complete'])
    expect(actions('COMPLETED')).toEqual([])
    expect(actions('WITHDRAWN')).toEqual([])
  })

  it('follows nextStates rather than a table of its own', () => {
    expect(lifecycleActions({ state: 'OPEN', nextStates: ['CLOSED'] }, true).map((b) => b.action)).toEqual(['close'])
  })

  it('offers nothing to someone who may not manage the topic', () => {
    for (const s of Object.keys(NEXT) as TopicState[]) expect(actions(s, false)).toEqual([])
  })

  it('asks for a reason to withdraw, an outcome to decide, a confirmation otherwise', () => {
    const by = Object.fromEntries(
      lifecycleActions({ state: 'CLOSED', nextStates: NEXT.CLOSED }, true).map((b) => [b.action, b]),
    )
    expect(by.withdraw).toMatchObject({ input: 'reason', type: 'danger' })
    expect(by.decide).toMatchObject({ input: 'outcome', type: 'primary' })
    expect(lifecycleActions({ state: 'OPEN', nextStates: NEXT.OPEN }, true)[0]).toMatchObject({ action: 'close', input: 'confirm' })
  })

  it('blocks opening a technical topic until an assessment is published', () => {
    const [open] = lifecycleActions({ state: 'ANNOUNCED', nextStates: NEXT.ANNOUNCED, technical: true, assessments: [] }, true)
    expect(open.blocked).toBe('needsAssessment')
    const [ok] = lifecycleActions({ state: 'ANNOUNCED', nextStates: NEXT.ANNOUNCED, technical: true, assessments: [{}] }, true)
    expect(ok.blocked).toBeUndefined()
  })

  it('blocks announcing until the opening and closing times are set', () => {
    const draft = (opensAt: string | null, closesAt: string | null) =>
      lifecycleActions({ state: 'DRAFT', nextStates: NEXT.DRAFT, opensAt, closesAt }, true).find((b) => b.action === 'announce')
    expect(draft(null, null)?.blocked).toBe('needsTimes')
    expect(draft('2026-05-02T00:00:00Z', null)?.blocked).toBe('needsTimes')
    expect(draft('2026-05-02T00:00:00Z', '2026-05-09T00:00:00Z')?.blocked).toBeUndefined()
  })

  it('maps states to actions and steps', () => {
    expect(actionInto('DRAFT')).toBeNull()
    expect(actionInto('DECIDED')).toBe('decide')
    expect(stepOf('DRAFT')).toBe(0)
    expect(stepOf('COMPLETED')).toBe(6)
    expect(stepOf('WITHDRAWN')).toBe(-1)
    expect(isDecided('IMPLEMENTING')).toBe(true)
    expect(isDecided('CLOSED')).toBe(false)
    expect(hasOpinions('ANNOUNCED')).toBe(false)
    expect(hasOpinions('OPEN')).toBe(true)
  })
})
