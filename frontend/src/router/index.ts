/**
 * Routes. Resident pages are lazy chunks of their own; the admin panel
 * (`/admin/**`) is loaded on first visit: `src/admin/routes.ts` and
 * everything it imports (Element Plus included) stay out of the resident
 * bundle, then its routes are added under `/admin` with `AdminApp.vue` as
 * their layout.
 *
 * Route meta: `auth: true` needs a signed-in user (else → /login?redirect=…;
 * only these wait for a stored session to be restored before rendering);
 * `title` is an i18n key for document.title.
 */
import { createRouter, createWebHistory, type Router, type RouteRecordRaw } from 'vue-router'
import { useAuthStore } from '@/stores/auth'
import { i18n } from '@/i18n'
// The layout and the home page are in the entry chunk: most visits start
// there, and it saves a round trip on slow networks (Lighthouse LCP).
import ResidentLayout from '@/layouts/ResidentLayout.vue'
import HomePage from '@/pages/home/index.vue'

declare module 'vue-router' {
  interface RouteMeta {
    auth?: boolean
    title?: string
    /** Hide the resident tab bar (forms, detail pages). */
    noTabbar?: boolean
  }
}

export const residentRoutes: RouteRecordRaw[] = [
  {
    path: '/',
    component: ResidentLayout,
    children: [
      { path: '', name: 'home', component: HomePage, meta: { title: 'resident.nav.home' } },
      { path: 'login', name: 'login', component: () => import('@/pages/auth/Login.vue'), meta: { title: 'resident.auth.signIn', noTabbar: true } },
      { path: 'register', name: 'register', component: () => import('@/pages/auth/Register.vue'), meta: { title: 'resident.auth.signUp', noTabbar: true } },
      { path: 'verify-email', name: 'verify-email', component: () => import('@/pages/auth/VerifyEmail.vue'), meta: { title: 'resident.auth.verifyTitle', noTabbar: true } },
      { path: 'forgot-password', name: 'forgot-password', component: () => import('@/pages/auth/ForgotPassword.vue'), meta: { title: 'resident.auth.forgotTitle', noTabbar: true } },
      { path: 'reset-password', name: 'reset-password', component: () => import('@/pages/auth/ResetPassword.vue'), meta: { title: 'resident.auth.resetTitle', noTabbar: true } },
      { path: 'residency', name: 'residency', component: () => import('@/pages/residency/index.vue'), meta: { auth: true, title: 'resident.residency.title', noTabbar: true } },
      { path: 'topics/:id', name: 'topic', component: () => import('@/pages/topic/index.vue'), meta: { title: 'resident.topic.title', noTabbar: true } },
      { path: 'me', name: 'me', component: () => import('@/pages/me/index.vue'), meta: { auth: true, title: 'resident.nav.me' } },
      { path: 'me/opinions', name: 'my-opinions', component: () => import('@/pages/opinions/index.vue'), meta: { auth: true, title: 'resident.opinions.title', noTabbar: true } },
      { path: 'explanations', name: 'explanations', component: () => import('@/pages/explanations/index.vue'), meta: { auth: true, title: 'resident.explanations.title', noTabbar: true } },
      { path: 'explanations/:id', name: 'explanation', component: () => import('@/pages/explanations/Detail.vue'), meta: { title: 'resident.explanations.one', noTabbar: true } },
      { path: 'suggestions', name: 'suggestions', component: () => import('@/pages/suggestions/index.vue'), meta: { title: 'resident.nav.suggestions' } },
      { path: 'suggestions/new', name: 'suggest', component: () => import('@/pages/suggestions/New.vue'), meta: { auth: true, title: 'resident.suggestions.new', noTabbar: true } },
      { path: 'notifications', name: 'notifications', component: () => import('@/pages/notifications/index.vue'), meta: { auth: true, title: 'resident.nav.notifications' } },
      { path: 'board/:code', name: 'board', component: () => import('@/pages/board/index.vue'), meta: { title: 'resident.board.title', noTabbar: true } },
      { path: 'settings', name: 'settings', component: () => import('@/pages/settings/index.vue'), meta: { title: 'resident.settings.title', noTabbar: true } },
      { path: ':pathMatch(.*)*', name: 'not-found', component: () => import('@/pages/NotFound.vue'), meta: { title: 'common.notFound', noTabbar: true } },
    ],
  },
]

let adminInstalled: Promise<void> | null = null

/** Adds the admin routes (once); resolves when they are in place. */
export function installAdminRoutes(router: Router): Promise<void> {
  adminInstalled ??= import('@/admin/routes').then(({ adminRoutes }) => {
    router.removeRoute('admin-loader')
    router.addRoute({
      path: '/admin',
      component: () => import('@/admin/AdminApp.vue'),
      children: adminRoutes,
    })
  })
  return adminInstalled
}

export function createAppRouter(): Router {
  const router = createRouter({
    history: createWebHistory(),
    routes: [
      {
        // Stands in for the admin panel until its chunk is loaded.
        path: '/admin/:rest(.*)*',
        name: 'admin-loader',
        component: () => import('@/pages/NotFound.vue'),
        beforeEnter: async (to) => {
          await installAdminRoutes(router)
          return { path: to.path, query: to.query, hash: to.hash, replace: true }
        },
      },
      ...residentRoutes,
    ],
    scrollBehavior: (_to, _from, saved) => saved ?? { top: 0 },
  })

  router.beforeEach(async (to) => {
    const auth = useAuthStore()
    // Public pages do not wait for a stored session to be restored: they
    // render at once (the home page from what it showed last time) and
    // follow the user once it is known. Pages that need one wait.
    if (!to.meta.auth) {
      void auth.restore()
      return true
    }
    await auth.restore()
    if (!auth.user) {
      return { name: 'login', query: { redirect: to.fullPath } }
    }
    return true
  })

  router.afterEach((to) => {
    const key = to.meta.title
    const app = i18n.global.t('app.name')
    document.title = key ? `${i18n.global.t(key)} · ${app}` : app
  })

  return router
}
