/**
 * The API's authentication chain, assembled from src/auth: API key, then JWT, then
 * service credentials (`authenticate`), followed by the per-principal rate limit. The
 * result is the framework's AuthHook.
 */
import type { Context, Middleware, Next } from 'koa'
import type { JwtVerifier } from '../auth/jwt.ts'
import { authenticate, type ApiKeyAuthenticator } from '../auth/middleware.ts'
import type { Principal } from '../auth/principal.ts'
import { rateLimit } from '../auth/rate-limit-middleware.ts'
import type { GcraRateLimiter, RateLimit } from '../auth/rate-limit.ts'
import type { ServiceVerifier } from '../auth/service-auth.ts'
import { authHook } from './auth-hook.ts'
import type { AuthHook } from './router.ts'

export interface SecurityOptions {
  jwt: JwtVerifier
  services?: ServiceVerifier
  apiKeys?: ApiKeyAuthenticator
  limiter: GcraRateLimiter
  /** The rate limit of a principal (by its tier), undefined for none (services). */
  limitFor: (p: Principal) => RateLimit | undefined
}

function chain (a: Middleware, b: Middleware): Middleware {
  return (ctx: Context, next: Next) => a(ctx, () => b(ctx, next))
}

export function securityHook (opts: SecurityOptions): AuthHook {
  const base = {
    jwt: opts.jwt,
    ...(opts.services !== undefined ? { services: opts.services } : {}),
    ...(opts.apiKeys !== undefined ? { apiKeys: opts.apiKeys } : {}),
  }
  const limit = rateLimit({ limiter: opts.limiter, limitFor: opts.limitFor }) as Middleware
  return authHook({
    required: chain(authenticate(base) as Middleware, limit),
    optional: chain(authenticate({ ...base, optional: true }) as Middleware, limit),
  })
}
