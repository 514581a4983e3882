/** `change(locale)`: switches the page and, when signed in, the account's language (emails follow). */
import { setLocale, type Locale } from '@/i18n'
import { changeLanguage } from '@/i18n/sync'
import { useAuthStore } from '@/stores/auth'

export function useLanguage(onError: (err: unknown) => void): (locale: Locale) => Promise<boolean> {
  const auth = useAuthStore()
  return async (locale) => {
    try {
      await changeLanguage(locale, { apply: setLocale, accountLocale: () => auth.user?.locale, save: auth.saveLocale })
      return true
    } catch (err) {
      onError(err)
      return false
    }
  }
}
