import { describe, expect, it } from 'vitest'
import { chinaDate, chinaDateTime, deadlineMoved, groupOverdue, ratePercent } from '@/pages/board/format'

describe('chinaDateTime', () => {
  it('shows China time whatever the clock of the reader', () => {
    // 16:05 UTC is five past midnight the next day in Beijing.
    expect(chinaDateTime('2026-12-02T16:05:00Z', 'zh-CN')).toBe('2026年12月3日 00:05')
    expect(chinaDate('2026-12-02T16:05:00Z', 'zh-CN')).toBe('2026年12月3日')
    expect(chinaDate('2026-12-02T15:59:00Z', 'en')).toBe('2 December 2026')
  })

  it('is empty for a missing or broken time', () => {
    expect(chinaDateTime(null, 'zh-CN')).toBe('')
    expect(chinaDate('not a date', 'zh-CN')).toBe('')
  })
})

describe('ratePercent', () => {
  it('shows a whole percentage', () => {
    expect(ratePercent(0.875)).toBe('88%')
    expect(ratePercent(1)).toBe('100%')
    expect(ratePercent(0)).toBe('0%')
  })

  it('never rounds a late completion up to 100%', () => {
    expect(ratePercent(0.998)).toBe('99%')
  })

  it('is null when nothing is completed', () => {
    expect(ratePercent(null)).toBeNull()
    expect(ratePercent(undefined)).toBeNull()
  })
})

describe('groupOverdue', () => {
  it('groups by kind in the board order and leaves out empty kinds', () => {
    const items = [
      { kind: 'REPORT' as const, id: 1 },
      { kind: 'DECISION' as const, id: 2 },
      { kind: 'REPORT' as const, id: 3 },
    ]
    expect(groupOverdue(items).map((g) => [g.kind, g.items.map((i) => i.id)])).toEqual([
      ['DECISION', [2]],
      ['REPORT', [1, 3]],
    ])
  })
})

describe('deadlineMoved', () => {
  it('compares instants, not strings', () => {
    expect(deadlineMoved({ deadline: '2026-12-31T16:00:00Z', originalDeadline: '2027-01-01T00:00:00+08:00' })).toBe(false)
    expect(deadlineMoved({ deadline: '2027-01-31T16:00:00Z', originalDeadline: '2026-12-31T16:00:00Z' })).toBe(true)
    expect(deadlineMoved({ deadline: '2027-01-31T16:00:00Z', originalDeadline: null })).toBe(false)
  })
})
