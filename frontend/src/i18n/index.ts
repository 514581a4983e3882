/**
 * vue-i18n, Composition API mode. zh-CN is the default; the choice is kept
 * in localStorage and mirrored on `<html lang>`. Other parts (the admin
 * panel) add their own messages at run time with `mergeMessages`.
 */
import { createI18n, useI18n } from 'vue-i18n'
import zhCN from './locales/zh-CN'
import en from './locales/en'
import { errorMessage } from '@/api/errors'

export type Locale = 'zh-CN' | 'en'
export const LOCALES: readonly Locale[] = ['zh-CN', 'en']
export const LOCALE_KEY = 'yishi.locale'

export function isLocale(v: unknown): v is Locale {
  return v === 'zh-CN' || v === 'en'
}

export function storedLocale(): Locale {
  try {
    const v = localStorage.getItem(LOCALE_KEY)
    return isLocale(v) ? v : 'zh-CN'
  } catch {
    return 'zh-CN'
  }
}

export type MessageSchema = typeof zhCN

export const i18n = createI18n({
  legacy: false,
  locale: storedLocale(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zhCN, en } as Record<Locale, MessageSchema>,
  missingWarn: false,
  fallbackWarn: false,
})

const listeners = new Set<(l: Locale) => void>()

/** Called with the new locale whenever it changes (e.g. to switch Vant's or Element Plus's own texts). */
export function onLocaleChange(fn: (l: Locale) => void): () => void {
  listeners.add(fn)
  return () => listeners.delete(fn)
}

export function currentLocale(): Locale {
  return i18n.global.locale.value as Locale
}

export function setLocale(locale: Locale): void {
  i18n.global.locale.value = locale
  try {
    localStorage.setItem(LOCALE_KEY, locale)
  } catch {
    /* private mode: keep it for this visit */
  }
  if (typeof document !== 'undefined') document.documentElement.lang = locale
  for (const fn of listeners) fn(locale)
}

/** Adds messages to a locale (deep merge), e.g. the admin panel's. */
export function mergeMessages(locale: Locale, messages: Record<string, unknown>): void {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  i18n.global.mergeLocaleMessage(locale, messages as any)
}

/** `(err) => readable message in the current language` for any thrown error. */
export function useErrorText(): (err: unknown) => string {
  const { t, te } = useI18n()
  return (err) => errorMessage(err, (k, n) => (n ? t(k, n) : t(k)), (k) => te(k))
}

/** The same outside components. */
export function errorText(err: unknown): string {
  const { t, te } = i18n.global
  return errorMessage(err, (k, n) => (n ? t(k, n) : t(k)), (k) => te(k))
}
