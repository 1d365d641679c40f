/**
 * Where JWT verification keys come from: a JWKS URL, OIDC discovery of an issuer, or a
 * local key set. Returns a jose key resolver.
 *
 * Remote keys go through jose's `createRemoteJWKSet`, which caches the set
 * (`cacheMaxAge`) and refetches on an unknown `kid` at most once per `cooldownDuration`
 * after a successful fetch, so a flood of tokens with random kids costs one fetch per
 * cooldown. jose does not back off after a *failed* fetch, though: while the endpoint is
 * down every request would fetch again. The wrapper here remembers the failure and, for
 * `retryAfterFailureMs`, answers from the keys already cached (if still fresh) or fails
 * fast with 503 'not_ready', without touching the network.
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  jwksCache,
  type ExportedJWKSCache,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
  type RemoteJWKSet,
} from 'jose'
import { keysUnavailable } from './auth-errors.ts'

/** Where the verifier gets its keys. */
export type JwtKeySource =
  /** A JWKS document at a URL. */
  | { readonly type: 'jwks_url', readonly url: string }
  /**
   * OIDC discovery: `<issuer>/.well-known/openid-configuration` → `jwks_uri`. `issuer`
   * defaults to the verifier's expected `iss`.
   */
  | { readonly type: 'oidc', readonly issuer?: string }
  /** A key set held in memory (the devnet's own issuer). */
  | { readonly type: 'local', readonly jwks: JSONWebKeySet }

/** Timing knobs for remote keys; all in milliseconds. */
export interface RemoteKeyTiming {
  /** Minimum time between kid-miss refetches after a successful fetch. Default 30 000. */
  readonly cooldownMs?: number
  /** How long fetched keys are trusted before a refetch. Default 600 000. */
  readonly cacheMaxAgeMs?: number
  /** HTTP timeout for JWKS and discovery requests. Default 5 000. */
  readonly timeoutMs?: number
  /** After a failed fetch or discovery, no network attempt for this long. Default 5 000. */
  readonly retryAfterFailureMs?: number
}

/** A key resolver plus what tests and metrics want to know about it. */
export interface KeyResolver {
  readonly getKey: JWTVerifyGetKey
  /**
   * Remote sources: a number that changes whenever a fetch brought the key set anew, and
   * the key ids of the latest set (undefined before the first fetch). The verifier's cache
   * of verified tokens uses them to drop tokens whose key was withdrawn.
   */
  readonly keySetVersion?: () => number
  readonly keyIds?: () => ReadonlySet<string> | undefined
}

const MAX_DISCOVERY_BYTES = 64 * 1024

// Errors that say something about the token, not about the key endpoint.
function isTokenProblem (err: unknown): boolean {
  return err instanceof errors.JWKSNoMatchingKey ||
    err instanceof errors.JWKSMultipleMatchingKeys ||
    err instanceof errors.JOSENotSupported ||
    err instanceof errors.JWKInvalid ||
    err instanceof errors.JOSEAlgNotAllowed
}

/** Builds the resolver for `source`; `issuer` is needed for OIDC discovery. */
export function createKeyResolver (source: JwtKeySource, issuer: string, timing: RemoteKeyTiming = {}): KeyResolver {
  if (source.type === 'local') {
    const local = createLocalJWKSet(source.jwks)
    return { getKey: async (header, token) => local(header, token) }
  }
  const cooldownMs = timing.cooldownMs ?? 30_000
  const cacheMaxAgeMs = timing.cacheMaxAgeMs ?? 600_000
  const timeoutMs = timing.timeoutMs ?? 5_000
  const retryMs = timing.retryAfterFailureMs ?? 5_000

  // jose writes every successfully fetched set (and its time) into this object.
  const fetched: ExportedJWKSCache | Record<string, never> = {}
  let seenAt: number | undefined
  let version = 0
  let kids: ReadonlySet<string> | undefined
  const observe = (): void => {
    const f = fetched as Partial<ExportedJWKSCache>
    if (f.uat === seenAt) return
    seenAt = f.uat
    version++
    kids = new Set((f.jwks?.keys ?? []).map((k) => k.kid).filter((k): k is string => typeof k === 'string'))
  }

  const makeRemote = (url: URL): RemoteJWKSet => createRemoteJWKSet(url, {
    cooldownDuration: cooldownMs,
    cacheMaxAge: cacheMaxAgeMs,
    timeoutDuration: timeoutMs,
    [jwksCache]: fetched,
  })

  let remote: RemoteJWKSet | undefined = source.type === 'jwks_url' ? makeRemote(parseHttpUrl(source.url, 'JWKS URL')) : undefined
  let discovering: Promise<RemoteJWKSet> | undefined
  let failedAt = Number.NEGATIVE_INFINITY
  // Keys cached when the last fetch failed, served during the back-off while still fresh.
  let fallback: ReturnType<typeof createLocalJWKSet> | undefined

  const inBackoff = (): boolean => Date.now() - failedAt < retryMs
  const remaining = (): number => (failedAt + retryMs - Date.now()) / 1000

  const getRemote = async (): Promise<RemoteJWKSet> => {
    if (remote !== undefined) return remote
    if (inBackoff()) throw keysUnavailable('issuer discovery failed', remaining())
    discovering ??= discoverJwksUri(source.type === 'oidc' ? source.issuer ?? issuer : issuer, timeoutMs).then(
      (url) => { remote = makeRemote(url); return remote },
      (err: unknown) => {
        // Not cached forever: the next request after the back-off tries again.
        discovering = undefined
        failedAt = Date.now()
        throw keysUnavailable('issuer discovery failed', retryMs / 1000, err)
      })
    return discovering
  }

  const getKey: JWTVerifyGetKey = async (header, token) => {
    const set = await getRemote()
    if (inBackoff()) {
      if (fallback === undefined || !set.fresh) throw keysUnavailable('signing keys unavailable', remaining())
      return fallback(header, token)
    }
    try {
      return await set(header, token)
    } catch (err) {
      if (isTokenProblem(err)) throw err
      failedAt = Date.now()
      const cached = set.jwks()
      fallback = cached === undefined ? undefined : createLocalJWKSet(cached)
      throw keysUnavailable('signing keys unavailable', retryMs / 1000, err)
    }
  }
  return {
    getKey,
    keySetVersion: () => { observe(); return version },
    keyIds: () => { observe(); return kids },
  }
}

function parseHttpUrl (value: string, what: string): URL {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new TypeError(`${what} is not a URL: ${value}`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`${what} must be http(s): ${value}`)
  return url
}

/**
 * Fetches the issuer's OpenID configuration and returns its `jwks_uri`. The document's
 * `issuer` must equal the configured issuer exactly (OIDC Discovery §4.3), so a
 * redirected or spoofed document cannot substitute another issuer's keys.
 */
export async function discoverJwksUri (issuer: string, timeoutMs = 5_000): Promise<URL> {
  const base = parseHttpUrl(issuer, 'issuer')
  const url = new URL(base.href.replace(/\/+$/, '') + '/.well-known/openid-configuration')
  const res = await fetch(url, {
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
    headers: { accept: 'application/json' },
  })
  if (res.status !== 200) {
    await res.body?.cancel()
    throw new Error(`discovery answered ${res.status}`)
  }
  const doc: unknown = JSON.parse(await readCapped(res, MAX_DISCOVERY_BYTES))
  if (doc === null || typeof doc !== 'object') throw new Error('discovery document is not an object')
  const { issuer: docIssuer, jwks_uri: jwksUri } = doc as Record<string, unknown>
  if (docIssuer !== issuer) throw new Error('discovery document names another issuer')
  if (typeof jwksUri !== 'string') throw new Error('discovery document has no jwks_uri')
  return parseHttpUrl(jwksUri, 'jwks_uri')
}

async function readCapped (res: Response, max: number): Promise<string> {
  if (res.body === null) return ''
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > max) {
      await reader.cancel()
      throw new Error('discovery document too large')
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}
