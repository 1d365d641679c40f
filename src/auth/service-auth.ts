/**
 * Service-to-service credentials: each internal service has a name and a shared secret.
 * A caller sends `X-Service-Name: <name>` and `Authorization: Bearer <secret>`.
 *
 * Secrets are kept only as SHA-256 digests; a presented secret is hashed to the same
 * fixed length and compared with `timingSafeEqual` (`sha256Equals`), and an unknown name is compared
 * against a dummy digest, so neither the secret's length nor the name's existence
 * shows in the timing or the error.
 */
import { randomBytes } from 'node:crypto'
import { sha256, sha256Equals } from './api-key-format.ts'
import { FormStateError } from '../errors.ts'
import type { Principal } from './principal.ts'

/** Service names: short, safe to log; matched case-sensitively. */
export const SERVICE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
/** Shortest secret accepted from configuration. */
export const MIN_SERVICE_SECRET_LENGTH = 16
const MAX_SECRET_LENGTH = 1024

/**
 * Parses service secrets from configuration text: either `name:secret,name2:secret2`
 * (also `name=secret`; entries separated by commas or newlines; `#` lines are comments;
 * the secret is everything after the first `:` or `=`, since names contain neither, and
 * cannot contain `,` — use JSON for that) or a JSON object `{ "name": "secret" }`.
 * Throws FormStateError('invalid_field', field 'service_secrets') on a bad name, a short
 * secret or a duplicate; the message never includes a secret.
 */
export function parseServiceSecrets (text: string): Map<string, string> {
  const out = new Map<string, string>()
  const trimmed = text.trim()
  if (trimmed === '') return out
  let pairs: Array<[string, unknown]>
  if (trimmed.startsWith('{')) {
    let json: unknown
    try {
      json = JSON.parse(trimmed)
    } catch {
      throw bad('service secrets: not valid JSON')
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) throw bad('service secrets: expected a JSON object')
    pairs = Object.entries(json)
  } else {
    const items = trimmed.split(/[,\n]/).map((x) => x.trim()).filter((x) => x !== '' && !x.startsWith('#'))
    pairs = items.map((s, i) => {
      const sep = s.search(/[:=]/)
      if (sep <= 0) throw bad(`service secrets: entry ${i + 1} is not name:secret`)
      // Whitespace around either part is layout, never part of a secret.
      return [s.slice(0, sep).trim(), s.slice(sep + 1).trim()]
    })
  }
  for (const [name, secret] of pairs) {
    if (!SERVICE_NAME_RE.test(name)) throw bad(`service secrets: invalid service name ${JSON.stringify(name.slice(0, 64))}`)
    if (typeof secret !== 'string' || secret.length < MIN_SERVICE_SECRET_LENGTH || secret.length > MAX_SECRET_LENGTH) {
      throw bad(`service secrets: secret for ${name} must be ${MIN_SERVICE_SECRET_LENGTH}..${MAX_SECRET_LENGTH} characters`)
    }
    if (out.has(name)) throw bad(`service secrets: duplicate service ${name}`)
    out.set(name, secret)
  }
  return out
}

function bad (message: string): FormStateError {
  return new FormStateError('invalid_field', message, { field: 'service_secrets' })
}

/** Checks service credentials. */
export interface ServiceVerifier {
  /** The service principal for valid credentials, else FormStateError('invalid_service_credentials'). */
  verifyService (name: string, secret: string): Principal
  /** Configured service names (for diagnostics; never the secrets). */
  readonly names: readonly string[]
}

// Services hold no scopes; one empty set serves them all (principals are read-only).
const NO_SCOPES: ReadonlySet<string> = new Set<string>()

function digest (s: string): Buffer {
  return sha256(s)
}

/**
 * Builds a verifier from a name → secret map (as returned by {@link parseServiceSecrets}).
 * The principal it returns has role 'user', no scopes and no project: services reach
 * internal routes through `requireService`, never through role or scope guards.
 */
export function createServiceVerifier (secrets: ReadonlyMap<string, string> | Record<string, string>): ServiceVerifier {
  const entries = secrets instanceof Map ? [...secrets.entries()] : Object.entries(secrets)
  const digests = new Map<string, Buffer>()
  for (const [name, secret] of entries) digests.set(name, digest(secret))
  // Compared against when the name is unknown so that path costs the same as a wrong secret.
  const dummy = digest(randomBytes(32).toString('hex'))

  // A service's principal never changes: built once per name, not per call.
  const principals = new Map<string, Principal>()
  for (const name of digests.keys()) {
    principals.set(name, Object.freeze({ kind: 'service', sub: `service:${name}`, projectId: '', role: 'user', scopes: NO_SCOPES, serviceName: name }))
  }

  return {
    names: Object.freeze([...digests.keys()]),
    verifyService (name: string, secret: string): Principal {
      const expected = digests.get(name)
      const equal = sha256Equals(expected ?? dummy, typeof secret === 'string' ? secret.slice(0, MAX_SECRET_LENGTH + 1) : '')
      if (expected === undefined || !equal || typeof secret !== 'string' || secret.length > MAX_SECRET_LENGTH) {
        throw new FormStateError('invalid_service_credentials', 'invalid service credentials')
      }
      return principals.get(name)!
    },
  }
}
