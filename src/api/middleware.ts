/**
 * The framework's middleware, in the order app.ts mounts them: request id, access log,
 * (error middleware, errors.ts), JSON-only writes, body parser, (router), 404/405 fallback.
 */
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { bodyParser } from '@koa/bodyparser'
import type Router from '@koa/router'
import type { Context, Middleware } from 'koa'
import { FormStateError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { renderError, type ErrorMiddlewareOptions } from './errors.ts'
import type { ApiState } from './router.ts'

/** Incoming ids are echoed only if they are short and plain, so they cannot inject log lines. */
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** Reads `X-Request-Id` (or generates one), stores it on `ctx.state.requestId` and echoes it. */
export function requestId (): Middleware {
  return async (ctx, next) => {
    assignRequestId(ctx)
    await next()
  }
}

function assignRequestId (ctx: Context): void {
  // ctx.get / ctx.set without Koa's accessors: the header as Node parsed it (a string for
  // this name; '' when absent), set before anything is sent.
  const given = ctx.req.headers['x-request-id']
  const id = typeof given === 'string' && SAFE_ID.test(given) ? given : randomUUID()
  ;(ctx.state as ApiState).requestId = id
  ctx.res.setHeader('X-Request-Id', id)
}

function logRequest (log: Logger, ctx: Context, start: bigint): void {
  const state = ctx.state as ApiState
  const p = state.principal
  log.info('request', {
    request_id: state.requestId,
    method: ctx.method,
    path: ctx.path,
    route: state.route?.path,
    status: ctx.status,
    duration_ms: Number(process.hrtime.bigint() - start) / 1e6,
    ...(p !== undefined ? { principal: p.sub, principal_kind: p.kind, ...(p.keyId !== undefined ? { key_id: p.keyId } : {}) } : {}),
  })
}

/** {@link requestFrame}'s options: the error middleware's, and optionally the request timing. */
export interface RequestFrameOptions extends ErrorMiddlewareOptions {
  /**
   * Records the request's duration once its final status is known (metrics.ts
   * `httpMiddleware.observe`), with `start` from `performance.now()` as the request began.
   */
  observe?: (ctx: Context, start: number) => void
}

/**
 * (timing +) `requestId()`, `accessLog(log)` and `errorMiddleware(opts)` (outermost first)
 * as one middleware: the same request id, the same problem answers and the same access-log
 * line (written after the error is rendered, so it shows the final status), and the timing
 * recorded last, as the outermost timing middleware did, in one async frame per request.
 */
export function requestFrame (opts: RequestFrameOptions): Middleware {
  const log = opts.log
  const observe = opts.observe
  return async (ctx, next) => {
    const began = observe !== undefined ? performance.now() : 0
    assignRequestId(ctx)
    // Below `info` (e.g. --log-level warn) there is nothing to record: skip the timing too.
    const start = log.enabled('info') ? process.hrtime.bigint() : undefined
    try {
      await next()
    } catch (err) {
      renderError(ctx, err, opts)
    } finally {
      try {
        if (start !== undefined) logRequest(log, ctx, start)
      } finally {
        if (observe !== undefined) observe(ctx, began)
      }
    }
  }
}

/**
 * One line per request after it finished. Logs the path without the query string and
 * never headers: credentials travel in both.
 */
export function accessLog (log: Logger): Middleware {
  return async (ctx, next) => {
    // Below `info` (e.g. --log-level warn) there is nothing to record: skip the timing too.
    if (!log.enabled('info')) { await next(); return }
    const start = process.hrtime.bigint()
    try {
      await next()
    } finally {
      logRequest(log, ctx, start)
    }
  }
}

/** Methods whose body is read (and must be JSON). */
export const WRITE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
const JSON_TYPES = ['application/json', 'application/*+json']

/** Write requests that carry a body must carry JSON (415 `unsupported_media_type`). */
export function requireJson (): Middleware {
  return async (ctx, next) => {
    const hasBody = (ctx.request.length ?? 0) > 0 || ctx.get('Transfer-Encoding') !== ''
    if (WRITE_METHODS.has(ctx.method) && hasBody && ctx.is(...JSON_TYPES) === false) {
      throw new FormStateError('unsupported_media_type', `request body must be application/json, got '${ctx.get('Content-Type') || 'none'}'`)
    }
    await next()
  }
}

/**
 * JSON body parser with a size limit: 413 `payload_too_large` past `maxBytes` (checked
 * against Content-Length before reading, and while reading), 400 `invalid_json` when the
 * body does not parse. The raw text stays on `ctx.request.rawBody` (Stripe signatures).
 */
export function jsonBody (maxBytes: number): Middleware {
  return bodyParser({
    enableTypes: ['json'],
    extendTypes: { json: JSON_TYPES },
    parsedMethods: [...WRITE_METHODS],
    jsonLimit: maxBytes,
    onError: (err) => {
      const e = err as Error & { status?: number, type?: string }
      if (e.status === 413 || e.type === 'entity.too.large') {
        throw new FormStateError('payload_too_large', `request body exceeds ${maxBytes} bytes`, { extra: { limit: maxBytes } })
      }
      if (e instanceof SyntaxError || e.type === 'entity.parse.failed') throw new FormStateError('invalid_json', 'request body is not valid JSON (an object or array is expected)')
      if (e.status === 415) throw new FormStateError('unsupported_media_type', e.message)
      // zlib's errors (Z_DATA_ERROR, Z_BUF_ERROR: not gzip/deflate, corrupt, truncated) carry
      // no status: the client's bad body, not our failure.
      const zcode = (err as { code?: unknown }).code
      if (typeof zcode === 'string' && zcode.startsWith('Z_')) throw new FormStateError('invalid_request', `request body does not decompress as its Content-Encoding says (${zcode})`)
      throw err // the error middleware maps the rest (e.g. aborted requests, 400)
    },
  }) as Middleware
}

/**
 * Reached only when no route matched: 405 with `Allow` when the path exists under other
 * methods (OPTIONS answers 204 with `Allow`), else 404.
 */
export function fallback (router: Router): Middleware {
  return async (ctx) => {
    const matched = router.match(ctx.path, ctx.method)
    const allowed = [...new Set(matched.path.flatMap((layer) => layer.methods))]
    if (allowed.length === 0) throw new FormStateError('not_found', `no route for ${ctx.method} ${ctx.path}`)
    const allow = [...allowed, 'OPTIONS'].join(', ')
    if (ctx.method === 'OPTIONS') {
      ctx.set('Allow', allow)
      ctx.status = 204
      return
    }
    throw new FormStateError('method_not_allowed', `${ctx.method} is not allowed on ${ctx.path}`, { headers: { Allow: allow }, extra: { allow: allowed } })
  }
}
