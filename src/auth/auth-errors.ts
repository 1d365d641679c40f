/**
 * The 401s of authentication, with the `WWW-Authenticate` challenge RFC 6750 asks for.
 * Reasons are short fixed strings chosen by this module's callers, never attacker input,
 * so they are safe inside the quoted header value.
 */
import { FormStateError } from '../errors.ts'

/** The realm every challenge names. */
export const REALM = 'form-state'

/** No credentials were sent (401 'unauthenticated'). */
export function unauthenticated (message = 'authentication required'): FormStateError {
  return new FormStateError('unauthenticated', message, {
    headers: { 'WWW-Authenticate': `Bearer realm="${REALM}"` },
  })
}

/** A bearer token was sent but is not acceptable (401 'invalid_token'). */
export function invalidToken (reason: string, cause?: unknown): FormStateError {
  const description = reason.replace(/["\\\r\n]/g, '')
  return new FormStateError('invalid_token', description, {
    headers: {
      'WWW-Authenticate': `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"`,
    },
    cause,
  })
}

/**
 * The keys to check a token against cannot be obtained right now (JWKS endpoint or OIDC
 * discovery failing): 503 'not_ready', not 401, because the token may be perfectly good
 * and a client told "invalid_token" would throw it away and make its user log in again.
 */
export function keysUnavailable (reason: string, retryAfterSeconds: number, cause?: unknown): FormStateError {
  return new FormStateError('not_ready', reason, {
    headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
    extra: { retry_after: Math.max(1, Math.ceil(retryAfterSeconds)) },
    cause,
  })
}
