/**
 * Changing the language: the page switches at once; when someone is signed
 * in and their account has another language, the account is updated too so
 * that emails follow. A failed save leaves the page in the new language and
 * rejects (the caller shows the error).
 */
import type { Locale } from './index'

export interface LanguageDeps {
  /** Switches the page (vue-i18n, localStorage, `<html lang>`). */
  apply: (locale: Locale) => void
  /** The signed-in account's language, or null when nobody is signed in. */
  accountLocale: () => string | null | undefined
  /** Saves the account's language (`setMyLocale`). */
  save: (locale: Locale) => Promise<unknown>
}

/** True when the account should be told about `locale`. */
export function needsAccountSave(accountLocale: string | null | undefined, locale: Locale): boolean {
  return accountLocale != null && accountLocale !== locale
}

export async function changeLanguage(locale: Locale, deps: LanguageDeps): Promise<void> {
  deps.apply(locale)
  if (needsAccountSave(deps.accountLocale(), locale)) await deps.save(locale)
}
