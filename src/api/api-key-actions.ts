/**
 * What the API-key routes do: whose keys a caller manages, and create / update / revoke /
 * rotate as ops. Every check-then-write runs with no `await` between the check and the
 * commits (the store applies a commit synchronously), so two requests racing on one node
 * cannot both pass the tier's key limit.
 *
 * Who: the account owner's JWT (its own account) or a key with `keys:manage` (the key's
 * account). A caller cannot hand out scopes it does not hold itself, so a `keys:manage`
 * key cannot mint a key stronger than itself.
 */
import { z } from 'zod'
import { generateApiKey, type ApiKeyEnv } from '../auth/api-key-format.ts'
import type { ApiKeysRuntime } from '../auth/api-keys-runtime.ts'
import type { Principal } from '../auth/principal.ts'
import { FormStateError } from '../errors.ts'
import { accountProject } from '../state/account.ts'
import { activeKeyCount, createKeyOps, keyStatusAt, lineageOf, readApiKey, revokeKeyOps, rotateOldKeyChanges, updateKeyChanges, type ApiKeyEdit, type ApiKeyRecord } from '../state/api-keys.ts'
import { apiKeyKey } from '../state/model.ts'
import { effectiveTier, subscriptionOf } from '../state/subscription.ts'
import { upgradeHint, type BillingConfig } from '../state/tiers.ts'
import type { Change, ReplicaStore } from '../store/types.ts'
import { noAccountYet, ownAccountId } from './account-access.ts'
import type { apiKeyView } from './api-key-schemas.ts'

export type ApiKeyView = z.input<typeof apiKeyView>

/** Shown with every new secret. */
export const SECRET_WARNING = 'Store this key now: it is shown only once and cannot be retrieved again.'

/** The dependencies of the actions. */
export interface KeyActionDeps {
  store: ReplicaStore
  billing: BillingConfig
  now: () => number
  keys: ApiKeysRuntime
}

/** The account whose keys the caller manages (its own; 404 with a hint before it exists). */
export function managedAccount (store: ReplicaStore, p: Principal): string {
  if (p.kind === 'service') throw new FormStateError('forbidden', 'services do not manage keys')
  const id = ownAccountId(p)!
  if (accountProject(store, id) === undefined) throw noAccountYet()
  return id
}

/** Who did it, for audit events: the user's subject or `key:<id>`. */
export function actorOf (p: Principal): string {
  return p.kind === 'api_key' ? `key:${p.keyId ?? ''}` : p.sub
}

/** The account's key `keyId`; 404 for an unknown id and for another account's key alike. */
export function ownedKey (store: ReplicaStore, accountId: string, keyId: string): ApiKeyRecord {
  const k = readApiKey(store, keyId)
  if (k === undefined || k.accountId !== accountId) throw new FormStateError('not_found', 'no such api key')
  return k
}

/** The API view of a key at `now` (never the hash); `last_used_at` includes unflushed uses. */
export function keyView (k: ApiKeyRecord, env: ApiKeyEnv, now: number, keys: ApiKeysRuntime): ApiKeyView {
  const pending = keys.activity.lastUsed(k.id)
  const last = Math.max(k.lastUsed ?? 0, pending ?? 0)
  return {
    id: k.id,
    prefix: `fs_${env}_${k.id}`,
    name: k.name,
    account_id: k.accountId,
    project_id: k.projectId,
    scopes: k.scopes,
    status: keyStatusAt(k, now),
    created_at: k.createdAt,
    expires_at: k.expiresAt,
    last_used_at: last > 0 ? last : null,
    rotated_from: k.rotatedFrom,
    rotated_to: k.rotatedTo,
    grace_end: k.graceEnd,
    revoked_via: k.revokedVia,
  }
}

function checkGrantable (p: Principal, scopes: readonly string[]): void {
  const missing = scopes.filter((s) => !p.scopes.has(s))
  if (missing.length > 0) {
    throw new FormStateError('insufficient_scope', `you cannot grant scopes you do not hold: ${missing.join(', ')}`, { field: 'scopes' })
  }
}

function checkFuture (expiresAt: number | null | undefined, now: number): void {
  if (expiresAt !== undefined && expiresAt !== null && expiresAt <= now) {
    throw new FormStateError('invalid_field', 'expires_at must be in the future', { field: 'expires_at' })
  }
}

async function commitAll (store: ReplicaStore, ops: ReadonlyArray<{ target: string, changes: Change[] }>): Promise<void> {
  // All commits are issued (and applied) before the first await.
  await Promise.all(ops.map((o) => store.commit(o.target, o.changes)))
}

/** Creates a key; 402 `api_key_limit_reached` (with `upgrade`) at the tier's limit. */
export async function createKey (d: KeyActionDeps, p: Principal, input: { name: string, scopes: string[], expires_at?: number | undefined }): Promise<{ key: ApiKeyRecord, secret: string }> {
  const accountId = managedAccount(d.store, p)
  const now = d.now()
  checkFuture(input.expires_at, now)
  checkGrantable(p, input.scopes)
  const tier = effectiveTier(subscriptionOf(d.store, accountId))
  const limit = d.billing.tiers[tier].api_key_limit
  const active = activeKeyCount(d.store, accountId, now)
  if (limit !== null && active >= limit) {
    const upgrade = upgradeHint(d.billing, tier)
    throw new FormStateError('api_key_limit_reached', `the ${tier} plan allows ${limit} active api keys; revoke one or upgrade`, {
      extra: { limit, active, tier, ...(upgrade !== undefined ? { upgrade } : {}) },
    })
  }
  const gen = generateApiKey(d.keys.env)
  const project = accountProject(d.store, accountId)!
  await commitAll(d.store, createKeyOps(d.store, {
    keyId: gen.keyId, accountId, projectId: project, name: input.name, scopes: input.scopes,
    expiresAt: input.expires_at ?? null, hash: gen.hash, at: now, by: actorOf(p),
  }))
  return { key: readApiKey(d.store, gen.keyId)!, secret: gen.display }
}

/** Edits name, scopes and/or expiry of a working key (409 `conflict` once revoked). */
export async function updateKey (d: KeyActionDeps, p: Principal, keyId: string, edit: ApiKeyEdit): Promise<ApiKeyRecord> {
  const accountId = managedAccount(d.store, p)
  const now = d.now()
  if (edit.name === undefined && edit.scopes === undefined && edit.expiresAt === undefined) {
    throw new FormStateError('invalid_request', 'nothing to change: send name, scopes and/or expires_at')
  }
  checkFuture(edit.expiresAt, now)
  if (edit.scopes !== undefined) checkGrantable(p, edit.scopes)
  const k = ownedKey(d.store, accountId, keyId)
  if (k.revoked) throw new FormStateError('conflict', 'the key is revoked')
  await d.store.commit(apiKeyKey(keyId), updateKeyChanges(d.store, edit, actorOf(p), now))
  return readApiKey(d.store, keyId)!
}

/**
 * Revokes a key; effective on this node as soon as the op is applied (before this resolves).
 * Idempotent (a key revoked through its lineage is left as it is). The revoke records the
 * rotations of the key this node knows: a rotation it did not see (concurrent, elsewhere)
 * is revoked with it, one it saw (killing the old key early, during grace) is not.
 */
export async function revokeKey (d: KeyActionDeps, p: Principal, keyId: string): Promise<ApiKeyRecord> {
  const accountId = managedAccount(d.store, p)
  const k = ownedKey(d.store, accountId, keyId)
  if (k.revoked) return k
  await commitAll(d.store, revokeKeyOps(d.store, k, actorOf(p), d.now()))
  return readApiKey(d.store, keyId)!
}

/**
 * Rotates a key: a new key with the same name, scopes and expiry; the old one keeps
 * working until `now + graceSeconds`. 409 `conflict` for a key that is revoked, expired
 * or already rotated. Not limited by the tier (the old key stops counting at once).
 */
export async function rotateKey (d: KeyActionDeps, p: Principal, keyId: string, graceSeconds: number): Promise<{ key: ApiKeyRecord, secret: string, old: ApiKeyRecord }> {
  const accountId = managedAccount(d.store, p)
  const now = d.now()
  const old = ownedKey(d.store, accountId, keyId)
  const status = keyStatusAt(old, now)
  if (status !== 'active') throw new FormStateError('conflict', `the key is ${status}`)
  if (old.rotatedTo !== null) throw new FormStateError('conflict', `the key was already rotated to ${old.rotatedTo}`)
  const gen = generateApiKey(d.keys.env)
  const by = actorOf(p)
  await commitAll(d.store, [
    ...createKeyOps(d.store, {
      keyId: gen.keyId, accountId, projectId: old.projectId, name: old.name, scopes: old.scopes,
      expiresAt: old.expiresAt, hash: gen.hash, at: now, by, rotatedFrom: old.id, lineage: lineageOf(old),
    }),
    { target: apiKeyKey(old.id), changes: rotateOldKeyChanges(d.store, gen.keyId, now + graceSeconds * 1000, by, now) },
  ])
  return { key: readApiKey(d.store, gen.keyId)!, secret: gen.display, old: readApiKey(d.store, old.id)! }
}
