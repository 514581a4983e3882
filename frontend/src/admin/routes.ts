/**
 * The admin panel's routes, children of `/admin` (layout: AdminApp.vue).
 * This module and everything it imports (Element Plus, ECharts) load only
 * when someone opens /admin. Every route is guarded: signed in (else the
 * admin sign-in page), holding a staff role, and the role the page needs.
 */
import type { NavigationGuard, RouteRecordRaw } from 'vue-router'
import { useAuthStore } from '@/stores/auth'
import { installAdminMessages } from './locales'
import { mayAnywhere, type Action } from './lib/permissions'

declare module 'vue-router' {
  interface RouteMeta {
    /** Admin pages: the action the page is for (hidden and refused without it). */
    adminAction?: Action
    /** Admin pages without the menu and header (sign-in, no access). */
    bare?: boolean
    /** Admin pages made for phones too; the others ask for a larger screen on one. */
    phone?: boolean
  }
}

installAdminMessages()

export const staffGuard: NavigationGuard = async (to) => {
  if (to.meta.bare) return true
  const auth = useAuthStore()
  await auth.restore()
  if (!auth.user) return { name: 'admin-login', query: { redirect: to.fullPath } }
  if (!auth.isStaff) return { name: 'admin-forbidden' }
  const need = to.meta.adminAction
  if (need && !mayAnywhere(auth.user.roles, need)) return { name: 'admin-forbidden' }
  return true
}

const routes: RouteRecordRaw[] = [
  { path: '', name: 'admin-home', redirect: { name: 'admin-dashboard' } },
  { path: 'login', name: 'admin-login', component: () => import('./pages/Login.vue'), meta: { phone: true, bare: true, title: 'admin.login.title' } },
  { path: 'forbidden', name: 'admin-forbidden', component: () => import('./pages/Forbidden.vue'), meta: { phone: true, bare: true, title: 'admin.forbidden.title' } },
  { path: 'dashboard', name: 'admin-dashboard', component: () => import('./pages/Dashboard.vue'), meta: { title: 'admin.nav.dashboard' } },
  { path: 'topics', name: 'admin-topics', component: () => import('./pages/topics/TopicList.vue'), meta: { phone: true, title: 'admin.nav.topics' } },
  { path: 'topics/new', name: 'admin-topic-new', component: () => import('./pages/topics/TopicEdit.vue'), meta: { title: 'admin.topic.new', adminAction: 'manageTopics' } },
  { path: 'topics/:id', name: 'admin-topic', component: () => import('./pages/topics/TopicDetail.vue'), meta: { phone: true, title: 'admin.nav.topics' } },
  { path: 'topics/:id/edit', name: 'admin-topic-edit', component: () => import('./pages/topics/TopicEdit.vue'), meta: { title: 'admin.topic.edit', adminAction: 'manageTopics' } },
  { path: 'residency', name: 'admin-residency', component: () => import('./pages/Residency.vue'), meta: { phone: true, title: 'admin.nav.residency', adminAction: 'reviewResidency' } },
  { path: 'divisions', name: 'admin-divisions', component: () => import('./pages/Divisions.vue'), meta: { title: 'admin.nav.divisions' } },
  { path: 'roles', name: 'admin-roles', component: () => import('./pages/Roles.vue'), meta: { title: 'admin.nav.roles', adminAction: 'assignRoles' } },
  { path: 'suggestions', name: 'admin-suggestions', component: () => import('./pages/Suggestions.vue'), meta: { title: 'admin.nav.suggestions', adminAction: 'readOpinions' } },
  { path: 'referrals', name: 'admin-referrals', component: () => import('./pages/Referrals.vue'), meta: { title: 'admin.nav.referrals', adminAction: 'manageTopics' } },
  { path: 'audit', name: 'admin-audit', component: () => import('./pages/AuditLog.vue'), meta: { title: 'admin.nav.audit', adminAction: 'viewAuditLog' } },
  { path: 'outbox', name: 'admin-outbox', component: () => import('./pages/Outbox.vue'), meta: { title: 'admin.nav.outbox', adminAction: 'administer' } },
  { path: 'supervision', name: 'admin-supervision', component: () => import('./pages/Supervision.vue'), meta: { title: 'admin.nav.supervision', adminAction: 'readOpinions' } },
  { path: ':pathMatch(.*)*', name: 'admin-not-found', component: () => import('./pages/NotFound.vue'), meta: { phone: true, title: 'common.notFound' } },
]

export const adminRoutes: RouteRecordRaw[] = routes.map((r) => ('redirect' in r && r.redirect ? r : { ...r, beforeEnter: staffGuard }))
