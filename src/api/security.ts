/**
 * The API's authentication chain, assembled from src/auth: service credentials, API key or
 * JWT (`authenticateRequest`, the work of `authenticate()`), then the per-principal rate
 * limit (`applyRateLimit`, the work of `rateLimit()`), then the route's kind and scope
 * checks (auth-hook.ts). The result is the framework's AuthHook in guard form: plain calls
 * before the handler rather than a chain of middlewares.
 */
import type { JwtVerifier } from '../auth/jwt.ts'
import { authenticateRequest, type ApiKeyAuthenticator, type AuthenticateOptions } from '../auth/middleware.ts'
import type { Principal } from '../auth/principal.ts'
import { applyRateLimit } from '../auth/rate-limit-middleware.ts'
import type { GcraRateLimiter, RateLimit } from '../auth/rate-limit.ts'
import type { ServiceVerifier } from '../auth/service-auth.ts'
import { authGuardHook } from './auth-hook.ts'
import type { AuthHook, RouteGuard } from './router.ts'

export interface SecurityOptions {
  jwt: JwtVerifier
  services?: ServiceVerifier
  apiKeys?: ApiKeyAuthenticator
  limiter: GcraRateLimiter
  /** The rate limit of a principal (by its tier), undefined for none (services). */
  limitFor: (p: Principal) => RateLimit | undefined
}

/**
 * The API's auth hook: for each route, authenticate (`required`, or `optional` on routes
 * that also accept `public`), then the rate limit, then the route's kind and scope checks
 * (`authGuardHook`), all as plain calls in one frame before the handler. A request whose
 * principal is known at once (a cached JWT) gets through without a promise of its own.
 */
export function securityHook (opts: SecurityOptions): AuthHook {
  const base = {
    jwt: opts.jwt,
    ...(opts.services !== undefined ? { services: opts.services } : {}),
    ...(opts.apiKeys !== undefined ? { apiKeys: opts.apiKeys } : {}),
  }
  const limits = { limiter: opts.limiter, limitFor: opts.limitFor }
  // authenticate(...) then rateLimit(...), as the middleware chain ran them.
  const step = (auth: AuthenticateOptions): RouteGuard => (ctx) => {
    const waiting = authenticateRequest(ctx, auth)
    if (waiting === undefined) { applyRateLimit(ctx, limits); return }
    return waiting.then(() => applyRateLimit(ctx, limits))
  }
  return authGuardHook({ required: step(base), optional: step({ ...base, optional: true }) })
}
