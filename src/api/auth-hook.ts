/**
 * Glue between the route table and src/auth: builds the framework's {@link AuthHook} from
 * src/auth's `authenticate(...)` middleware, and enforces what each route declares — the
 * credential kinds it accepts (`jwt` → user tokens, `api_key` → API keys, `service` →
 * service secrets; anything else is 403) and its `scopes` (403 `insufficient_scope`).
 */
import type { Middleware } from 'koa'
import { requireScope, type PrincipalKind } from '../auth/principal.ts'
import { FormStateError } from '../errors.ts'
import type { AuthMode } from './openapi.ts'
import type { ApiState, AuthHook } from './router.ts'

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

/** The framework's auth hook over src/auth's middleware. */
export function authHook (opts: AuthHookOptions): AuthHook {
  return (route, modes) => {
    const isPublic = modes.includes('public')
    const kinds = new Set(modes.filter((m): m is Exclude<AuthMode, 'public'> => m !== 'public').map((m) => KIND_OF[m]))
    const check: Middleware = async (ctx, next) => {
      const p = (ctx.state as ApiState).principal
      if (p !== undefined) {
        if (!kinds.has(p.kind)) {
          throw new FormStateError('forbidden', `this route does not accept ${p.kind.replace('_', ' ')} credentials (accepts ${modes.join(', ')})`)
        }
        if (p.kind !== 'service') for (const scope of route.scopes ?? []) requireScope(p, scope)
      }
      await next()
    }
    const first = isPublic ? opts.optional : opts.required
    if (first === undefined) return check
    return (ctx, next) => first(ctx, () => check(ctx, next))
  }
}
