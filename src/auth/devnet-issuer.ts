/**
 * The devnet's built-in token issuer: a fresh RS256 key pair per process, a public JWKS
 * to serve, and `sign()` for `formstate token` and tests. Tokens it signs pass the same
 * verifier as production tokens; only the key source differs (a local key set).
 */
import { randomUUID } from 'node:crypto'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JSONWebKeySet, type JWK } from 'jose'
import { FormStateError } from '../errors.ts'
import type { JwtVerifierOptions } from './jwt.ts'
import { jwtClaimsSchema } from './jwt.ts'
import type { Role } from './principal.ts'

/** The audience every form-state token is issued for. */
export const FORM_STATE_AUDIENCE = 'form-state'
/** Default token lifetime: one hour. */
export const DEFAULT_TTL_S = 3600
/** Longest lifetime the devnet will sign: 30 days. */
export const MAX_TTL_S = 30 * 24 * 3600

/** What to put in a devnet token. */
export interface DevnetTokenRequest {
  readonly sub: string
  readonly project_id: string
  readonly role: Role
  /** Space-separated scopes; omit for a full (unscoped) user token. */
  readonly scope?: string
  /** Lifetime in seconds, 1..MAX_TTL_S. Default DEFAULT_TTL_S. */
  readonly ttl_s?: number
}

/** Where the devnet listens; the issuer is `http://<host>:<port>/devnet`. */
export interface DevnetIssuerOptions {
  readonly host: string
  readonly port: number
  /** Clock in ms (tests). Default `Date.now`. */
  readonly now?: () => number
}

/** The devnet issuer. */
export interface DevnetIssuer {
  /** `http://<host>:<port>/devnet`. */
  readonly issuer: string
  readonly audience: string
  /** Key id of the signing key (its RFC 7638 thumbprint). */
  readonly kid: string
  /** The public key set, as served at the JWKS URL. */
  jwks (): JSONWebKeySet
  /** A minimal OpenID configuration pointing at `jwksUri`. */
  discoveryDocument (jwksUri?: string): { issuer: string, jwks_uri: string, id_token_signing_alg_values_supported: string[] }
  /** Signs a token. Throws FormStateError('invalid_field') on bad claims or ttl. */
  sign (req: DevnetTokenRequest): Promise<string>
  /** Options for `createJwtVerifier` that trust exactly this issuer's key. */
  verifierOptions (): JwtVerifierOptions
}

/** The issuer URL for a devnet listening on `host:port`. */
export function devnetIssuerUrl (host: string, port: number): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
  return `http://${h}:${port}/devnet`
}

/** Generates the key pair and returns the issuer. */
export async function createDevnetIssuer (opts: DevnetIssuerOptions): Promise<DevnetIssuer> {
  if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) {
    throw new TypeError('devnet issuer needs the port actually listened on (1..65535)')
  }
  const issuer = devnetIssuerUrl(opts.host, opts.port)
  const clock = opts.now ?? Date.now
  const { privateKey, publicKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true })
  const pub: JWK = await exportJWK(publicKey)
  const kid = await calculateJwkThumbprint(pub)
  const publicJwk: JWK = { ...pub, kid, alg: 'RS256', use: 'sig' }

  return {
    issuer,
    audience: FORM_STATE_AUDIENCE,
    kid,
    jwks: () => ({ keys: [{ ...publicJwk }] }),
    discoveryDocument: (jwksUri = `${issuer}/jwks.json`) => ({
      issuer,
      jwks_uri: jwksUri,
      id_token_signing_alg_values_supported: ['RS256'],
    }),
    async sign (req: DevnetTokenRequest): Promise<string> {
      const ttl = req.ttl_s ?? DEFAULT_TTL_S
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_S) {
        throw new FormStateError('invalid_field', `ttl_s must be an integer in 1..${MAX_TTL_S}`, { field: 'ttl_s' })
      }
      const claims = jwtClaimsSchema.safeParse({ sub: req.sub, project_id: req.project_id, role: req.role, scope: req.scope })
      if (!claims.success) {
        const field = String(claims.error.issues[0]?.path[0] ?? 'claims')
        throw new FormStateError('invalid_field', `invalid ${field}`, { field })
      }
      const { sub, ...rest } = claims.data
      const iat = Math.floor(clock() / 1000)
      return new SignJWT({ ...rest })
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(FORM_STATE_AUDIENCE)
        .setSubject(sub)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ttl)
        .setJti(randomUUID())
        .sign(privateKey)
    },
    verifierOptions: () => ({
      issuer,
      audience: FORM_STATE_AUDIENCE,
      keys: { type: 'local', jwks: { keys: [{ ...publicJwk }] } },
      algorithms: ['RS256'],
      ...(opts.now === undefined ? {} : { now: opts.now }),
    }),
  }
}
