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

function header (ctx: Context, name: string): string | undefined {
  const v = ctx.get(name)
  return v === '' ? undefined : v
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

async function viaApiKey (raw: string, apiKeys: ApiKeyAuthenticator | undefined): Promise<Principal> {
  // Malformed keys are refused here without a store lookup.
  const parsed = apiKeys === undefined ? null : parseApiKey(raw)
  if (apiKeys === undefined || parsed === null) throw invalidApiKey()
  return apiKeys.authenticateParsed !== undefined ? apiKeys.authenticateParsed(parsed) : apiKeys.authenticate(raw)
}

/** Resolves the request's principal, or undefined when it carries no credentials. */
async function identify (ctx: Context, opts: AuthenticateOptions): Promise<Principal | undefined> {
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
  const credential = bearer(authorization)
  if (looksLikeApiKey(credential)) return viaApiKey(credential, opts.apiKeys)
  return opts.jwt.verify(credential)
}

/**
 * Authenticates every request it sees. Sets `ctx.state.principal`; enforces that an
 * `X-Project-Id` header, when sent, names the principal's project (403 'wrong_project').
 * A service has no project of its own: its `X-Project-Id` declares the project it acts
 * for, recorded as `projectId` and `actingFor`.
 */
export function authenticate (opts: AuthenticateOptions): Middleware<AuthState> {
  return async function authenticateMiddleware (ctx: Context, next: Next): Promise<void> {
    let principal = await identify(ctx, opts)
    if (principal === undefined) {
      if (opts.optional === true) return next()
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
    ctx.state.principal = principal
    return next()
  }
}

/** The request's principal, or 401 'unauthenticated' when the route ran without one. */
export function principalOf (ctx: { state: AuthState }): Principal {
  const p = ctx.state.principal
  if (p === undefined) throw unauthenticated()
  return p
}
