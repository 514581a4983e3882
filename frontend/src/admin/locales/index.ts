/** Adds the admin panel's messages (under `admin.*`) to both locales. */
import { mergeMessages } from '@/i18n'
import zhCN from './zh-CN'
import en from './en'

let installed = false

export function installAdminMessages(): void {
  if (installed) return
  installed = true
  mergeMessages('zh-CN', { admin: zhCN })
  mergeMessages('en', { admin: en })
}
