/**
 * API key authentication against the replicated key state.
 *
 * `check(raw)` is the full verdict with a distinct code (what `POST /internal/keys/validate`
 * answers a trusted service); `authenticate(raw)` is what the request chain uses, and it
 * collapses every refusal into one 401 `invalid_api_key` with the same body, so a caller
 * cannot tell an unknown key from a revoked, expired or post-grace one.
 *
 * Cost per call: one strict parse (malformed strings never reach the store; the request
 * chain parses once and calls `authenticateParsed`), one lookup of
 * `key/<keyId>` (a Map get: O(1) in the number of keys), one SHA-256 and a constant-time
 * compare. An unknown key id is compared against a dummy hash so it costs the same as a
 * wrong secret. Usage and failures go to the in-memory aggregator, not the store.
 */
import { FormStateError } from '../errors.ts'
import type { ReplicaStore } from '../store/types.ts'
import { accountKey, lwwValue } from '../state/model.ts'
import { keyProblemAt, readApiKey, type ApiKeyRecord } from '../state/api-keys.ts'
import { effectiveTier, subscriptionOf } from '../state/subscription.ts'
import type { ApiKeyActivity } from './api-key-activity.ts'
import { hashSecret, parseApiKey, secretMatches, type ApiKeyEnv, type ParsedApiKey } from './api-key-format.ts'
import type { ApiKeyAuthenticator } from './middleware.ts'
import type { Principal } from './principal.ts'

/** Verdicts of a key check (the internal validate API adds FORBIDDEN, RATE_LIMITED, INSUFFICIENT_CREDITS). */
export type KeyCheckCode = 'VALID' | 'NOT_FOUND' | 'EXPIRED' | 'REVOKED'

export interface KeyCheck {
  code: KeyCheckCode
  /** The stored key when its id and secret matched (also for EXPIRED / REVOKED). */
  key?: ApiKeyRecord
}

export interface StoreApiKeyAuthenticatorOptions {
  store: ReplicaStore
  /** `test` on a devnet, `live` on a node: a key of the other kind is unknown here. */
  env: ApiKeyEnv
  now: () => number
  /** Where uses and refusals are counted (optional: a bare authenticator records nothing). */
  activity?: ApiKeyActivity
  /** Hash comparison; injectable so a test can prove the constant-time compare is what runs. */
  matches?: (hash: string, secret: string) => boolean
}

// A stored-looking hash that no secret matches in practice: unknown ids cost one compare too.
const DUMMY_HASH = hashSecret('form-state: no such key')

/**
 * The one answer for every refused key: the same code, message and headers as the
 * middleware's answer to a malformed key, so nothing tells the cases apart.
 */
export function invalidApiKey (): FormStateError {
  return new FormStateError('invalid_api_key', 'invalid api key')
}

/** The {@link ApiKeyAuthenticator} over the store. */
export class StoreApiKeyAuthenticator implements ApiKeyAuthenticator {
  private readonly store: ReplicaStore
  private readonly env: ApiKeyEnv
  private readonly now: () => number
  private readonly activity: ApiKeyActivity | undefined
  private readonly matches: (hash: string, secret: string) => boolean
  // Scope arrays are immutable LWW values: the Set built from one is reused until it changes.
  private readonly scopeSets = new WeakMap<readonly string[], ReadonlySet<string>>()

  constructor (opts: StoreApiKeyAuthenticatorOptions) {
    this.store = opts.store
    this.env = opts.env
    this.now = opts.now
    this.activity = opts.activity
    this.matches = opts.matches ?? secretMatches
  }

  /**
   * The verdict on `raw` at `now`, recording a refusal of a stored key (per reason) or an
   * anonymous one. Does not record a use: the caller does once it accepts the request.
   */
  check (raw: string, now: number = this.now()): KeyCheck {
    const parsed = parseApiKey(raw)
    if (parsed === null) {
      this.activity?.failedAnonymous('malformed')
      return { code: 'NOT_FOUND' }
    }
    return this.checkParsed(parsed, now)
  }

  /** {@link check} of a key the caller has already parsed (the request chain parses first). */
  checkParsed (parsed: ParsedApiKey, now: number = this.now()): KeyCheck {
    const key = readApiKey(this.store, parsed.keyId)
    const ok = this.matches(key?.hash ?? DUMMY_HASH, parsed.secret)
    if (key === undefined) {
      this.activity?.failedAnonymous('unknown_id')
      return { code: 'NOT_FOUND' }
    }
    if (!ok || parsed.env !== this.env) {
      this.activity?.failed(key.id, ok ? 'wrong_env' : 'bad_secret', now)
      return { code: 'NOT_FOUND' }
    }
    const problem = keyProblemAt(key, now)
    if (problem !== undefined) {
      this.activity?.failed(key.id, problem, now)
      return { code: problem === 'revoked' ? 'REVOKED' : 'EXPIRED', key }
    }
    return { code: 'VALID', key }
  }

  /** Records one accepted use of `keyId` (aggregated, flushed later). */
  recordUse (keyId: string, at: number = this.now()): void {
    this.activity?.used(keyId, at)
  }

  /** The principal of a stored key: its account, project, scopes and the account's tier. */
  principalOf (key: ApiKeyRecord): Principal {
    const owner = lwwValue(this.store, accountKey(key.accountId), 'owner')
    let scopes = this.scopeSets.get(key.scopes)
    if (scopes === undefined) {
      scopes = new Set(key.scopes)
      this.scopeSets.set(key.scopes, scopes)
    }
    return {
      kind: 'api_key',
      sub: typeof owner === 'string' ? owner : `key:${key.id}`,
      projectId: key.projectId,
      // A key never carries its creator's role: role guards treat it as a plain user.
      role: 'user',
      scopes,
      accountId: key.accountId,
      keyId: key.id,
      tier: effectiveTier(subscriptionOf(this.store, key.accountId)),
    }
  }

  async authenticate (raw: string): Promise<Principal> {
    const now = this.now()
    return this.accept(this.check(raw, now), now)
  }

  /** {@link authenticate} of an already parsed key: the middleware parses to refuse malformed keys early. */
  async authenticateParsed (parsed: ParsedApiKey): Promise<Principal> {
    return this.authenticateParsedSync(parsed)
  }

  /**
   * {@link authenticateParsed} without a promise: a key check only reads the replica, so it
   * can answer at once (throwing `invalid_api_key` on refusal), as a cached JWT does. A
   * caller that takes it saves the promises and microtask hops of the async forms.
   */
  authenticateParsedSync (parsed: ParsedApiKey): Principal {
    const now = this.now()
    return this.accept(this.checkParsed(parsed, now), now)
  }

  private accept (r: KeyCheck, now: number): Principal {
    if (r.code !== 'VALID') throw invalidApiKey()
    this.recordUse(r.key!.id, now)
    return this.principalOf(r.key!)
  }
}
