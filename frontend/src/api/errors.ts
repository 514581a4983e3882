/**
 * API errors → messages in the user's language.
 *
 * The backend puts a machine-readable `extensions.code` on every error
 * (README "The API"); requests refused before GraphQL runs carry one too
 * (BAD_REQUEST, PAYLOAD_TOO_LARGE, …). Network failures have no answer at
 * all. `ApiError` keeps the code, the field of a BAD_USER_INPUT and the
 * RATE_LIMITED delay; `errorMessage` turns it into a sentence via i18n keys
 * under `errors.*`.
 */

export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'RATE_LIMITED'
  | 'GRAPHQL_VALIDATION_FAILED'
  | 'BAD_REQUEST'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'INTERNAL'
  | 'NETWORK'
  | 'UNKNOWN'
  | ProcedureCode

/**
 * The consultation procedure's own refusals (a rule named by its code, so
 * the client can say which rule and offer the explicit exception).
 */
export const PROCEDURE_CODES = [
  'OPENS_AT_NOT_REACHED',
  'ASSESSMENT_REQUIRED',
  'EARLY_CLOSE_NEEDS_COUNTERSIGNATURE',
  'CORRECTION_NEEDS_FLAG',
  'CORRECTION_REQUIRED',
  'DISSENTERS_NOT_EXPLAINED',
  'OPEN_SUPERVISION_FLAG',
  'QUORUM_JUSTIFICATION_REQUIRED',
  'TALLIES_SEALED',
  'NOT_ENTRUSTED',
  'REPORT_NOT_SUBMITTED',
] as const
export type ProcedureCode = (typeof PROCEDURE_CODES)[number]

const KNOWN = new Set<string>([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'CONFLICT',
  'RATE_LIMITED',
  'GRAPHQL_VALIDATION_FAILED',
  'GRAPHQL_PARSE_FAILED',
  'BAD_REQUEST',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'INTERNAL',
  'INTERNAL_SERVER_ERROR',
  ...PROCEDURE_CODES,
])

/** One error object of a GraphQL response, as far as we read it. */
export interface GraphQLErrorLike {
  message: string
  path?: ReadonlyArray<string | number>
  extensions?: Record<string, unknown>
}

export class ApiError extends Error {
  readonly code: ErrorCode
  /** The input field a BAD_USER_INPUT is about, e.g. `email`. */
  readonly field?: string
  /** Seconds to wait, for RATE_LIMITED. */
  readonly retryAfter?: number
  /** The server's own message (English, for logs; never shown raw unless nothing better). */
  readonly serverMessage: string
  readonly status?: number

  constructor(
    code: ErrorCode,
    serverMessage: string,
    opts: { field?: string; retryAfter?: number; status?: number; cause?: unknown } = {},
  ) {
    super(`${code}: ${serverMessage}`)
    this.name = 'ApiError'
    this.code = code
    this.serverMessage = serverMessage
    this.field = opts.field
    this.retryAfter = opts.retryAfter
    this.status = opts.status
    if (opts.cause !== undefined) (this as { cause?: unknown }).cause = opts.cause
  }
}

function normaliseCode(raw: unknown): ErrorCode {
  if (typeof raw !== 'string') return 'UNKNOWN'
  if (!KNOWN.has(raw)) return 'UNKNOWN'
  if (raw === 'GRAPHQL_PARSE_FAILED') return 'GRAPHQL_VALIDATION_FAILED'
  if (raw === 'INTERNAL_SERVER_ERROR') return 'INTERNAL'
  return raw as ErrorCode
}

/** Builds an ApiError from the first error of a GraphQL response. */
export function fromGraphQLErrors(errors: ReadonlyArray<GraphQLErrorLike>, status?: number): ApiError {
  const first = errors[0] ?? { message: 'unknown error' }
  const ext = first.extensions ?? {}
  const code = normaliseCode(ext.code)
  const field = typeof ext.field === 'string' ? ext.field : undefined
  const retryAfterRaw = ext.retryAfter ?? ext.retry_after
  const retryAfter =
    typeof retryAfterRaw === 'number'
      ? retryAfterRaw
      : typeof retryAfterRaw === 'string' && retryAfterRaw.trim() !== '' && !Number.isNaN(Number(retryAfterRaw))
        ? Number(retryAfterRaw)
        : undefined
  return new ApiError(code, first.message, { field, retryAfter, status })
}

/** A fetch that never got an answer (offline, DNS, reset, timeout). */
export function networkError(cause: unknown): ApiError {
  const message = cause instanceof Error ? cause.message : String(cause)
  return new ApiError('NETWORK', message, { cause })
}

/** Turns anything thrown into an ApiError. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err
  if (err instanceof TypeError) return networkError(err) // fetch rejects with TypeError
  const message = err instanceof Error ? err.message : String(err)
  return new ApiError('UNKNOWN', message, { cause: err })
}

type Translate = (key: string, named?: Record<string, unknown>) => string
type Exists = (key: string) => boolean

/**
 * A readable message in the current language. For BAD_USER_INPUT a field
 * specific message is used when the locale has one (`errors.field.<field>`),
 * e.g. "This email address is already registered" reads better than the
 * generic "Please check your input".
 */
export function errorMessage(err: unknown, t: Translate, te?: Exists): string {
  const e = toApiError(err)
  switch (e.code) {
    case 'RATE_LIMITED': {
      const seconds = Math.max(1, Math.ceil(e.retryAfter ?? 60))
      return t('errors.RATE_LIMITED', { seconds })
    }
    case 'BAD_USER_INPUT': {
      if (e.field) {
        const key = `errors.field.${e.field}`
        if (te?.(key)) return t(key)
        return t('errors.BAD_USER_INPUT_FIELD', { field: fieldLabel(e.field, t, te) })
      }
      return t('errors.BAD_USER_INPUT')
    }
    case 'CONFLICT':
    case 'FORBIDDEN':
    case 'NOT_FOUND':
    case 'UNAUTHENTICATED':
    case 'GRAPHQL_VALIDATION_FAILED':
    case 'BAD_REQUEST':
    case 'PAYLOAD_TOO_LARGE':
    case 'UNSUPPORTED_MEDIA_TYPE':
    case 'INTERNAL':
    case 'NETWORK':
      return t(`errors.${e.code}`)
    case 'OPENS_AT_NOT_REACHED':
    case 'ASSESSMENT_REQUIRED':
    case 'EARLY_CLOSE_NEEDS_COUNTERSIGNATURE':
    case 'CORRECTION_NEEDS_FLAG':
    case 'CORRECTION_REQUIRED':
    case 'DISSENTERS_NOT_EXPLAINED':
    case 'OPEN_SUPERVISION_FLAG':
    case 'QUORUM_JUSTIFICATION_REQUIRED':
    case 'TALLIES_SEALED':
    case 'NOT_ENTRUSTED':
    case 'REPORT_NOT_SUBMITTED':
      return t(`errors.procedure.${e.code}`)
    default:
      return t('errors.UNKNOWN')
  }
}

function fieldLabel(field: string, t: Translate, te?: Exists): string {
  const key = `fields.${field}`
  return te?.(key) ? t(key) : field
}
