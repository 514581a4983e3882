import { describe, expect, it } from 'vitest'
import { ApiError, errorMessage, fromGraphQLErrors, networkError, PROCEDURE_CODES, toApiError } from '@/api/errors'
import { i18n, setLocale } from '@/i18n'

const { t, te } = i18n.global
const msg = (err: unknown) => errorMessage(err, (k, n) => (n ? t(k, n) : t(k)), (k) => te(k))

describe('fromGraphQLErrors', () => {
  it('reads code, field and retryAfter from extensions', () => {
    const e = fromGraphQLErrors([
      { message: 'slow down', extensions: { code: 'RATE_LIMITED', retryAfter: 17 } },
      { message: 'second', extensions: { code: 'FORBIDDEN' } },
    ])
    expect(e.code).toBe('RATE_LIMITED')
    expect(e.retryAfter).toBe(17)
    const f = fromGraphQLErrors([{ message: 'bad', extensions: { code: 'BAD_USER_INPUT', field: 'email' } }])
    expect(f.field).toBe('email')
  })

  it('treats unknown or missing codes as UNKNOWN', () => {
    expect(fromGraphQLErrors([{ message: 'x' }]).code).toBe('UNKNOWN')
    expect(fromGraphQLErrors([{ message: 'x', extensions: { code: 'TEAPOT' } }]).code).toBe('UNKNOWN')
    expect(fromGraphQLErrors([]).code).toBe('UNKNOWN')
  })

  it('keeps the procedure’s own codes and says which rule refused, in both languages', () => {
    const e = fromGraphQLErrors([{ message: 'participation stayed below the quorum of 30%', extensions: { code: 'QUORUM_JUSTIFICATION_REQUIRED' } }])
    expect(e.code).toBe('QUORUM_JUSTIFICATION_REQUIRED')
    for (const code of PROCEDURE_CODES) {
      setLocale('zh-CN')
      const zh = msg(new ApiError(code, 'x'))
      setLocale('en')
      const en = msg(new ApiError(code, 'x'))
      expect(zh, code).not.toBe(t('errors.UNKNOWN', {}, { locale: 'zh-CN' }))
      expect(en, code).not.toMatch(/^errors\./)
      expect(zh).not.toBe(en)
    }
    setLocale('zh-CN')
    expect(msg(new ApiError('OPENS_AT_NOT_REACHED', 'x'))).toMatch(/自动开始/)
  })

  it('maps parse failures to GRAPHQL_VALIDATION_FAILED', () => {
    expect(fromGraphQLErrors([{ message: 'x', extensions: { code: 'GRAPHQL_PARSE_FAILED' } }]).code).toBe(
      'GRAPHQL_VALIDATION_FAILED',
    )
  })
})

describe('errorMessage', () => {
  it('speaks Chinese by default and English when switched', () => {
    setLocale('zh-CN')
    expect(msg(new ApiError('FORBIDDEN', 'forbidden'))).toBe('您没有权限进行此操作')
    setLocale('en')
    expect(msg(new ApiError('FORBIDDEN', 'forbidden'))).toBe('You are not allowed to do this.')
    setLocale('zh-CN')
  })

  it('puts the wait into RATE_LIMITED, rounding up and defaulting to a minute', () => {
    expect(msg(new ApiError('RATE_LIMITED', '', { retryAfter: 2.2 }))).toContain('3 秒')
    expect(msg(new ApiError('RATE_LIMITED', ''))).toContain('60 秒')
  })

  it('uses a field-specific message for BAD_USER_INPUT when there is one', () => {
    expect(msg(new ApiError('BAD_USER_INPUT', 'x', { field: 'token' }))).toBe('链接无效、已使用或已过期')
    expect(msg(new ApiError('BAD_USER_INPUT', 'x', { field: 'mystery' }))).toContain('mystery')
    expect(msg(new ApiError('BAD_USER_INPUT', 'x'))).toBe('填写的内容有误，请检查后再试')
  })

  it('never shows the raw server message for unknown errors', () => {
    expect(msg(new Error('SQLITE_BUSY at 0xdeadbeef'))).toBe('出错了，请稍后再试')
  })

  it('reports fetch failures as network errors', () => {
    expect(toApiError(new TypeError('Failed to fetch')).code).toBe('NETWORK')
    expect(msg(networkError(new Error('reset')))).toBe('网络连接失败，请检查网络后再试')
  })
})
