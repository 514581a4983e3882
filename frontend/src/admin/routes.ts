/**
 * The admin panel's routes, children of `/admin` (layout: AdminApp.vue).
 * Placeholder until the admin panel lands; this module and everything it
 * imports are loaded only when someone opens /admin.
 */
import type { RouteRecordRaw } from 'vue-router'

export const adminRoutes: RouteRecordRaw[] = [
  { path: '', name: 'admin-home', component: () => import('./pages/AdminHome.vue') },
  { path: ':pathMatch(.*)*', name: 'admin-not-found', component: () => import('./pages/AdminHome.vue') },
]
