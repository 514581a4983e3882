/**
 * The GraphQL client: one `fetch` per operation to `/graphql`, typed by the
 * documents that GraphQL Code Generator makes from `schema.graphql`
 * (`graphql(...)` in `@/gql`). It adds the bearer token, refreshes it once
 * on UNAUTHENTICATED, and throws `ApiError` for every failure.
 */
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core'
import { ApiError, fromGraphQLErrors, networkError, type GraphQLErrorLike } from './errors'
import { session, type TokenPair } from './session'

export type Doc<R, V> = DocumentTypeDecoration<R, V> & { toString(): string }

export const GRAPHQL_ENDPOINT = '/graphql'

export interface RequestOptions {
  /** Send the access token (default true). */
  auth?: boolean
  signal?: AbortSignal
}

interface GraphQLResponse<R> {
  data?: R | null
  errors?: GraphQLErrorLike[]
}

let fetchImpl: typeof fetch = (...args) => fetch(...args)

/** For tests: replace the transport. */
export function setFetch(fn: typeof fetch): void {
  fetchImpl = fn
}

async function post<R>(
  query: string,
  variables: unknown,
  token: string | null,
  signal?: AbortSignal,
): Promise<GraphQLResponse<R> & { status: number }> {
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    Accept: 'application/graphql-response+json, application/json',
  }
  if (token) headers.Authorization = `Bearer ${token}`
  let res: Response
  try {
    res = await fetchImpl(GRAPHQL_ENDPOINT, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables: variables ?? {} }),
      signal,
    })
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err
    throw networkError(err)
  }
  let body: GraphQLResponse<R>
  try {
    body = (await res.json()) as GraphQLResponse<R>
  } catch (err) {
    // A proxy's HTML error page, a truncated body on a bad connection…
    throw res.status >= 500 || res.status === 0
      ? new ApiError('NETWORK', `HTTP ${res.status}`, { status: res.status, cause: err })
      : new ApiError('UNKNOWN', `HTTP ${res.status}`, { status: res.status, cause: err })
  }
  return { ...body, status: res.status }
}

function isUnauthenticated(errors: GraphQLErrorLike[] | undefined): boolean {
  return !!errors?.some((e) => e.extensions?.code === 'UNAUTHENTICATED')
}

/**
 * Runs one operation and returns its data. Throws `ApiError` (network,
 * HTTP or GraphQL errors: the first one decides the code).
 */
export async function gqlRequest<R, V>(
  doc: Doc<R, V>,
  ...[variables, opts]: V extends Record<string, never> ? [V?, RequestOptions?] : [V, RequestOptions?]
): Promise<R> {
  const query = doc.toString()
  const auth = opts?.auth ?? true
  let token = auth ? await tokenOrNull() : null
  let res = await post<R>(query, variables, token, opts?.signal)
  if (token && isUnauthenticated(res.errors)) {
    // Expired or revoked between our check and the server's: refresh once.
    token = await session.refresh().catch(() => null)
    if (token) res = await post<R>(query, variables, token, opts?.signal)
  }
  if (res.errors?.length) throw fromGraphQLErrors(res.errors, res.status)
  if (res.data === undefined || res.data === null) {
    throw new ApiError('UNKNOWN', `HTTP ${res.status} without data`, { status: res.status })
  }
  return res.data
}

async function tokenOrNull(): Promise<string | null> {
  try {
    return await session.validAccessToken()
  } catch {
    // Network trouble while refreshing: go on without a token; the server
    // answers UNAUTHENTICATED where one is needed.
    return session.accessToken
  }
}

const REFRESH = /* GraphQL */ `
  mutation Refresh($refreshToken: String!) {
    refreshToken(refreshToken: $refreshToken) {
      accessToken
      accessTokenExpiresAt
      refreshToken
      refreshTokenExpiresAt
    }
  }
`

session.setRefresher(async (refreshToken) => {
  const res = await post<{ refreshToken: TokenPair }>(REFRESH, { refreshToken }, null)
  if (res.errors?.length) throw fromGraphQLErrors(res.errors, res.status)
  if (!res.data) throw new ApiError('UNKNOWN', 'refresh without data')
  return res.data.refreshToken
})
