/**
 * JWT bearer token verification (jose).
 *
 * Policy: asymmetric algorithms only (RS256, ES256, EdDSA — never `none`, never HS*, so
 * a public key can never be abused as an HMAC secret); `iss`, `aud` and `exp` required;
 * 30 s clock tolerance; claims `sub`, `project_id`, `role` and optional `scope` validated
 * with zod. Every rejection is FormStateError('invalid_token') with an RFC 6750 challenge;
 * only an unreachable key endpoint is a 503 (see `keysUnavailable`).
 */
import { errors, jwtVerify, type JWTPayload } from 'jose'
import { z } from 'zod'
import { FormStateError } from '../errors.ts'
import { invalidToken } from './auth-errors.ts'
import { createKeyResolver, type JwtKeySource, type KeyResolver, type RemoteKeyTiming } from './jwt-keys.ts'
import { ALL_SCOPES, ROLES, type Principal } from './principal.ts'

export type { JwtKeySource, RemoteKeyTiming } from './jwt-keys.ts'

/** The only signature algorithms ever accepted. */
export const JWT_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number]

/** Tokens longer than this are refused before any parsing. */
export const MAX_TOKEN_LENGTH = 8192

/** Verifier configuration (built by the config module, never from `process.env` here). */
export interface JwtVerifierOptions extends RemoteKeyTiming {
  /** Expected `iss`, exactly. For `oidc` keys also the discovery base. */
  readonly issuer: string
  /** Accepted `aud` value(s). */
  readonly audience: string | readonly string[]
  readonly keys: JwtKeySource
  /** When set, the token must carry a `scope` claim that includes it. */
  readonly requiredScope?: string
  /** Narrow the allow-list further (e.g. the devnet only signs RS256). */
  readonly algorithms?: readonly JwtAlgorithm[]
  /** Seconds of clock skew tolerated on exp/nbf/iat. Default 30. */
  readonly clockToleranceSec?: number
  /** Clock for claim checks, in ms; injected by tests. Default `Date.now`. */
  readonly now?: () => number
  /**
   * Verified-token cache (see {@link createJwtVerifier}): most entries kept (default
   * 4096; 0 disables it) and longest time a verification is reused (default 60 000 ms,
   * never longer than the key set's `cacheMaxAgeMs`).
   */
  readonly verifiedCache?: { readonly maxEntries?: number, readonly maxAgeMs?: number }
}

/** A verified token's principal. */
export interface JwtPrincipal extends Principal {
  readonly kind: 'user'
  /** Whether the token carried a `scope` claim (else it was granted every scope). */
  readonly scoped: boolean
  /** The token's `exp`, seconds since the epoch. */
  readonly expiresAt: number
}

/** Checks bearer tokens. */
export interface JwtVerifier {
  verify (token: string): Promise<JwtPrincipal>
  /**
   * The principal of an earlier successful `verify(token)` that `verify(token)` would
   * answer from its cache right now (same expiry, age and withdrawn-key checks), else
   * undefined. Synchronous, so the request path needs no promise for a cached token. A token
   * containing whitespace is never cached, so a hit is always a single `\S+` credential.
   */
  cached? (token: string): JwtPrincipal | undefined
}

// RFC 6749 §3.3 scope-token characters.
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/

/** Token claims this service relies on; other claims are ignored. */
export const jwtClaimsSchema = z.object({
  sub: z.string().min(1).max(256),
  project_id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/),
  role: z.enum(ROLES),
  scope: z.string().max(2048)
    .refine((s) => s.split(' ').every((t) => SCOPE_TOKEN.test(t)), 'space-separated scope tokens')
    .optional(),
})

/**
 * A bounded LRU of verified tokens: token string → principal and until when it may be
 * reused. Verifying an RS256 signature costs ~100 µs, far more than the rest of a cheap
 * request, and a client sends the same token many times. Only successes are cached, and a
 * hit needs the whole token to be equal (any altered byte is a miss and is verified in
 * full). An entry lives until the token expires (as jose decides it: exp + clock tolerance)
 * or `maxAgeMs` after its verification, whichever is first. And as soon as a refetch of the
 * key set (made for any other token) no longer lists the `kid` an entry was verified with,
 * that entry is dropped: a withdrawn key stops working at the next refetch, not up to
 * `maxAgeMs` later. The check is lazy and O(1) per hit: an entry remembers the key set
 * version it was verified against and looks its kid up only when the version moved on (a
 * token without a kid is verified in full again after any refetch).
 *
 * The map is keyed by the token's last {@link TAIL} characters (inside the signature), not
 * the whole token: a token arrives as a new string on every request, and hashing all of its
 * ~700 characters for the lookup, then again for the LRU's delete and set, cost ~1.5 µs a
 * request. The entry keeps the whole token and a hit compares it in full; two cached tokens
 * sharing a tail (never seen: the tail is signature bytes) only evict each other.
 */
const TAIL = 32

function tailOf (token: string): string {
  return token.length <= TAIL ? token : token.slice(token.length - TAIL)
}

// Whitespace as the bearer parser's `\S` sees it: such a token is never cached (see JwtVerifier.cached).
const WHITESPACE = /\s/

class VerifiedTokens {
  readonly #map = new Map<string, CacheEntry>()
  /** Bumped whenever an entry becomes the most recently used; the entry keeps the value. */
  #clock = 0
  constructor (readonly maxEntries: number, readonly maxAgeMs: number, private readonly keys: KeyResolver) {}

  get (token: string, now: number): JwtPrincipal | undefined {
    const tail = tailOf(token)
    const hit = this.#map.get(tail)
    if (hit === undefined || hit.token !== token) return undefined
    if (now >= hit.until) { this.#map.delete(tail); return undefined }
    const version = this.keys.keySetVersion?.()
    if (version !== undefined && version !== hit.version) {
      if (hit.kid === undefined || this.keys.keyIds?.()?.has(hit.kid) !== true) { this.#map.delete(tail); return undefined } // withdrawn: verify in full
      hit.version = version
    }
    // Most recently used last. An entry already last (the same client again) stays: moving
    // the last entry to the end is a no-op, and skipping it saves a delete and a set per hit.
    if (hit.used !== this.#clock) {
      this.#map.delete(tail)
      this.#map.set(tail, hit)
      hit.used = ++this.#clock
    }
    return hit.principal
  }

  set (token: string, entry: CacheEntry): void {
    if (this.maxEntries <= 0 || WHITESPACE.test(token)) return
    const tail = tailOf(token)
    this.#map.delete(tail)
    this.#map.set(tail, entry)
    entry.used = ++this.#clock
    if (this.#map.size > this.maxEntries) this.#map.delete(this.#map.keys().next().value!)
  }
}

interface CacheEntry {
  /** The whole token (the map key is only its tail). */
  token: string
  /** The cache's clock when this entry last became the most recently used (set by the cache). */
  used?: number
  principal: JwtPrincipal
  until: number
  /** The `kid` the token was verified with, if it had one. */
  kid: string | undefined
  /** The key set version the key came from (undefined for a local set, which never changes). */
  version: number | undefined
}

/** Creates a verifier. Remote keys are fetched lazily, on the first token. */
export function createJwtVerifier (opts: JwtVerifierOptions): JwtVerifier {
  const algorithms = [...(opts.algorithms ?? JWT_ALGORITHMS)]
  for (const alg of algorithms) {
    if (!(JWT_ALGORITHMS as readonly string[]).includes(alg)) throw new TypeError(`algorithm not allowed: ${alg}`)
  }
  if (algorithms.length === 0) throw new TypeError('algorithms must not be empty')
  const audience = typeof opts.audience === 'string' ? opts.audience : [...opts.audience]
  const resolver = createKeyResolver(opts.keys, opts.issuer, opts)
  const { getKey } = resolver
  const clockTolerance = opts.clockToleranceSec ?? 30
  const now = opts.now
  const clock = now ?? Date.now
  const verified = new VerifiedTokens(
    opts.verifiedCache?.maxEntries ?? 4096,
    Math.min(opts.verifiedCache?.maxAgeMs ?? 60_000, opts.cacheMaxAgeMs ?? Infinity),
    resolver,
  )

  return {
    cached (token: string): JwtPrincipal | undefined {
      if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return undefined
      return verified.get(token, clock())
    },
    async verify (token: string): Promise<JwtPrincipal> {
      if (typeof token !== 'string' || token.length === 0) throw invalidToken('malformed token')
      if (token.length > MAX_TOKEN_LENGTH) throw invalidToken('token too large')
      const t = clock()
      const cached = verified.get(token, t)
      if (cached !== undefined) return cached
      let payload: JWTPayload
      let kid: string | undefined
      let version: number | undefined
      try {
        ({ payload } = await jwtVerify(token, async (header, tok) => {
          const key = await getKey(header, tok)
          // Read after the resolver answered: the key came from this version of the set.
          kid = header.kid
          version = resolver.keySetVersion?.()
          return key
        }, {
          algorithms,
          issuer: opts.issuer,
          audience,
          requiredClaims: ['iss', 'aud', 'exp'],
          clockTolerance,
          ...(now === undefined ? {} : { currentDate: new Date(now()) }),
        }))
      } catch (err) {
        if (err instanceof FormStateError) throw err
        throw invalidToken(reasonFor(err), err)
      }
      const parsed = jwtClaimsSchema.safeParse(payload)
      if (!parsed.success) {
        const claim = String(parsed.error.issues[0]?.path[0] ?? 'claims')
        throw invalidToken(`invalid ${claim} claim`)
      }
      const { sub, project_id: projectId, role, scope } = parsed.data
      const scoped = scope !== undefined
      const scopes: ReadonlySet<string> = scoped ? new Set(scope.split(' ')) : ALL_SCOPES
      if (opts.requiredScope !== undefined && !(scoped && scopes.has(opts.requiredScope))) {
        throw invalidToken('required scope missing')
      }
      const principal: JwtPrincipal = { kind: 'user', sub, projectId, role, scopes, scoped, expiresAt: payload.exp as number }
      // A set fetched while this token was being verified may already lack its key: then do not cache it.
      if (kid === undefined || resolver.keyIds?.()?.has(kid) !== false) {
        verified.set(token, { token, principal, until: Math.min(((payload.exp as number) + clockTolerance) * 1000, t + verified.maxAgeMs), kid, version })
      }
      return principal
    },
  }
}

/** The config module's `jwt` section, structurally (auth does not import config). */
export interface JwtConfig {
  readonly jwksUrl?: string
  readonly oidcIssuer?: string
  /** Expected `iss`; defaults to `oidcIssuer`. */
  readonly issuer?: string
  readonly audience: string
  readonly requiredScope?: string
}

/**
 * Verifier options for a node from its configuration: a JWKS URL when given, else OIDC
 * discovery of `oidcIssuer`. Throws TypeError when there is no key source or no issuer.
 */
export function jwtVerifierOptionsFromConfig (cfg: JwtConfig, timing: RemoteKeyTiming = {}): JwtVerifierOptions {
  const issuer = cfg.issuer ?? cfg.oidcIssuer
  if (issuer === undefined) throw new TypeError('jwt config needs an issuer (issuer or oidcIssuer)')
  let keys: JwtKeySource
  if (cfg.jwksUrl !== undefined) keys = { type: 'jwks_url', url: cfg.jwksUrl }
  else if (cfg.oidcIssuer !== undefined) keys = { type: 'oidc', issuer: cfg.oidcIssuer }
  else throw new TypeError('jwt config needs a key source (jwksUrl or oidcIssuer)')
  return {
    ...timing,
    issuer,
    audience: cfg.audience,
    keys,
    ...(cfg.requiredScope === undefined ? {} : { requiredScope: cfg.requiredScope }),
  }
}

/** A short, fixed description of why jose refused a token. */
function reasonFor (err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'token expired'
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return `missing ${safeClaim(err.claim)} claim`
    if (err.claim === 'nbf') return 'token not yet valid'
    if (err.claim === 'iss') return 'unexpected issuer'
    if (err.claim === 'aud') return 'unexpected audience'
    return `invalid ${safeClaim(err.claim)} claim`
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed'
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'invalid signature'
  if (err instanceof errors.JWKSNoMatchingKey) return 'unknown signing key'
  if (err instanceof errors.JWKSMultipleMatchingKeys) return 'ambiguous signing key'
  if (err instanceof errors.JOSENotSupported) return 'unsupported token'
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return 'malformed token'
  return 'invalid token'
}

function safeClaim (claim: string): string {
  return /^[a-z_]{1,16}$/.test(claim) ? claim : 'required'
}
