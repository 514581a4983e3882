import { describe, expect, it } from 'vitest'
import { countdownParts, formatCountdown, formatDateTime } from '@/utils/time'

const S = 1000
const M = 60 * S
const H = 60 * M
const D = 24 * H

describe('formatCountdown', () => {
  it('shows the two largest units', () => {
    expect(formatCountdown(2 * D + 3 * H + 5 * M, 'zh-CN')).toBe('2 天 3 小时')
    expect(formatCountdown(3 * H + 5 * M + 9 * S, 'zh-CN')).toBe('3 小时 5 分')
    expect(formatCountdown(5 * M + 9 * S, 'en')).toBe('5 min 9 s')
    expect(formatCountdown(9 * S + 400, 'en')).toBe('9 s')
  })

  it('drops a zero second unit rather than showing "0"', () => {
    expect(formatCountdown(2 * D + 30 * M, 'zh-CN')).toBe('2 天')
    expect(formatCountdown(1 * H, 'en')).toBe('1 h')
  })

  it('is empty when the time has come', () => {
    expect(formatCountdown(0, 'zh-CN')).toBe('')
    expect(formatCountdown(-5 * M, 'zh-CN')).toBe('')
    expect(formatCountdown(999, 'zh-CN')).toBe('')
  })

  it('falls back to Chinese for an unknown locale', () => {
    expect(formatCountdown(D, 'fr')).toBe('1 天')
  })
})

describe('countdownParts', () => {
  it('splits milliseconds', () => {
    expect(countdownParts(D + 2 * H + 3 * M + 4 * S + 999)).toEqual({ days: 1, hours: 2, minutes: 3, seconds: 4 })
  })
})

describe('formatDateTime', () => {
  it('is empty for missing or invalid dates', () => {
    expect(formatDateTime(null, 'zh-CN')).toBe('')
    expect(formatDateTime('not a date', 'en')).toBe('')
  })
  it('formats a real date with the year', () => {
    expect(formatDateTime('2026-03-01T06:00:00Z', 'zh-CN')).toContain('2026')
  })
})
