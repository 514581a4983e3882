import { describe, expect, it, vi } from 'vitest'
import { changeLanguage, needsAccountSave } from '@/i18n/sync'

describe('changing the language', () => {
  it('saves on the account only when signed in with another language', () => {
    expect(needsAccountSave(null, 'en')).toBe(false)
    expect(needsAccountSave(undefined, 'en')).toBe(false)
    expect(needsAccountSave('en', 'en')).toBe(false)
    expect(needsAccountSave('zh-CN', 'en')).toBe(true)
  })

  it('switches the page, then saves the account', async () => {
    const calls: string[] = []
    await changeLanguage('en', {
      apply: (l) => calls.push(`apply ${l}`),
      accountLocale: () => 'zh-CN',
      save: async (l) => calls.push(`save ${l}`),
    })
    expect(calls).toEqual(['apply en', 'save en'])
  })

  it('does not call the API when signed out', async () => {
    const save = vi.fn()
    const apply = vi.fn()
    await changeLanguage('en', { apply, accountLocale: () => null, save })
    expect(apply).toHaveBeenCalledWith('en')
    expect(save).not.toHaveBeenCalled()
  })

  it('keeps the page switched and rejects when saving fails', async () => {
    const apply = vi.fn()
    const err = new Error('offline')
    await expect(changeLanguage('zh-CN', { apply, accountLocale: () => 'en', save: () => Promise.reject(err) })).rejects.toBe(err)
    expect(apply).toHaveBeenCalledWith('zh-CN')
  })
})
