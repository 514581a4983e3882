/**
 * What a staff member may do where: the same table as the backend's
 * `domain/authz.rs` (a role allows some actions, within the subtree of its
 * division, matched by code prefix). Used to show only the actions the API
 * would accept; the API still decides.
 */
import type { Role } from '@/gql/graphql'

export type Action =
  | 'reviewResidency'
  | 'manageTopics'
  | 'readOpinions'
  | 'supervise'
  | 'assess'
  | 'viewAuditLog'
  | 'assignRoles'
  | 'administer'

export interface RoleGrant {
  role: Role
  divisionCode: string
}

export function allows(role: Role, action: Action): boolean {
  switch (role) {
    case 'ADMIN':
      return true
    case 'ORGANISER':
      return ['reviewResidency', 'manageTopics', 'readOpinions', 'viewAuditLog'].includes(action)
    case 'SUPERVISOR':
      return ['readOpinions', 'supervise', 'viewAuditLog'].includes(action)
    case 'EXPERT':
      return action === 'assess'
    default:
      return false
  }
}

/** True when one of `roles` allows `action` on the division `code` (or inside it). */
export function may(roles: readonly RoleGrant[], action: Action, code: string): boolean {
  return roles.some((r) => allows(r.role, action) && code.startsWith(r.divisionCode))
}

/** True when one of `roles` allows `action` anywhere. */
export function mayAnywhere(roles: readonly RoleGrant[], action: Action): boolean {
  return roles.some((r) => allows(r.role, action))
}

/**
 * The divisions a staff member works in: one per role, the widest first,
 * without divisions already inside another (a county organiser who is also
 * a township supervisor works in the county).
 */
export function workDivisions(roles: readonly RoleGrant[]): string[] {
  const codes = [...new Set(roles.map((r) => r.divisionCode))].sort((a, b) => a.length - b.length || a.localeCompare(b))
  return codes.filter((c, i) => !codes.slice(0, i).some((outer) => c.startsWith(outer) && c !== outer))
}
