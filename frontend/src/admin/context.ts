/**
 * The admin panel's session context: the signed-in staff member's roles,
 * the division they are working in (chosen in the header, remembered), and
 * `can(action, code)` for showing only what the API would allow.
 */
import { computed, ref } from 'vue'
import { defineStore } from 'pinia'
import { useAuthStore } from '@/stores/auth'
import { may, mayAnywhere, workDivisions, type Action, type RoleGrant } from './lib/permissions'

const DIVISION_KEY = 'yishi.admin.division'

function stored(): string {
  try {
    return localStorage.getItem(DIVISION_KEY) ?? ''
  } catch {
    return ''
  }
}

export const useAdminStore = defineStore('admin', () => {
  const auth = useAuthStore()
  const grants = computed<RoleGrant[]>(() => auth.user?.roles.map((r) => ({ role: r.role, divisionCode: r.divisionCode })) ?? [])
  const divisions = computed(() => workDivisions(grants.value))
  const chosen = ref(stored())
  const division = computed(() => (divisions.value.includes(chosen.value) ? chosen.value : (divisions.value[0] ?? '')))
  const divisionInfo = computed(() => auth.user?.roles.find((r) => r.divisionCode === division.value)?.division ?? null)

  function setDivision(code: string): void {
    chosen.value = code
    try {
      localStorage.setItem(DIVISION_KEY, code)
    } catch {
      /* private mode */
    }
  }

  /** May the user do `action` on `code` (default: the current division)? */
  function can(action: Action, code: string = division.value): boolean {
    return may(grants.value, action, code)
  }

  function canAnywhere(action: Action): boolean {
    return mayAnywhere(grants.value, action)
  }

  const isAdmin = computed(() => grants.value.some((g) => g.role === 'ADMIN'))
  const divisionName = (code: string) => auth.user?.roles.find((r) => r.divisionCode === code)?.division?.name ?? code

  return { grants, divisions, division, divisionInfo, setDivision, can, canAnywhere, isAdmin, divisionName }
})
