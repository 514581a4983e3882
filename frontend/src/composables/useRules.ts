/** Vant form rules from the validation functions (messages in the user's language). */
import { useI18n } from 'vue-i18n'
import type { RuleResult } from '@/utils/validation'

export function useRules() {
  const { t } = useI18n()
  return (check: (v: string) => RuleResult) => [
    {
      validator: (v: unknown) => {
        const key = check(String(v ?? ''))
        return key ? t(key) : true
      },
      trigger: 'onSubmit' as const,
    },
  ]
}
