/** Element Plus feedback in the user's language: toasts, confirmations, reason prompts. */
import { ElMessage, ElMessageBox } from 'element-plus'
import 'element-plus/es/components/message/style/css'
import 'element-plus/es/components/message-box/style/css'
import { errorText, i18n } from '@/i18n'

const t = (key: string, named?: Record<string, unknown>) => (named ? i18n.global.t(key, named) : i18n.global.t(key))

export function notifySuccess(message: string): void {
  ElMessage({ type: 'success', message, showClose: true })
}

/** Shows any thrown error as a readable message (never the server's raw text). */
export function notifyError(err: unknown): void {
  ElMessage({ type: 'error', message: errorText(err), showClose: true, duration: 6000 })
}

/** Resolves true when confirmed. */
export async function confirm(message: string, title: string, danger = false): Promise<boolean> {
  try {
    await ElMessageBox.confirm(message, title, {
      confirmButtonText: t('common.confirm'),
      cancelButtonText: t('common.cancel'),
      type: danger ? 'warning' : 'info',
      confirmButtonClass: danger ? 'el-button--danger' : undefined,
    })
    return true
  } catch {
    return false
  }
}

/** Asks for a reason (1–2,000 characters); resolves null when cancelled. */
export async function promptReason(title: string, label: string): Promise<string | null> {
  try {
    const { value } = await ElMessageBox.prompt(label, title, {
      confirmButtonText: t('common.confirm'),
      cancelButtonText: t('common.cancel'),
      inputType: 'textarea',
      inputValidator: (v: string) => {
        const s = (v ?? '').trim()
        if (!s) return t('admin.validation.required')
        if ([...s].length > 2000) return t('admin.validation.reasonTooLong')
        return true
      },
    })
    return value.trim()
  } catch {
    return null
  }
}

/** Runs `fn`, reports success or the error; resolves true on success. */
export async function attempt(fn: () => Promise<unknown>, success?: string): Promise<boolean> {
  try {
    await fn()
    if (success) notifySuccess(success)
    return true
  } catch (err) {
    notifyError(err)
    return false
  }
}
