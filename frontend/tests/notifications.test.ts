// Every kind of notice the backend writes into 消息 has a label in both
// resident languages (issue 18: the procedure's notices now arrive there).
import { describe, expect, it } from 'vitest'
import zhCN from '@/i18n/locales/resident.zh-CN'
import en from '@/i18n/locales/resident.en'
import { describeNotification } from '@/pages/notifications/describe'

const IN_APP_KINDS = [
  'topic_announced',
  'topic_opened',
  'closing_soon',
  'topic_withdrawn',
  'topic_completed',
  'deadline_extended',
  'outcome_published',
  'outcome_corrected',
  'progress_update',
  'explanation_published',
]

describe('notifications', () => {
  it.each([
    ['zh-CN', zhCN],
    ['en', en],
  ])('every in-app kind has a %s label', (_, messages) => {
    const kinds = (messages as { notifications: { kind: Record<string, string> } }).notifications.kind
    for (const kind of IN_APP_KINDS) expect(kinds[kind], kind).toBeTruthy()
  })

  it('a topic notice without a link leads to its topic', () => {
    const n = { kind: 'topic_opened', topicId: '42', payload: JSON.stringify({ topic_id: 42, title: '村道硬化工程' }) }
    expect(describeNotification(n)).toEqual({ title: '村道硬化工程', to: { name: 'topic', params: { id: '42' } } })
  })
})
