/**
 * The error middleware: every failure leaves the API as an RFC 9457
 * `application/problem+json` body `{type, title, status, detail, code, request_id, field?,
 * …extra}`. FormStateError codes map to their status (src/errors.ts), crdt/ CrdtError codes
 * to the FormStateError code of the same meaning, Koa/http-errors by status, zod errors to
 * `invalid_field`/`unknown_field`. Anything else is a 500 `internal` whose detail is generic:
 * the error (with its stack) goes to the log, never to the client.
 */
import { STATUS_CODES } from 'node:http'
import type { Context, Middleware } from 'koa'
import { z } from 'zod'
import { CrdtError, type CrdtErrorCode } from '../../crdt/errors.ts'
import { ERROR_STATUS, FormStateError, isFormStateError, type ErrorCode } from '../errors.ts'
import type { Logger } from '../log.ts'
import { zodToFormStateError } from './validate.ts'

/** Prefix of the problem `type` URI; the code is appended. */
export const PROBLEM_TYPE_BASE = 'urn:form-state:problem:'

/** The problem+json body. */
export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: ErrorCode
  request_id: string
  field?: string
  [extra: string]: unknown
}

const CRDT_CODES: Record<CrdtErrorCode, ErrorCode> = {
  decode_truncated: 'decode_truncated',
  decode_invalid: 'decode_invalid',
  decode_oversized: 'decode_oversized',
  invalid_delta: 'invalid_op',
  // The bounded (escrow) counter guards credit balances: running out of rights to
  // decrement is, to a client, running out of credits (402).
  insufficient_rights: 'credits_insufficient',
}

/** Status → code for errors thrown by Koa itself, http-errors or the body parser. */
const STATUS_CODE: Record<number, ErrorCode> = {
  400: 'invalid_request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'not_ready',
}

const GENERIC_500 = 'internal error; the server log has details under this request id'

/** Converts any thrown value into a FormStateError, or undefined when it is unexpected. */
export function toFormStateError (err: unknown): FormStateError | undefined {
  if (isFormStateError(err)) return err
  if (err instanceof CrdtError) return new FormStateError(CRDT_CODES[err.code], err.message, { cause: err })
  if (err instanceof z.ZodError) return zodToFormStateError(err)
  const e = err as { status?: unknown, statusCode?: unknown, expose?: unknown, message?: unknown, type?: unknown } | null
  const status = typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : undefined
  // Only client errors are trusted to carry a presentable message (http-errors sets `expose`).
  if (status !== undefined && status >= 400 && status < 500) {
    const code = e!.type === 'entity.parse.failed' ? 'invalid_json' : STATUS_CODE[status] ?? 'invalid_request'
    const detail = typeof e!.message === 'string' && e!.expose !== false ? e!.message : STATUS_CODES[status] ?? 'bad request'
    return new FormStateError(code, detail, { cause: err })
  }
  return undefined
}

/** Builds the problem body for `err` (already mapped). */
export function problemOf (err: FormStateError, requestId: string, typeBase = PROBLEM_TYPE_BASE): Problem {
  const status = ERROR_STATUS[err.code]
  const hidden = status >= 500 && err.code !== 'not_ready'
  const problem: Problem = {
    // extra first so that it cannot overwrite the standard members
    ...(err.extra ?? {}),
    type: typeBase + err.code,
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail: hidden ? GENERIC_500 : err.message,
    code: err.code,
    request_id: requestId,
  }
  if (err.field !== undefined) problem.field = err.field
  return problem
}

/** Writes a problem response on `ctx`. */
export function sendProblem (ctx: Context, problem: Problem, headers: Record<string, string> = {}): void {
  for (const [k, v] of Object.entries(headers)) ctx.set(k, v)
  ctx.status = problem.status
  ctx.type = 'application/problem+json'
  ctx.body = problem
}

export interface ErrorMiddlewareOptions {
  log: Logger
  typeBase?: string
}

/**
 * Catches everything thrown below it. Must sit below the request-id middleware (it reads
 * `ctx.state.requestId`) and may sit below the access log (which then logs the final status).
 */
export function errorMiddleware (opts: ErrorMiddlewareOptions): Middleware {
  return async (ctx, next) => {
    try {
      await next()
    } catch (err) {
      renderError(ctx, err, opts)
    }
  }
}

/** What the error middleware does with a caught `err`: log it if unexpected, answer the problem. */
export function renderError (ctx: Context, err: unknown, opts: ErrorMiddlewareOptions): void {
  const requestId = String(ctx.state.requestId ?? '')
  let mapped = toFormStateError(err)
  if (mapped === undefined || mapped.status >= 500) {
    opts.log.error('request failed', { request_id: requestId, method: ctx.method, path: ctx.path, err })
  }
  mapped ??= new FormStateError('internal', 'unexpected error', { cause: err })
  if (ctx.headerSent) return // too late to change the response; it is logged
  sendProblem(ctx, problemOf(mapped, requestId, opts.typeBase), mapped.headers)
}
