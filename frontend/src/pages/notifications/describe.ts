/** What a notification is about and where it leads (payload is JSON text). */
import type { RouteLocationRaw } from 'vue-router'

export function describeNotification(n: { kind: string; topicId?: string | null; payload: string }): {
  title: string
  to: RouteLocationRaw | null
} {
  let p: Record<string, unknown> = {}
  try {
    const parsed = JSON.parse(n.payload)
    if (parsed && typeof parsed === 'object') p = parsed as Record<string, unknown>
  } catch {
    /* not JSON: no details */
  }
  const title = typeof p.title === 'string' ? p.title : typeof p.topic_title === 'string' ? p.topic_title : ''
  const explanationId = p.explanation_id ?? p.explanationId
  if (n.kind.startsWith('explanation') && (typeof explanationId === 'string' || typeof explanationId === 'number')) {
    return { title, to: { name: 'explanation', params: { id: String(explanationId) } } }
  }
  const link = typeof p.link === 'string' ? p.link : ''
  const m = link.match(/\/(topics|explanations)\/([^/?#]+)/)
  if (m) return { title, to: { name: m[1] === 'topics' ? 'topic' : 'explanation', params: { id: m[2] } } }
  if (n.topicId) return { title, to: { name: 'topic', params: { id: n.topicId } } }
  return { title, to: null }
}
