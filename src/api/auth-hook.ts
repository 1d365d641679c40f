/**
 * Glue between the route table and src/auth: builds the framework's {@link AuthHook} from
 * src/auth's `authenticate(...)` middleware (`authHook`) or from the same work as plain
 * functions (`authGuardHook`), and enforces what each route declares — the credential kinds
 * it accepts (`jwt` → user tokens, `api_key` → API keys, `service` → service secrets;
 * anything else is 403) and its `scopes` (403 `insufficient_scope`).
 */
import type { Context, Middleware } from 'koa'
import { requireScope, type PrincipalKind } from '../auth/principal.ts'
import { FormStateError } from '../errors.ts'
import type { AnyRoute, AuthMode } from './openapi.ts'
import type { ApiState, AuthHook, RouteGuard } from './router.ts'

const KIND_OF: Record<Exclude<AuthMode, 'public'>, PrincipalKind> = { jwt: 'user', api_key: 'api_key', service: 'service' }

export interface AuthHookOptions {
  /** `authenticate({...})`: sets `ctx.state.principal` or throws 401. */
  required: Middleware
  /**
   * `authenticate({..., optional: true})`, for routes that accept `public` as well as
   * credentials. Without it such routes run without authentication.
   */
  optional?: Middleware
}

/** What each route checks once a principal is known: credential kind and scopes (403). */
function routeCheck (route: AnyRoute, modes: readonly AuthMode[]): (ctx: Context) => void {
  const kinds = new Set(modes.filter((m): m is Exclude<AuthMode, 'public'> => m !== 'public').map((m) => KIND_OF[m]))
  const scopes = route.scopes ?? []
  return (ctx) => {
    const p = (ctx.state as ApiState).principal
    if (p === undefined) return
    if (!kinds.has(p.kind)) {
      throw new FormStateError('forbidden', `this route does not accept ${p.kind.replace('_', ' ')} credentials (accepts ${modes.join(', ')})`)
    }
    if (p.kind !== 'service') for (const scope of scopes) requireScope(p, scope)
  }
}

/** The framework's auth hook over src/auth's middleware. */
export function authHook (opts: AuthHookOptions): AuthHook {
  return (route, modes) => {
    const isPublic = modes.includes('public')
    const checkRoute = routeCheck(route, modes)
    const check: Middleware = async (ctx, next) => {
      checkRoute(ctx)
      await next()
    }
    const first = isPublic ? opts.optional : opts.required
    if (first === undefined) return check
    return (ctx, next) => first(ctx, () => check(ctx, next))
  }
}

/** {@link authHook}'s options in guard form: src/auth's steps as plain functions. */
export interface AuthGuardOptions {
  /** Sets `ctx.state.principal` or throws 401 (`authenticateRequest` + whatever follows it). */
  required: RouteGuard
  /** The same for routes that also accept `public`: passes without credentials. */
  optional?: RouteGuard
}

/**
 * The auth hook of {@link authHook} built from guards: the router runs authentication, the
 * kind/scope check and then the handler in one frame per request (the middleware form,
 * still provided for anyone composing it, wraps the same guard).
 */
export function authGuardHook (opts: AuthGuardOptions): AuthHook {
  const guard = (route: AnyRoute, modes: readonly AuthMode[]): RouteGuard => {
    const checkRoute = routeCheck(route, modes)
    const first = modes.includes('public') ? opts.optional : opts.required
    if (first === undefined) return checkRoute
    return (ctx) => {
      const waiting = first(ctx)
      if (waiting === undefined) { checkRoute(ctx); return }
      return waiting.then(() => checkRoute(ctx))
    }
  }
  const hook: AuthHook = (route, modes) => {
    const g = guard(route, modes)
    return (ctx, next) => {
      try {
        const waiting = g(ctx)
        return waiting === undefined ? next() : waiting.then(() => next())
      } catch (err) {
        return Promise.reject(err)
      }
    }
  }
  hook.guard = guard
  return hook
}
