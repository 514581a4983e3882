/** Adds the admin panel's messages (under `admin.*`) to both locales. */
import { mergeMessages } from '@/i18n'
import zhCN, { fieldErrors as zhFields } from './zh-CN'
import en, { fieldErrors as enFields } from './en'

let installed = false

export function installAdminMessages(): void {
  if (installed) return
  installed = true
  // Field messages the shared locale lacks (it has title, body, reason…: kept).
  mergeMessages('zh-CN', { admin: zhCN, errors: { field: zhFields } })
  mergeMessages('en', { admin: en, errors: { field: enFields } })
}
