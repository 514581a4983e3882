import { describe, expect, it } from 'vitest'
import { choiceSeries, percent } from '@/pages/topic/results'
import { resultLevel, timelineSteps } from '@/pages/topic/timeline'
import { describeNotification } from '@/pages/notifications/describe'
import { statesFor } from '@/pages/home/filters'

describe('choiceSeries', () => {
  it('makes one series per choice with zeros where a division lacks it', () => {
    const rows = [
      { divisionCode: 'a', folded: false, divisions: 1, division: { name: 'A村' }, counts: [{ stance: 'SUPPORT', label: 'support', count: 3 }] },
      {
        divisionCode: 'b',
        folded: true,
        divisions: 2,
        division: { name: 'B镇' },
        counts: [
          { stance: 'OPPOSE', label: 'oppose', count: 1 },
          { stance: 'SUPPORT', label: 'support', count: 2 },
        ],
      },
    ]
    const s = choiceSeries(rows, (c) => c.label.toUpperCase(), (r) => (r.folded ? `${r.division?.name}*` : r.division!.name))
    expect(s).toEqual({ categories: ['A村', 'B镇*'], names: ['SUPPORT', 'OPPOSE'], values: [[3, 2], [0, 1]] })
  })

  it('keys options by id, not by label', () => {
    const rows = [{ divisionCode: 'a', folded: false, divisions: 1, counts: [{ optionId: '1', label: 'Same', count: 1 }, { optionId: '2', label: 'Same', count: 4 }] }]
    expect(choiceSeries(rows, (c) => c.label, (r) => r.divisionCode).values).toEqual([[1], [4]])
  })

  it('formats shares', () => {
    expect(percent(0.4567)).toBe('45.7%')
    expect(percent(null)).toBe('—')
  })
})

describe('timelineSteps', () => {
  it('uses what happened, else what is planned, and marks the current state', () => {
    const { steps, active } = timelineSteps({
      state: 'OPEN',
      announcedAt: '2026-01-01T00:00:00Z',
      openedAt: '2026-01-02T00:00:00Z',
      closesAt: '2026-01-09T00:00:00Z',
    })
    expect(steps.map((s) => [s.key, s.planned])).toEqual([
      ['announced', false],
      ['opened', false],
      ['closed', true],
      ['decided', false],
      ['implementing', false],
      ['completed', false],
    ])
    expect(active).toBe(1)
  })

  it('shows results one level below the scope', () => {
    expect(resultLevel('COUNTY')).toBe('TOWNSHIP')
    expect(resultLevel('TOWNSHIP')).toBe('VILLAGE')
    expect(resultLevel('VILLAGE')).toBe('VILLAGE')
  })
})

describe('describeNotification', () => {
  it('leads an explanation notification to the explanation', () => {
    const d = describeNotification({ kind: 'explanation_published', topicId: '5', payload: JSON.stringify({ title: '路灯', explanation_id: 9 }) })
    expect(d).toEqual({ title: '路灯', to: { name: 'explanation', params: { id: '9' } } })
  })
  it('reads a topic link, falls back to the topic id, and survives bad JSON', () => {
    expect(describeNotification({ kind: 'outcome_published', payload: JSON.stringify({ link: 'http://x/topics/12' }) }).to).toEqual({ name: 'topic', params: { id: '12' } })
    expect(describeNotification({ kind: 'progress_update', topicId: '3', payload: '{broken' })).toEqual({ title: '', to: { name: 'topic', params: { id: '3' } } })
    expect(describeNotification({ kind: 'residency_approved', payload: '{}' }).to).toBeNull()
  })
})

describe('home filters', () => {
  it('maps filters to states', () => {
    expect(statesFor('active')).toEqual(['OPEN', 'ANNOUNCED'])
    expect(statesFor('all')).toBeNull()
    expect(statesFor('done')).toContain('COMPLETED')
  })
})
