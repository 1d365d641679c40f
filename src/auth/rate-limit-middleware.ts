/**
 * Koa glue for the GCRA limiter: runs after `authenticate()`, picks the bucket key and the
 * limit for the principal, sets the `X-RateLimit-*` headers on every answer and throws a
 * 429 FormStateError (with `Retry-After`) on refusal. Which limit a tier gets is the
 * caller's decision (`limitFor`), so this file knows nothing about billing.
 */
import type { Context, Middleware, Next } from 'koa'
import type { AuthState } from './middleware.ts'
import type { Principal } from './principal.ts'
import { rateLimitError, type GcraRateLimiter, type RateLimit } from './rate-limit.ts'

/** What `rateLimit()` needs. */
export interface RateLimitMiddlewareOptions {
  readonly limiter: GcraRateLimiter
  /** The limit for an authenticated principal, or undefined for no limit (e.g. services). */
  readonly limitFor: (p: Principal) => RateLimit | undefined
  /** The limit for requests without a principal (keyed by client address); none if absent. */
  readonly anonymous?: RateLimit
}

/**
 * The bucket a principal spends from: per API key, per user subject within a project, per
 * service. Keys and users are separate buckets so one leaked key cannot starve its owner.
 */
export function rateLimitKey (p: Principal): string {
  let key = bucketKeys.get(p)
  if (key === undefined) {
    switch (p.kind) {
      case 'api_key': key = `key:${p.keyId ?? p.sub}`; break
      case 'service': key = `svc:${p.serviceName ?? p.sub}`; break
      default: key = `sub:${p.projectId}:${p.sub}`
    }
    bucketKeys.set(p, key)
  }
  return key
}

// Principals are immutable and a cached JWT's is the same object on every request: its
// bucket key is built (and its new string hashed by the limiter's map) once, not per request.
const bucketKeys = new WeakMap<Principal, string>()

/**
 * `rateLimit(opts)`'s work as a function: counts the request against its principal's bucket,
 * sets the `X-RateLimit-*` headers, and throws the 429 when refused. Synchronous.
 */
export function applyRateLimit (ctx: Context, opts: RateLimitMiddlewareOptions): void {
  const p = (ctx.state as AuthState).principal
  const limit = p === undefined ? opts.anonymous : opts.limitFor(p)
  if (limit === undefined) return
  const key = p === undefined ? `ip:${ctx.ip}` : rateLimitKey(p)
  const result = opts.limiter.check(key, limit)
  if (!result.allowed) throw rateLimitError(result)
  // rateLimitHeaders(result) set one by one, as ctx.set(object) would (same names, order and
  // values; nothing is sent yet), without the object and Koa's loop over it.
  const res = ctx.res
  res.setHeader('X-RateLimit-Limit', String(result.limit))
  res.setHeader('X-RateLimit-Remaining', String(result.remaining))
  res.setHeader('X-RateLimit-Reset', String(result.resetSeconds))
}

/**
 * Koa middleware enforcing per-principal rate limits. Not an async function (no frame of
 * its own around `next`); it still always returns a promise and never throws.
 */
export function rateLimit (opts: RateLimitMiddlewareOptions): Middleware<AuthState> {
  return function rateLimitMiddleware (ctx: Context, next: Next): Promise<void> {
    try {
      applyRateLimit(ctx, opts)
    } catch (err) {
      return Promise.reject(err)
    }
    return next()
  }
}
