import { describe, expect, it } from 'vitest'
import { chartSeries, columns, countOf, dissentCount, shareOf, sortRows, type ResultRow } from '../lib/results'
import { activeTopics, anyActivity, ratesByChild, stateCount, topicsByChild, totalTopics, type Kpis } from '../lib/dashboard'
import { levelOfCode, levelsBelow, pct } from '../lib/format'

const row = (code: string, name: string, counts: Array<[string, number]>, extra: Partial<ResultRow> = {}): ResultRow => ({
  divisionCode: code,
  folded: false,
  divisions: 1,
  total: counts.reduce((n, [, c]) => n + c, 0),
  eligible: 10,
  counts: counts.map(([stance, count]) => ({ stance: stance as 'SUPPORT', label: stance.toLowerCase(), count })),
  division: { name },
  ...extra,
})

describe('results', () => {
  it('has a column per stance of the kind, or per option in order', () => {
    expect(columns('DECISION', []).map((c) => c.key)).toEqual(['SUPPORT', 'OPPOSE', 'ABSTAIN'])
    expect(columns('APPRAISAL', []).filter((c) => c.dissent).map((c) => c.key)).toEqual(['UNSATISFIED'])
    expect(
      columns('CHOICE', [
        { id: '9', label: '沥青', position: 2 },
        { id: '8', label: '水泥', position: 1 },
      ]).map((c) => [c.key, c.label, c.literal]),
    ).toEqual([
      ['o8', '水泥', true],
      ['o9', '沥青', true],
    ])
  })

  it('counts and shares per column, zero when missing', () => {
    const r = row('620123101201', '过店子村', [['SUPPORT', 3], ['OPPOSE', 1]])
    expect(countOf(r, 'SUPPORT')).toBe(3)
    expect(countOf(r, 'ABSTAIN')).toBe(0)
    expect(shareOf(r, 'OPPOSE')).toBe(0.25)
    expect(shareOf(row('x', 'x', []), 'OPPOSE')).toBeNull()
    expect(dissentCount(r)).toBe(1)
  })

  it('puts the villages whose majority dissents first', () => {
    const a = row('A', 'a', [['SUPPORT', 9]])
    const b = row('B', 'b', [['OPPOSE', 6]])
    const c = row('C', 'c', [['SUPPORT', 2]])
    expect(sortRows([c, a, b], ['B']).map((r) => r.divisionCode)).toEqual(['B', 'A', 'C'])
  })

  it('builds stacked bar series, largest at the top, folded rows named', () => {
    const cols = columns('DECISION', [])
    const s = chartSeries(
      [row('A', '甲村', [['SUPPORT', 1]]), row('B', '乙村', [['SUPPORT', 2], ['OPPOSE', 3]]), row('F', '', [['ABSTAIN', 1]], { folded: true, divisions: 4 })],
      cols,
      (c) => c.key,
      '其他',
    )
    expect(s.categories).toEqual(['其他 (4)', '甲村', '乙村'])
    expect(s.names).toEqual(['SUPPORT', 'OPPOSE', 'ABSTAIN'])
    expect(s.values).toEqual([
      [0, 1, 2],
      [0, 0, 3],
      [1, 0, 0],
    ])
  })
})

const kpis = (code: string, states: Array<[string, number]>, extra: Partial<Kpis> = {}): Kpis => ({
  divisionCode: code,
  topicsByState: states.map(([state, count]) => ({ state: state as 'OPEN', count })),
  responses: 0,
  eligible: 0,
  completedOnTime: 0,
  completedLate: 0,
  overdue: 0,
  dissenters: 0,
  explained: 0,
  satisfied: 0,
  unsatisfied: 0,
  ...extra,
})

describe('dashboard', () => {
  it('sums topics by state', () => {
    const k = kpis('620123101', [['DRAFT', 1], ['OPEN', 2], ['DECIDED', 1], ['COMPLETED', 3]])
    expect(totalTopics(k)).toBe(7)
    expect(activeTopics(k)).toBe(3)
    expect(stateCount(k, 'WITHDRAWN')).toBe(0)
  })

  it('charts only the states that occur, per child', () => {
    const s = topicsByChild([kpis('A', [['OPEN', 2]]), kpis('B', [['OPEN', 1], ['CLOSED', 1]])], (c) => `n${c}`)
    expect(s.categories).toEqual(['nA', 'nB'])
    expect(s.states).toEqual(['OPEN', 'CLOSED'])
    expect(s.values).toEqual([
      [2, 1],
      [0, 1],
    ])
  })

  it('gives rates in percent, null where there is nothing to rate', () => {
    const r = ratesByChild([kpis('A', [], { participation: 0.4567, onTimeRate: null, satisfaction: 1 })])
    expect(r).toEqual({ participation: [45.7], onTime: [null], coverage: [null], satisfaction: [100] })
    expect(anyActivity([kpis('A', [])])).toBe(false)
    expect(anyActivity([kpis('A', [], { responses: 1 })])).toBe(true)
  })
})

describe('format', () => {
  it('formats shares and levels', () => {
    expect(pct(0.4237)).toBe('42.4%')
    expect(pct(null)).toBe('—')
    expect(pct(1, 0)).toBe('100%')
    expect(levelOfCode('62')).toBe('PROVINCE')
    expect(levelOfCode('620123101')).toBe('TOWNSHIP')
    expect(levelsBelow('620123')).toEqual(['COUNTY', 'TOWNSHIP', 'VILLAGE'])
    expect(levelsBelow('620123101')).toEqual(['TOWNSHIP', 'VILLAGE'])
    expect(levelsBelow('620123101201')).toEqual(['VILLAGE'])
    expect(levelsBelow('62')).toEqual(['COUNTY', 'TOWNSHIP', 'VILLAGE'])
  })
})
