import { describe, expect, it } from 'vitest'
import type { TopicAction } from '@/gql/graphql'
import {
  allowed,
  blockedKey,
  flagResolutions,
  hasOpinions,
  headerButtons,
  isDecided,
  offerOf,
  opensAutomatically,
  scheduledMoveDue,
  stepOf,
  type Offer,
} from '../lib/lifecycle'

const ok = (action: TopicAction): Offer => ({ action, allowed: true, blockedCode: null, blockedReason: null })
const no = (action: TopicAction, blockedCode: string, blockedReason = 'server words'): Offer => ({ action, allowed: false, blockedCode, blockedReason })
const actions = (offers: Offer[]) => headerButtons(offers).map((b) => b.action)

describe('header buttons from Topic.viewerActions', () => {
  it('shows exactly the header actions the server offers, in procedure order', () => {
    // The server's order is not the page's: the page sorts; it adds and drops nothing.
    expect(actions([ok('WITHDRAW'), no('ANNOUNCE', 'BAD_USER_INPUT'), ok('EDIT')])).toEqual(['EDIT', 'ANNOUNCE', 'WITHDRAW'])
    expect(actions([ok('WITHDRAW'), no('OPEN', 'OPENS_AT_NOT_REACHED')])).toEqual(['OPEN', 'WITHDRAW'])
    expect(actions([ok('REQUEST_EARLY_CLOSE'), ok('WITHDRAW')])).toEqual(['REQUEST_EARLY_CLOSE', 'WITHDRAW'])
    expect(actions([ok('WITHDRAW'), ok('CLOSE')])).toEqual(['CLOSE', 'WITHDRAW'])
    expect(actions([ok('COUNTERSIGN_EARLY_CLOSE'), ok('FLAG_PROCEDURE')])).toEqual(['COUNTERSIGN_EARLY_CLOSE'])
    expect(actions([ok('PUBLISH_PROGRESS'), ok('EXTEND_DEADLINE'), no('CORRECT_OUTCOME', 'CORRECTION_NEEDS_FLAG'), no('COMPLETE', 'DISSENTERS_NOT_EXPLAINED'), ok('RECORD_IN_PERSON_EXPLANATION')])).toEqual([
      'COMPLETE',
      'EXTEND_DEADLINE',
    ])
  })

  it('offers nothing the server does not (a signed-out or unrelated viewer gets an empty list)', () => {
    expect(headerButtons([])).toEqual([])
  })

  it('never greys out an allowed action, and keeps a blocked one with its code and the server’s reason', () => {
    const [open, withdraw] = headerButtons([no('OPEN', 'OPENS_AT_NOT_REACHED', 'opens at 10:00'), ok('WITHDRAW')])
    expect(open).toMatchObject({ action: 'OPEN', allowed: false, blockedCode: 'OPENS_AT_NOT_REACHED', blockedReason: 'opens at 10:00' })
    expect(withdraw).toMatchObject({ action: 'WITHDRAW', allowed: true, blockedCode: null, blockedReason: null })
    // An allowed offer that carries stale words still shows allowed.
    const [close] = headerButtons([{ action: 'CLOSE', allowed: true, blockedCode: 'X', blockedReason: 'y' }])
    expect(close).toMatchObject({ allowed: true, blockedCode: null })
  })

  it('asks for what each action needs first', () => {
    const by = Object.fromEntries(
      headerButtons(['EDIT', 'ANNOUNCE', 'WITHDRAW', 'REQUEST_EARLY_CLOSE', 'COUNTERSIGN_EARLY_CLOSE', 'PUBLISH_OUTCOME', 'EXTEND_DEADLINE', 'COMPLETE'].map((a) => ok(a as TopicAction))).map((b) => [
        b.action,
        b,
      ]),
    )
    expect(by.EDIT).toMatchObject({ input: 'navigate' })
    expect(by.ANNOUNCE).toMatchObject({ input: 'confirm', type: 'primary' })
    expect(by.WITHDRAW).toMatchObject({ input: 'reason', type: 'danger' })
    expect(by.REQUEST_EARLY_CLOSE).toMatchObject({ input: 'reason' })
    expect(by.COUNTERSIGN_EARLY_CLOSE).toMatchObject({ input: 'countersign' })
    expect(by.PUBLISH_OUTCOME).toMatchObject({ input: 'outcome' })
    expect(by.EXTEND_DEADLINE).toMatchObject({ input: 'extend' })
    expect(by.COMPLETE).toMatchObject({ input: 'confirm' })
  })

  it('finds one offer for the tabs (progress, correction, flags, in-person explanations)', () => {
    const offers = [ok('PUBLISH_PROGRESS'), no('CORRECT_OUTCOME', 'CORRECTION_NEEDS_FLAG')]
    expect(allowed(offers, 'PUBLISH_PROGRESS')).toBe(true)
    expect(allowed(offers, 'CORRECT_OUTCOME')).toBe(false)
    expect(offerOf(offers, 'CORRECT_OUTCOME')?.blockedCode).toBe('CORRECTION_NEEDS_FLAG')
    expect(offerOf(offers, 'FLAG_OUTCOME')).toBeUndefined()
    expect(allowed(offers, 'FLAG_OUTCOME')).toBe(false)
  })
})

describe('why an action is blocked, in words', () => {
  it('uses the procedure’s own message for its codes', () => {
    expect(blockedKey(no('OPEN', 'OPENS_AT_NOT_REACHED'))).toBe('errors.procedure.OPENS_AT_NOT_REACHED')
    expect(blockedKey(no('COMPLETE', 'DISSENTERS_NOT_EXPLAINED'))).toBe('errors.procedure.DISSENTERS_NOT_EXPLAINED')
    expect(blockedKey(no('OPEN', 'ASSESSMENT_REQUIRED'))).toBe('errors.procedure.ASSESSMENT_REQUIRED')
  })

  it('reads a generic code by the action it blocks', () => {
    expect(blockedKey(no('ANNOUNCE', 'BAD_USER_INPUT'))).toBe('admin.lifecycle.blocked.BAD_USER_INPUT_ANNOUNCE')
    expect(blockedKey(no('COUNTERSIGN_EARLY_CLOSE', 'FORBIDDEN'))).toBe('admin.lifecycle.blocked.FORBIDDEN_COUNTERSIGN_EARLY_CLOSE')
    expect(blockedKey(no('FLAG_OUTCOME', 'CONFLICT'))).toBe('admin.lifecycle.blocked.CONFLICT_FLAG_OUTCOME')
  })

  it('has no key for an unknown combination (the server’s message is shown) nor for an allowed action', () => {
    expect(blockedKey(no('EDIT', 'CONFLICT'))).toBeNull()
    expect(blockedKey(no('OPEN', 'SOMETHING_NEW'))).toBeNull()
    expect(blockedKey(ok('OPEN'))).toBeNull()
  })
})

describe('resolving a flag', () => {
  const may = [ok('RESOLVE_FLAG')]
  it('dismisses any unresolved flag; accepts a procedure flag, or an outcome flag once corrected', () => {
    expect(flagResolutions({ subject: 'OUTCOME', status: 'OPEN' }, may)).toEqual({ accept: false, dismiss: true })
    expect(flagResolutions({ subject: 'OUTCOME', status: 'CORRECTED' }, may)).toEqual({ accept: true, dismiss: true })
    expect(flagResolutions({ subject: 'PROCEDURE', status: 'OPEN' }, may)).toEqual({ accept: true, dismiss: true })
    expect(flagResolutions({ subject: 'PROCEDURE', status: 'ACCEPTED' }, may)).toEqual({ accept: false, dismiss: false })
    expect(flagResolutions({ subject: 'OUTCOME', status: 'DISMISSED' }, may)).toEqual({ accept: false, dismiss: false })
  })
  it('offers nothing without the server’s RESOLVE_FLAG', () => {
    expect(flagResolutions({ subject: 'PROCEDURE', status: 'OPEN' }, [])).toEqual({ accept: false, dismiss: false })
    expect(flagResolutions({ subject: 'PROCEDURE', status: 'OPEN' }, [no('RESOLVE_FLAG', 'FORBIDDEN')])).toEqual({ accept: false, dismiss: false })
  })
})

describe('scheduled moves', () => {
  const at = Date.parse('2026-12-02T10:00:00Z')
  it('says an announced topic opens by itself until its opening time', () => {
    expect(opensAutomatically({ state: 'ANNOUNCED', opensAt: '2026-12-02T10:00:05Z' }, at)).toBe(true)
    expect(opensAutomatically({ state: 'ANNOUNCED', opensAt: '2026-12-02T09:59:59Z' }, at)).toBe(false)
    expect(opensAutomatically({ state: 'OPEN', opensAt: '2026-12-02T10:00:05Z' }, at)).toBe(false)
  })
  it('looks again once the opening or closing time has come', () => {
    expect(scheduledMoveDue({ state: 'ANNOUNCED', opensAt: '2026-12-02T10:00:00Z' }, at)).toBe(true)
    expect(scheduledMoveDue({ state: 'ANNOUNCED', opensAt: '2026-12-02T10:00:01Z' }, at)).toBe(false)
    expect(scheduledMoveDue({ state: 'OPEN', closesAt: '2026-12-02T09:00:00Z' }, at)).toBe(true)
    expect(scheduledMoveDue({ state: 'OPEN', closesAt: '2026-12-03T09:00:00Z' }, at)).toBe(false)
    expect(scheduledMoveDue({ state: 'CLOSED', closesAt: '2026-12-02T09:00:00Z' }, at)).toBe(false)
  })
})

describe('states', () => {
  it('maps states to steps and tabs', () => {
    expect(stepOf('DRAFT')).toBe(0)
    expect(stepOf('COMPLETED')).toBe(6)
    expect(stepOf('WITHDRAWN')).toBe(-1)
    expect(isDecided('IMPLEMENTING')).toBe(true)
    expect(isDecided('CLOSED')).toBe(false)
    expect(hasOpinions('ANNOUNCED')).toBe(false)
    expect(hasOpinions('OPEN')).toBe(true)
  })
})
