// Every admin message key used in src/admin exists in both languages, the two
// locales have the same keys, and every message compiles.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import zhCN from '../locales/zh-CN'
import en from '../locales/en'
import sharedZh from '@/i18n/locales/zh-CN'
import { PROCEDURE_CODES } from '@/api/errors'
import { DETAIL_KEYS, RECORD_ACTIONS, RECORD_ROLES } from '@/utils/record'
import { GENERIC_KEYS } from '../lib/lifecycle'

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    if (statSync(p).isDirectory()) return f === 'tests' ? [] : files(p)
    return /\.(ts|vue)$/.test(f) ? [p] : []
  })
}

function leaves(obj: unknown, path = ''): string[] {
  if (typeof obj === 'string') return [path]
  if (obj && typeof obj === 'object') return Object.entries(obj).flatMap(([k, v]) => leaves(v, path ? `${path}.${k}` : k))
  return []
}

function has(obj: unknown, key: string): boolean {
  let cur: unknown = obj
  for (const part of key.split('.')) {
    if (cur === null || typeof cur !== 'object' || !(part in cur)) return false
    cur = (cur as Record<string, unknown>)[part]
  }
  return typeof cur === 'string'
}

const root = join(__dirname, '..')
const sources = files(root).map((f) => readFileSync(f, 'utf8'))

describe('admin messages', () => {
  const adminKeys = new Set<string>()
  const sharedKeys = new Set<string>()
  for (const src of sources) {
    for (const m of src.matchAll(/'admin\.([\w.]+)'/g)) adminKeys.add(m[1])
    for (const m of src.matchAll(/\bt\(\s*'((?:common|errors|app|fields|enums)\.[\w.]+)'/g)) sharedKeys.add(m[1])
  }

  it('finds the keys in the code', () => {
    expect(adminKeys.size).toBeGreaterThan(200)
  })

  it('has every used admin key in both languages', () => {
    expect([...adminKeys].filter((k) => !has(zhCN, k))).toEqual([])
    expect([...adminKeys].filter((k) => !has(en, k))).toEqual([])
  })

  it('has every used shared key', () => {
    expect([...sharedKeys].filter((k) => !has(sharedZh, k))).toEqual([])
  })

  it('has the same keys in zh-CN and en', () => {
    expect(leaves(en).sort()).toEqual(leaves(zhCN).sort())
  })

  it('has the keys built from enums', () => {
    for (const a of ['ANNOUNCE', 'OPEN', 'CLOSE', 'START_IMPLEMENTATION', 'COMPLETE']) {
      expect(has(zhCN, `lifecycle.confirm.${a}`), a).toBe(true)
      expect(has(zhCN, `lifecycle.done.${a}`), a).toBe(true)
    }
    // Every TopicAction of the schema has a name.
    const schema = readFileSync(join(__dirname, '../../../../schema.graphql'), 'utf8')
    const topicActions = schema.match(/enum TopicAction \{([^}]*)\}/)![1].match(/[A-Z_]{3,}/g)!
    expect(topicActions.length).toBeGreaterThan(10)
    for (const a of topicActions) expect(has(zhCN, `lifecycle.action.${a}`), a).toBe(true)
    for (const a of ['WITHDRAW', 'REQUEST_EARLY_CLOSE']) {
      expect(has(zhCN, `lifecycle.done.${a}`), a).toBe(true)
      expect(has(zhCN, `lifecycle.reasonTitle.${a}`), a).toBe(true)
      expect(has(zhCN, `lifecycle.reasonLabel.${a}`), a).toBe(true)
    }
    for (const k of GENERIC_KEYS) expect(has(zhCN, `lifecycle.blocked.${k}`), k).toBe(true)
    for (const c of PROCEDURE_CODES) expect(has(sharedZh, `errors.procedure.${c}`), c).toBe(true)
    for (const a of RECORD_ACTIONS) expect(has(zhCN, `record.actions.${a}`), a).toBe(true)
    for (const r of RECORD_ROLES) expect(has(zhCN, `record.roles.${r}`), r).toBe(true)
    for (const [k] of DETAIL_KEYS) expect(has(zhCN, `record.detail.${k}`), k).toBe(true)
    for (const s of ['OPEN', 'CORRECTED', 'ACCEPTED', 'DISMISSED']) expect(has(zhCN, `flags.state.${s}`), s).toBe(true)
    for (const s of ['OUTCOME', 'PROCEDURE']) expect(has(zhCN, `flags.subjects.${s}`), s).toBe(true)
    for (const r of ['SATISFIED', 'UNSATISFIED', 'NO_ANSWER']) expect(has(zhCN, `inPerson.responses.${r}`), r).toBe(true)
    for (const k of ['topic_withdrawn', 'topic_completed', 'deadline_extended']) expect(has(zhCN, `outbox.kinds.${k}`), k).toBe(true)
    for (const k of ['ALL_DISSENTERS', 'DIVISION', 'OPINIONS', 'UNSATISFIED']) expect(has(zhCN, `explain.kind.${k}`)).toBe(true)
    for (const s of ['QUEUED', 'SENDING', 'SENT', 'FAILED', 'SKIPPED', 'HELD', 'DIGESTED']) expect(has(zhCN, `outbox.state.${s}`)).toBe(true)
  })

  it('shows API field errors of the admin forms as readable sentences in both languages', async () => {
    const { errorText, setLocale } = await import('@/i18n')
    const { ApiError } = await import('@/api/errors')
    const { installAdminMessages } = await import('../locales')
    installAdminMessages()
    const err = new ApiError('BAD_USER_INPUT', 'residents must be notified 72 hours before opening', { field: 'opensAt' })
    setLocale('zh-CN')
    expect(errorText(err)).toMatch(/预告期/)
    setLocale('en')
    expect(errorText(err)).toMatch(/notice period/)
    // The shared messages are kept.
    expect(errorText(new ApiError('BAD_USER_INPUT', 'x', { field: 'title' }))).toBe('A title has 1 to 200 characters.')
    expect(errorText(new ApiError('CONFLICT', 'explanations follow the published outcome'))).not.toMatch(/explanations follow/)
    setLocale('zh-CN')
  })

  it.each(['zh-CN', 'en'] as const)('every %s message compiles', async (locale) => {
    const { i18n } = await import('@/i18n')
    const { installAdminMessages } = await import('../locales')
    installAdminMessages()
    const errors: unknown[] = []
    const orig = console.error
    console.error = (...a: unknown[]) => errors.push(a)
    const broken: string[] = []
    try {
      for (const key of leaves(locale === 'zh-CN' ? zhCN : en)) {
        const out = i18n.global.t(`admin.${key}`, { n: 1, name: 'x', title: 'x', reason: 'x', time: 'x', v: 2, k: 5, onTime: 1, late: 0, explained: 1, dissenters: 2, satisfied: 1, unsatisfied: 0, action: 'x', label: 'x', value: 'x', percent: 10 }, { locale })
        if (!out || out === `admin.${key}`) broken.push(key)
      }
    } finally {
      console.error = orig
    }
    expect(broken).toEqual([])
    expect(errors).toEqual([])
  })
})
