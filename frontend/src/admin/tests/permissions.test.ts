import { describe, expect, it } from 'vitest'
import { allows, may, mayAnywhere, workDivisions } from '../lib/permissions'

describe('permissions (as domain/authz.rs)', () => {
  it('gives each role its actions', () => {
    expect(allows('ADMIN', 'administer')).toBe(true)
    expect(allows('ORGANISER', 'manageTopics')).toBe(true)
    expect(allows('ORGANISER', 'assignRoles')).toBe(false)
    expect(allows('SUPERVISOR', 'supervise')).toBe(true)
    expect(allows('SUPERVISOR', 'manageTopics')).toBe(false)
    expect(allows('EXPERT', 'assess')).toBe(true)
    expect(allows('EXPERT', 'readOpinions')).toBe(false)
  })

  it('acts only inside the division subtree, by code prefix', () => {
    const township = [{ role: 'ORGANISER' as const, divisionCode: '620123101' }]
    expect(may(township, 'manageTopics', '620123101')).toBe(true)
    expect(may(township, 'manageTopics', '620123101201')).toBe(true)
    expect(may(township, 'manageTopics', '620123')).toBe(false)
    expect(may(township, 'manageTopics', '620123102001')).toBe(false)
    expect(mayAnywhere(township, 'reviewResidency')).toBe(true)
    expect(mayAnywhere(township, 'administer')).toBe(false)
  })

  it('lists the widest divisions one works in', () => {
    expect(
      workDivisions([
        { role: 'SUPERVISOR', divisionCode: '620123101' },
        { role: 'ORGANISER', divisionCode: '620123' },
        { role: 'EXPERT', divisionCode: '6201' },
        { role: 'ORGANISER', divisionCode: '620123' },
      ]),
    ).toEqual(['6201'])
    expect(workDivisions([{ role: 'ORGANISER', divisionCode: '620123' }, { role: 'ORGANISER', divisionCode: '620124' }])).toEqual(['620123', '620124'])
    expect(workDivisions([])).toEqual([])
  })
})
