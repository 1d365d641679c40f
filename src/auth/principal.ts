/**
 * Who is calling, and the guards that decide what they may do.
 *
 * A `Principal` is produced by exactly one authenticator (JWT, API key or service secret)
 * and attached to the request by `authenticate()`. Routes never look at raw credentials;
 * they call the guards below, which throw `FormStateError` with a stable code.
 */
import { FormStateError } from '../errors.ts'

/** Every scope the API knows. Keys and scoped tokens carry a subset of these. */
export const SCOPES = [
  'models:invoke',
  'agents:invoke',
  'agents:hire',
  'usage:read',
  'billing:read',
  'keys:manage',
] as const

/** One scope name from {@link SCOPES}. */
export type Scope = (typeof SCOPES)[number]

/** The roles a project member can hold, from most to least privileged. */
export const ROLES = ['admin', 'developer', 'user'] as const

/** One role from {@link ROLES}. */
export type Role = (typeof ROLES)[number]

/** How the caller proved who it is. */
export type PrincipalKind = 'user' | 'api_key' | 'service'

/** The authenticated caller of one request. Immutable once built. */
export interface Principal {
  readonly kind: PrincipalKind
  /** Subject: the token's `sub`, the key's owner, or `service:<name>`. */
  readonly sub: string
  /** The project (tenant) the caller belongs to; '' for a service not acting for a project. */
  readonly projectId: string
  readonly role: Role
  /** Granted scopes. A JWT without a `scope` claim is granted every scope in {@link SCOPES}. */
  readonly scopes: ReadonlySet<string>
  /** API keys: the account the key belongs to. */
  readonly accountId?: string
  /** API keys: the public key id (never the secret). */
  readonly keyId?: string
  /** API keys: the account's tier, for rate limits. */
  readonly tier?: string
  /** Services: the authenticated service name. */
  readonly serviceName?: string
  /** Services: the project the service declared (via `X-Project-Id`) it is acting for. */
  readonly actingFor?: string
}

/** Every scope, as a set: what an unscoped user token is granted. */
export const ALL_SCOPES: ReadonlySet<string> = new Set<string>(SCOPES)

function forbidden (message: string): FormStateError {
  return new FormStateError('forbidden', message)
}

/**
 * Asserts the principal holds one of `roles`. Service principals never pass a role guard:
 * roles belong to people and their keys, internal routes use {@link requireService}.
 */
export function requireRole (p: Principal, ...roles: Role[]): void {
  if (p.kind === 'service' || !roles.includes(p.role)) {
    throw forbidden(`requires role ${roles.join(' or ')}`)
  }
}

/** Asserts the principal is a project admin. */
export function adminOnly (p: Principal): void {
  requireRole(p, 'admin')
}

/** Asserts the principal is a developer or an admin. */
export function developerOrAdmin (p: Principal): void {
  requireRole(p, 'developer', 'admin')
}

/**
 * Asserts the principal was granted `scope` (403 'insufficient_scope').
 *
 * Decision for user JWTs: a token without a `scope` claim is a full user session and
 * was granted every scope when verified; a token that carries a `scope` claim is limited
 * to exactly what it lists. API keys always carry their own explicit scope list.
 */
export function requireScope (p: Principal, scope: Scope): void {
  if (!p.scopes.has(scope)) {
    throw new FormStateError('insufficient_scope', `requires scope ${scope}`, {
      headers: {
        'WWW-Authenticate': `Bearer realm="form-state", error="insufficient_scope", scope="${scope}"`,
      },
    })
  }
}

/**
 * Asserts the principal belongs to `projectId` (403 'wrong_project'). The message is the
 * same whether or not anything exists in that project, so it reveals nothing.
 */
export function assertSameProject (p: Principal, projectId: string): void {
  if (p.projectId === '' || p.projectId !== projectId) {
    throw new FormStateError('wrong_project', 'not permitted for this project')
  }
}

/** Asserts the principal is an authenticated service, optionally one of `names`. */
export function requireService (p: Principal, ...names: string[]): void {
  if (p.kind !== 'service' || (names.length > 0 && !names.includes(p.serviceName ?? ''))) {
    throw forbidden('requires service credentials')
  }
}
