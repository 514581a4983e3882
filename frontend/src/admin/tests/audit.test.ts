import { describe, expect, it } from 'vitest'
import zhCN from '../locales/zh-CN'
import en from '../locales/en'
import {
  AUDIT_ACTIONS,
  AUDIT_SUBJECT_TYPES,
  actionLabel,
  actionsFor,
  detailIsEmpty,
  detailSummary,
  formatDetail,
  subjectTypeLabel,
  type Lookup,
} from '../lib/audit'

/** A lookup over the admin messages, as `te`/`t` would answer. */
function lookupIn(messages: unknown): Lookup {
  return (key) => {
    let cur: unknown = { admin: messages }
    for (const part of key.split('.')) {
      if (cur === null || typeof cur !== 'object' || !(part in cur)) return undefined
      cur = (cur as Record<string, unknown>)[part]
    }
    return typeof cur === 'string' ? cur : undefined
  }
}

describe('audit action labels', () => {
  const zh = lookupIn(zhCN)
  const eng = lookupIn(en)

  it('reads known actions as words', () => {
    expect(actionLabel('topic.announce', zh)).toBe('发布预告')
    expect(actionLabel('topic.open', zh)).toBe('开始征集')
    expect(actionLabel('topic.announce', eng)).toBe('Announced')
    expect(actionLabel('residency.approve', eng)).toBe('Residency approved')
  })

  it('has words for every action the backend records, in both languages', () => {
    for (const a of AUDIT_ACTIONS) {
      expect(actionLabel(a, zh), a).not.toBe(a)
      expect(actionLabel(a, eng), a).not.toBe(a)
    }
    for (const s of AUDIT_SUBJECT_TYPES) {
      expect(subjectTypeLabel(s, zh), s).not.toBe(s)
      expect(subjectTypeLabel(s, eng), s).not.toBe(s)
    }
  })

  it('falls back to the raw code', () => {
    expect(actionLabel('topic.teleport', zh)).toBe('topic.teleport')
    // A prefix of known codes is a group, not a message.
    expect(actionLabel('topic', zh)).toBe('topic')
    expect(actionLabel('Weird Code!', zh)).toBe('Weird Code!')
    expect(actionLabel('', zh)).toBe('')
    expect(subjectTypeLabel('meeting', eng)).toBe('meeting')
  })

  it('offers the actions of a subject type', () => {
    expect(actionsFor('')).toEqual([...AUDIT_ACTIONS])
    expect(actionsFor('topic')).toContain('topic.announce')
    expect(actionsFor('topic')).toContain('outcome.correct')
    expect(actionsFor('topic')).not.toContain('role.assign')
    expect(actionsFor('user')).toEqual(['role.assign', 'role.bootstrap', 'role.revoke'])
    expect(actionsFor('residency')).toEqual(['residency.approve', 'residency.reject'])
  })
})

describe('audit detail', () => {
  it('indents JSON and keeps other text as it is', () => {
    expect(formatDetail('{"from":"DRAFT","to":"ANNOUNCED"}')).toBe('{\n  "from": "DRAFT",\n  "to": "ANNOUNCED"\n}')
    expect(formatDetail('not json')).toBe('not json')
  })

  it('summarises on one line, without empty fields, cut at the limit', () => {
    expect(detailSummary('{"user_id":7,"reason":null,"note":"二社 7 号"}')).toBe('user_id: 7 · note: 二社 7 号')
    expect(detailSummary('{"a":{"b":[1,2]}}')).toBe('a: {"b":[1,2]}')
    expect(detailSummary('{"reason":"line one\\nline two"}')).toBe('reason: line one line two')
    const long = detailSummary(JSON.stringify({ reason: '很'.repeat(200) }), 20)
    expect([...long]).toHaveLength(20)
    expect(long.endsWith('…')).toBe(true)
    expect(detailSummary('{}')).toBe('')
    expect(detailSummary('plain text')).toBe('plain text')
  })

  it('knows an empty detail', () => {
    for (const d of ['', '{}', 'null', '[]', '  ']) expect(detailIsEmpty(d), d).toBe(true)
    expect(detailIsEmpty('{"x":1}')).toBe(false)
    expect(detailIsEmpty('text')).toBe(false)
  })
})
