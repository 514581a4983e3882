/**
 * Who is signed in. The access token stays in memory (in `session`), the
 * refresh token in localStorage; this store holds the user and the actions
 * that change the session.
 */
import { computed, ref, shallowRef } from 'vue'
import { defineStore } from 'pinia'
import { graphql } from '@/gql'
import type { MeQuery, RegisterInput } from '@/gql/graphql'
import { gqlRequest } from '@/api/client'
import { session } from '@/api/session'
import { toApiError } from '@/api/errors'
import { forgetAll } from '@/utils/lastSeen'

export const MeDocument = graphql(`
  query Me {
    me {
      id
      email
      displayName
      locale
      emailVerified
      roles {
        id
        role
        divisionCode
        division {
          code
          name
          pathName
        }
      }
      residency {
        id
        status
        divisionCode
        division {
          code
          name
          pathName
        }
      }
    }
  }
`)

const LoginDocument = graphql(`
  mutation Login($email: String!, $password: String!) {
    login(email: $email, password: $password) {
      accessToken
      accessTokenExpiresAt
      refreshToken
      refreshTokenExpiresAt
    }
  }
`)

const RegisterDocument = graphql(`
  mutation Register($input: RegisterInput!) {
    register(input: $input) {
      email
    }
  }
`)

const LogoutDocument = graphql(`
  mutation Logout($refreshToken: String!) {
    logout(refreshToken: $refreshToken)
  }
`)

const SetMyLocaleDocument = graphql(`
  mutation SetMyLocale($locale: String!) {
    setMyLocale(locale: $locale) {
      id
      locale
    }
  }
`)

export type CurrentUser = NonNullable<MeQuery['me']>

export const useAuthStore = defineStore('auth', () => {
  const user = shallowRef<CurrentUser | null>(null)
  const signedIn = ref(session.maybeSignedIn)
  /** True while a stored session is being restored (the user is not known yet). */
  const restoring = ref(false)
  let restoreRun: Promise<void> | null = null

  session.onChange((v) => {
    signedIn.value = v
    if (!v) {
      user.value = null
      forgetAll()
    }
  })

  async function fetchMe(): Promise<CurrentUser | null> {
    const data = await gqlRequest(MeDocument)
    user.value = data.me ?? null
    if (!data.me) session.clear()
    return user.value
  }

  /** Loads the user once per page load when a session may exist. Never throws. */
  function restore(): Promise<void> {
    restoreRun ??= (async () => {
      if (!session.maybeSignedIn) return
      restoring.value = true
      try {
        await fetchMe()
      } catch (err) {
        // Offline: keep the refresh token, try again on the next navigation.
        if (toApiError(err).code === 'NETWORK') restoreRun = null
      } finally {
        restoring.value = false
      }
    })()
    return restoreRun
  }

  async function login(email: string, password: string): Promise<CurrentUser | null> {
    const data = await gqlRequest(LoginDocument, { email: email.trim(), password }, { auth: false })
    session.set(data.login)
    return fetchMe()
  }

  /**
   * Registers, then signs in with the same password. The server answers an
   * address that already has an account exactly like a new one (and emails
   * its owner), so a sign-in that fails here is not an error to show: the
   * page says "check your email" either way.
   */
  async function register(input: RegisterInput): Promise<CurrentUser | null> {
    const data = await gqlRequest(RegisterDocument, { input }, { auth: false })
    try {
      return await login(data.register.email, input.password)
    } catch (err) {
      if (toApiError(err).code === 'UNAUTHENTICATED') return null
      throw err
    }
  }

  async function logout(): Promise<void> {
    const refreshToken = session.refreshToken
    if (refreshToken) await gqlRequest(LogoutDocument, { refreshToken }).catch(() => undefined)
    session.clear()
    user.value = null
  }

  let localeQueue: Promise<unknown> = Promise.resolve()
  /** Saves the language of my emails and pages on the account (one change at a time, in order). */
  function saveLocale(locale: string): Promise<void> {
    const run = localeQueue.then(async () => {
      const data = await gqlRequest(SetMyLocaleDocument, { locale })
      if (user.value) user.value = { ...user.value, locale: data.setMyLocale.locale }
    })
    localeQueue = run.catch(() => undefined)
    return run
  }

  const residency = computed(() => user.value?.residency ?? null)
  const isVerifiedResident = computed(() => residency.value?.status === 'APPROVED')
  const villageCode = computed(() => (isVerifiedResident.value ? residency.value?.divisionCode ?? null : null))
  const isStaff = computed(() => (user.value?.roles.length ?? 0) > 0)

  return { user, signedIn, restoring, fetchMe, restore, login, register, logout, saveLocale, residency, isVerifiedResident, villageCode, isStaff }
})
