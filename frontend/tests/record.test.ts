import { describe, expect, it } from 'vitest'
import { divisionNamer, recordDetails } from '@/utils/record'
import { formatChinaTime } from '@/utils/time'

describe('the public record', () => {
  it('picks the facts worth reading from an entry’s detail, in a fixed order', () => {
    const detail = JSON.stringify({
      newDeadline: '2027-03-01T04:00:00Z',
      originalDeadline: '2027-01-01T04:00:00Z',
      previousDeadline: '2027-01-01T04:00:00Z',
      flagId: 12,
      notices_queued: 3,
    })
    expect(recordDetails(detail).map((d) => d.key)).toEqual(['originalDeadline', 'previousDeadline', 'newDeadline'])
  })

  it('reads flags, versions and yes/no answers; leaves out empty values and internal ids', () => {
    expect(recordDetails(JSON.stringify({ flagId: 3, subject: 'procedure', legalBasis: '《村民委员会组织法》', outcomeVersion: null }))).toEqual([
      { key: 'subject', kind: 'subject', value: 'PROCEDURE' },
      { key: 'legalBasis', kind: 'text', value: '《村民委员会组织法》' },
    ])
    expect(recordDetails(JSON.stringify({ version: 1, quorumMet: false, note: '' }))).toEqual([
      { key: 'version', kind: 'number', value: '1' },
      { key: 'quorumMet', kind: 'yesNo', value: 'no' },
    ])
    expect(recordDetails(JSON.stringify({ opensAt: 'not a date' }))).toEqual([])
  })

  it('survives a detail that is not a JSON object', () => {
    expect(recordDetails('')).toEqual([])
    expect(recordDetails('not json')).toEqual([])
    expect(recordDetails('[1,2]')).toEqual([])
    expect(recordDetails('null')).toEqual([])
  })

  it('names a division by its short or 12-digit code, or shows the code', () => {
    const name = divisionNamer([
      { code: '620123101', fullCode: '620123101000', name: '夏官营镇' },
      { code: '620123', fullCode: '620123000000', name: '榆中县' },
    ])
    expect(name('620123101')).toBe('夏官营镇')
    expect(name('620123000000')).toBe('榆中县')
    expect(name('999')).toBe('999')
    expect(name(null)).toBe('')
  })

  it('writes dates in China time whatever the reader’s zone', () => {
    // 04:00 UTC is 12:00 in Beijing.
    expect(formatChinaTime('2027-01-01T04:00:00Z', 'zh-CN')).toMatch(/2027年1月1日.*12:00/)
    expect(formatChinaTime('2027-01-01T20:30:00Z', 'en')).toMatch(/2 Jan 2027.*04:30/)
    expect(formatChinaTime(null, 'zh-CN')).toBe('')
  })
})
