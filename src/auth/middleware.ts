/**
 * Koa middleware that authenticates a request and puts its `Principal` on
 * `ctx.state.principal`. It decides nothing about authorisation beyond tenancy (the
 * `X-Project-Id` header must match the principal); routes call the guards in
 * `principal.ts`. Failures are thrown as FormStateError; the API's error middleware
 * renders them.
 *
 * Credential precedence (exactly one is used):
 * 1. `X-Service-Name` + `Authorization: Bearer <secret>` → service credentials.
 * 2. `X-API-Key: <key>` → API key (sending `Authorization` too is refused as ambiguous).
 * 3. `Authorization: Bearer fs_…` → API key; any other bearer value → JWT.
 */
import type { Context, Middleware, Next } from 'koa'
import { FormStateError } from '../errors.ts'
import { invalidToken, unauthenticated } from './auth-errors.ts'
import { looksLikeApiKey, parseApiKey, type ParsedApiKey } from './api-key-format.ts'
import type { JwtVerifier } from './jwt.ts'
import { MAX_TOKEN_LENGTH } from './jwt.ts'
import { assertSameProject, type Principal } from './principal.ts'
import { SERVICE_NAME_RE, type ServiceVerifier } from './service-auth.ts'

/** Checks a raw API key string (implemented by the keys feature). */
export interface ApiKeyAuthenticator {
  /** The key's principal, or throws FormStateError('invalid_api_key'). */
  authenticate (raw: string): Promise<Principal>
  /** The same for a key already parsed here (saves the second strict parse, ~1 µs a request). */
  authenticateParsed? (parsed: ParsedApiKey): Promise<Principal>
  /**
   * `authenticateParsed` answering at once (a key check that only reads the replica): the
   * principal, or throws FormStateError('invalid_api_key'). Preferred when present, so a
   * request by key, like one with a cached JWT, reaches its handler without a promise.
   */
  authenticateParsedSync? (parsed: ParsedApiKey): Principal
}

/** What `authenticate()` needs. */
export interface AuthenticateOptions {
  readonly jwt: JwtVerifier
  readonly apiKeys?: ApiKeyAuthenticator
  readonly services?: ServiceVerifier
  /** When true a request without credentials passes with no principal; bad credentials still fail. */
  readonly optional?: boolean
}

/** The part of `ctx.state` this middleware owns. */
export interface AuthState {
  principal?: Principal
}

// Longest credential-bearing header value read; past it the request is refused unparsed.
const MAX_AUTH_HEADER = MAX_TOKEN_LENGTH + 'Bearer '.length
const MAX_SMALL_HEADER = 256
const PROJECT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/

/** A request header as `ctx.get(name)` reads it (name lower-case), undefined when absent or empty. */
function header (ctx: Context, name: string): string | undefined {
  const v = ctx.req.headers[name]
  return typeof v === 'string' && v !== '' ? v : undefined
}

function invalidApiKey (): FormStateError {
  return new FormStateError('invalid_api_key', 'invalid api key')
}

function invalidServiceCredentials (): FormStateError {
  return new FormStateError('invalid_service_credentials', 'invalid service credentials')
}

/** Returns the bearer credential of an Authorization header, or throws a 401. */
function bearer (value: string): string {
  const m = /^Bearer +(\S+) *$/i.exec(value)
  if (m === null) throw unauthenticated('expected Authorization: Bearer <credential>')
  return m[1]!
}

/**
 * What `bearer(value)` returns if it accepts `value`, without the whitespace scan of the
 * credential: `Bearer` in any case, spaces, the rest with trailing spaces trimmed; undefined
 * when the shape is wrong. Used only to look a token up in the verifier's cache, which never
 * holds a token with whitespace: so on a hit `bearer(value)` is this very string.
 */
function bearerCandidate (value: string): string | undefined {
  if (value.length < 8 || value.charCodeAt(6) !== 32) return undefined
  // ASCII letters only, as the /i regexp matches them (c | 0x20 folds exactly A-Z onto a-z here).
  if ((value.charCodeAt(0) | 0x20) !== 0x62 || (value.charCodeAt(1) | 0x20) !== 0x65 || (value.charCodeAt(2) | 0x20) !== 0x61 ||
    (value.charCodeAt(3) | 0x20) !== 0x72 || (value.charCodeAt(4) | 0x20) !== 0x65 || (value.charCodeAt(5) | 0x20) !== 0x72) return undefined
  let start = 7
  while (start < value.length && value.charCodeAt(start) === 32) start++
  let end = value.length
  while (end > start && value.charCodeAt(end - 1) === 32) end--
  return start < end ? value.slice(start, end) : undefined
}

/** The key's principal (at once when the authenticator can), or throws/rejects invalid_api_key. */
function viaApiKey (raw: string, apiKeys: ApiKeyAuthenticator | undefined): Principal | Promise<Principal> {
  // Malformed keys are refused here without a store lookup.
  const parsed = apiKeys === undefined ? null : parseApiKey(raw)
  if (apiKeys === undefined || parsed === null) throw invalidApiKey()
  if (apiKeys.authenticateParsedSync !== undefined) return apiKeys.authenticateParsedSync(parsed)
  return apiKeys.authenticateParsed !== undefined ? apiKeys.authenticateParsed(parsed) : apiKeys.authenticate(raw)
}

/**
 * Resolves the request's principal, or undefined when it carries no credentials. The answer
 * is synchronous when no wait is needed (no credentials, a JWT the verifier has cached, an
 * API key checked by `authenticateParsedSync`, service credentials), a promise otherwise
 * (a token to verify in full); refusals are thrown or rejected.
 */
function identify (ctx: Context, opts: AuthenticateOptions): Principal | undefined | Promise<Principal> {
  const authorization = header(ctx, 'authorization')
  const apiKey = header(ctx, 'x-api-key')
  const serviceName = header(ctx, 'x-service-name')

  if (authorization !== undefined && authorization.length > MAX_AUTH_HEADER) throw invalidToken('credential too large')
  if (apiKey !== undefined && apiKey.length > MAX_SMALL_HEADER) throw invalidApiKey()

  if (serviceName !== undefined) {
    // Built only on refusal: an Error captures a stack trace, which cost ~5% of a validate call.
    if (opts.services === undefined || authorization === undefined || apiKey !== undefined) throw invalidServiceCredentials()
    if (serviceName.length > MAX_SMALL_HEADER || !SERVICE_NAME_RE.test(serviceName)) throw invalidServiceCredentials()
    return opts.services.verifyService(serviceName, bearer(authorization))
  }
  if (apiKey !== undefined) {
    if (authorization !== undefined) throw unauthenticated('send one credential: X-API-Key or Authorization')
    return viaApiKey(apiKey, opts.apiKeys)
  }
  if (authorization === undefined) return undefined
  if (opts.jwt.cached !== undefined) {
    const candidate = bearerCandidate(authorization)
    if (candidate !== undefined && !looksLikeApiKey(candidate)) {
      const hit = opts.jwt.cached(candidate)
      if (hit !== undefined) return hit
    }
  }
  const credential = bearer(authorization)
  if (looksLikeApiKey(credential)) return viaApiKey(credential, opts.apiKeys)
  return opts.jwt.verify(credential)
}

function isPromise<T> (v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | undefined)?.then === 'function'
}

/**
 * Admits the identified principal: enforces the `X-Project-Id` rule and sets
 * `ctx.state.principal`. Returns false for a request without credentials that `optional`
 * lets through; throws a 401/403 otherwise.
 */
function admit (ctx: Context, opts: AuthenticateOptions, found: Principal | undefined): boolean {
  let principal = found
  if (principal === undefined) {
    if (opts.optional === true) return false
    throw unauthenticated()
  }
  const projectHeader = header(ctx, 'x-project-id')
  if (projectHeader !== undefined) {
    if (projectHeader.length > MAX_SMALL_HEADER || !PROJECT_ID_RE.test(projectHeader)) {
      throw new FormStateError('invalid_field', 'invalid X-Project-Id header', { field: 'X-Project-Id' })
    }
    if (principal.kind === 'service') {
      principal = { ...principal, projectId: projectHeader, actingFor: projectHeader }
    } else {
      assertSameProject(principal, projectHeader)
    }
  }
  ;(ctx.state as AuthState).principal = principal
  return true
}

/**
 * `authenticate(opts)`'s work as a function: identifies and admits the request's principal
 * (see `authenticate`). Returns undefined when done synchronously (see `identify`: a cached
 * JWT, a key checked at once, no credentials) and a promise when it had to wait; throws (or
 * rejects) with the 401/403.
 * For callers that run it before their own step without a middleware frame of its own.
 */
export function authenticateRequest (ctx: Context, opts: AuthenticateOptions): void | Promise<void> {
  const found = identify(ctx, opts)
  if (isPromise(found)) return found.then((p) => { admit(ctx, opts, p) })
  admit(ctx, opts, found)
}

/**
 * Authenticates every request it sees. Sets `ctx.state.principal`; enforces that an
 * `X-Project-Id` header, when sent, names the principal's project (403 'wrong_project').
 * A service has no project of its own: its `X-Project-Id` declares the project it acts
 * for, recorded as `projectId` and `actingFor`.
 *
 * Not an async function: a request whose principal is known at once (a cached JWT) goes on
 * to `next` in the same tick. It still always returns a promise and never throws.
 */
export function authenticate (opts: AuthenticateOptions): Middleware<AuthState> {
  return function authenticateMiddleware (ctx: Context, next: Next): Promise<void> {
    try {
      const done = authenticateRequest(ctx, opts)
      if (done === undefined) return next()
      return done.then(() => next())
    } catch (err) {
      return Promise.reject(err)
    }
  }
}

/** The request's principal, or 401 'unauthenticated' when the route ran without one. */
export function principalOf (ctx: { state: AuthState }): Principal {
  const p = ctx.state.principal
  if (p === undefined) throw unauthenticated()
  return p
}
