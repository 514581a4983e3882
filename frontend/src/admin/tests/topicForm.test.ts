import { describe, expect, it } from 'vitest'
import { emptyTopicForm, formFromTopic, hasErrors, stakeholderIds, topicInput, validateTopicForm } from '../lib/topicForm'

const NOW = new Date('2026-05-01T00:00:00Z')
const valid = () => ({
  ...emptyTopicForm('620123101'),
  title: '修村道',
  body: '村内主干道硬化，您是否同意？',
  category: 'TRANSPORT_WATER' as const,
})

describe('topic form', () => {
  it('accepts a complete decision topic and builds the API input', () => {
    const f = valid()
    expect(validateTopicForm(f, NOW)).toEqual({})
    const input = topicInput({ ...f, title: '  修村道 ', opensAt: new Date('2026-05-02T00:00:00Z'), closesAt: new Date('2026-05-09T00:00:00Z') })
    expect(input).toMatchObject({
      title: '修村道',
      kind: 'DECISION',
      scopeCode: '620123101',
      eligibility: 'RESIDENTS',
      quorumPercent: null,
      noticeAt: null,
      opensAt: '2026-05-02T00:00:00.000Z',
      closesAt: '2026-05-09T00:00:00.000Z',
    })
    expect(input.options).toBeUndefined()
    expect(input.stakeholderUserIds).toBeUndefined()
  })

  it('requires title, body, category and scope', () => {
    const e = validateTopicForm(emptyTopicForm(''), NOW)
    expect(e).toMatchObject({
      title: 'admin.validation.required',
      body: 'admin.validation.required',
      category: 'admin.validation.required',
      scopeCode: 'admin.validation.required',
    })
    expect(hasErrors(e)).toBe(true)
  })

  it('checks lengths in characters, not bytes', () => {
    expect(validateTopicForm({ ...valid(), title: '议'.repeat(200) }, NOW).title).toBeUndefined()
    expect(validateTopicForm({ ...valid(), title: '议'.repeat(201) }, NOW).title).toBe('admin.validation.titleTooLong')
    expect(validateTopicForm({ ...valid(), body: 'x'.repeat(5001) }, NOW).body).toBe('admin.validation.bodyTooLong')
  })

  it('scopes a topic to a village, township or county only', () => {
    expect(validateTopicForm({ ...valid(), scopeCode: '6201' }, NOW).scopeCode).toBe('admin.validation.scopeLevel')
    expect(validateTopicForm({ ...valid(), scopeCode: '620123101201' }, NOW).scopeCode).toBeUndefined()
  })

  it('wants 2–20 distinct, filled options for a choice', () => {
    expect(validateTopicForm({ ...valid(), kind: 'CHOICE', options: ['水泥', ''] }, NOW)).toMatchObject({
      options: 'admin.validation.optionCount',
      'options.1': 'admin.validation.required',
    })
    expect(validateTopicForm({ ...valid(), kind: 'CHOICE', options: ['水泥', '水泥'] }, NOW)['options.1']).toBe('admin.validation.optionDuplicate')
    const ok = { ...valid(), kind: 'CHOICE' as const, options: [' 水泥 ', '沥青'] }
    expect(validateTopicForm(ok, NOW)).toEqual({})
    expect(topicInput(ok).options).toEqual(['水泥', '沥青'])
  })

  it('orders notice, opening and closing', () => {
    const opens = new Date('2026-05-03T00:00:00Z')
    expect(validateTopicForm({ ...valid(), opensAt: opens, closesAt: opens }, NOW).closesAt).toBe('admin.validation.closesAfterOpens')
    expect(validateTopicForm({ ...valid(), noticeAt: new Date('2026-05-04T00:00:00Z'), opensAt: opens }, NOW).noticeAt).toBe('admin.validation.noticeBeforeOpens')
    expect(validateTopicForm({ ...valid(), closesAt: new Date('2026-04-01T00:00:00Z') }, NOW).closesAt).toBe('admin.validation.inFuture')
  })

  it('checks the quorum and stakeholders', () => {
    expect(validateTopicForm({ ...valid(), quorumPercent: 0 }, NOW).quorumPercent).toBe('admin.validation.quorum')
    expect(validateTopicForm({ ...valid(), quorumPercent: 50 }, NOW).quorumPercent).toBeUndefined()
    expect(validateTopicForm({ ...valid(), eligibility: 'STAKEHOLDERS' }, NOW).stakeholders).toBe('admin.validation.stakeholders')
    expect(validateTopicForm({ ...valid(), eligibility: 'STAKEHOLDERS', stakeholders: '12, abc' }, NOW).stakeholders).toBe('admin.validation.stakeholderIds')
    expect(stakeholderIds('12, 13，14 15')).toEqual(['12', '13', '14', '15'])
    expect(topicInput({ ...valid(), eligibility: 'STAKEHOLDERS', stakeholders: '7 8' }).stakeholderUserIds).toEqual(['7', '8'])
  })

  it('loads a topic back into the form (options in order)', () => {
    const f = formFromTopic({
      title: 'T',
      body: 'B',
      category: 'OTHER',
      kind: 'CHOICE',
      scopeCode: '620123',
      technical: true,
      reasonRequiredForDissent: false,
      secret: true,
      quorumPercent: null,
      eligibility: 'RESIDENTS',
      options: [
        { label: 'b', position: 2 },
        { label: 'a', position: 1 },
      ],
      opensAt: '2026-05-02T00:00:00Z',
    })
    expect(f.options).toEqual(['a', 'b'])
    expect(f.secret).toBe(true)
    expect(topicInput(f).secret).toBe(true)
    expect(f.opensAt?.toISOString()).toBe('2026-05-02T00:00:00.000Z')
    expect(f.closesAt).toBeNull()
  })
})
