// Every message key the code uses exists in both languages.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import zhCN from '@/i18n/locales/zh-CN'
import en from '@/i18n/locales/en'

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    if (statSync(p).isDirectory()) return f === 'gql' || f === 'admin' ? [] : files(p)
    return /\.(ts|vue)$/.test(f) ? [p] : []
  })
}

function has(obj: unknown, key: string): boolean {
  let cur: unknown = obj
  for (const part of key.split('.')) {
    if (cur === null || typeof cur !== 'object' || !(part in cur)) return false
    cur = (cur as Record<string, unknown>)[part]
  }
  return typeof cur === 'string'
}

describe('messages', () => {
  const keys = new Set<string>()
  for (const f of files(join(__dirname, '..', 'src'))) {
    const src = readFileSync(f, 'utf8')
    for (const m of src.matchAll(/\bt\(\s*'((?:resident|common|errors|app|fields|enums)\.[\w.]+)'/g)) keys.add(m[1])
    for (const m of src.matchAll(/title: '((?:resident|common)\.[\w.]+)'/g)) keys.add(m[1])
    for (const m of src.matchAll(/'(resident\.validation\.\w+)'/g)) keys.add(m[1])
  }

  it('finds the keys in the code', () => {
    expect(keys.size).toBeGreaterThan(150)
  })

  it.each(['zh-CN', 'en'] as const)('has every used key in %s', (locale) => {
    const messages = locale === 'zh-CN' ? zhCN : en
    const missing = [...keys].filter((k) => !has(messages, k))
    expect(missing).toEqual([])
  })
})

describe('message syntax', () => {
  // vue-i18n compiles messages: a bare "@" or "|" breaks the page at run time.
  function strings(obj: unknown, path = ''): Array<[string, string]> {
    if (typeof obj === 'string') return [[path, obj]]
    if (obj && typeof obj === 'object') return Object.entries(obj).flatMap(([k, v]) => strings(v, path ? `${path}.${k}` : k))
    return []
  }
  it.each(['zh-CN', 'en'] as const)('every %s message compiles', async (locale) => {
    const { i18n } = await import('@/i18n')
    const messages = locale === 'zh-CN' ? zhCN : en
    const broken: string[] = []
    const errors: unknown[] = []
    const orig = console.error
    console.error = (...a: unknown[]) => errors.push(a)
    try {
      for (const [key] of strings(messages)) {
        try {
          i18n.global.t(key, { n: 1, name: 'x', email: 'x', time: 'x', seconds: 1, field: 'x', reason: 'x', title: 'x', total: 1, eligible: 1, rate: 'x', k: 5, percent: 5, v: 2 }, { locale })
        } catch {
          broken.push(key)
        }
      }
    } finally {
      console.error = orig
    }
    expect(broken).toEqual([])
    expect(errors).toEqual([])
  })
})
