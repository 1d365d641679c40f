/**
 * API keys as replicated state. A key is its own entity `key/<keyId>` (O(1) lookup by the
 * id embedded in the key string) and is listed on its account through the account's
 * `keys` add-wins set. Fields:
 *
 *   account, project, hash, created_at, rotated_from, lineage   lww written once at creation
 *                                 (time zero for the identity ones, so they never change);
 *                                 lineage = ancestors by rotation, oldest first
 *   lineage_revokes               on a lineage's root: which key each revoke hit and which
 *                                 successors it had seen (api-key-lineage.ts)
 *   name, scopes, expires_at      lww at the store's HLC (PATCH edits them)
 *   status                        keystatus lattice active < revoked: a revoke wins over
 *                                 any concurrent edit, in any merge order
 *   rotated_to, grace_end         lww: set on the old key by a rotation
 *   last_used                     gcounter with one entry `at` holding a time: merge is max,
 *                                 so it is a max register
 *   audit, use, fail/<reason>     audit and usage: see api-key-audit.ts
 *
 * `expired` is never stored: it is derived from `expires_at`, or `grace_end` for a rotated
 * key, and the time of the question. The secret is never stored, only its SHA-256 (made by
 * src/auth, above this layer). `revoked` includes a revoke that reaches the key through its
 * rotation lineage: a revoke of a predecessor that had not seen the rotation.
 */
import { lwwSet } from '../../crdt/lww.ts'
import type { Value } from '../../crdt/value-codec.ts'
import { FormStateError } from '../errors.ts'
import type { Change, Hlc, ReplicaStore } from '../store/types.ts'
import { apiKeyIds, keyIndexChange } from './account.ts'
import { eventChange, eventId } from './api-key-audit.ts'
import { inheritedRevoke, lineageRevokeChange, lineageRoot } from './api-key-lineage.ts'
import { accountKey, apiKeyKey, KIND, keyStatusType } from './model.ts'

/** What a key's status reads as at some time. */
export type ApiKeyStatus = 'active' | 'revoked' | 'expired'

/** One key as stored (never the secret). */
export interface ApiKeyRecord {
  id: string
  accountId: string
  projectId: string
  name: string
  scopes: string[]
  createdAt: number
  expiresAt: number | null
  /** SHA-256 of the secret, lowercase hex. */
  hash: string
  /** Revoked itself, or through its lineage (then `revokedVia` names the revoked ancestor). */
  revoked: boolean
  /** The ancestor whose revoke (which had not seen this key's rotation) revokes this key, else null. */
  revokedVia: string | null
  /** Ancestors by rotation, oldest first; null for a key not made by a rotation. */
  lineage: string[] | null
  lastUsed: number | null
  rotatedFrom: string | null
  rotatedTo: string | null
  graceEnd: number | null
}

const T0: Hlc = { wall: 0, logical: 0 }

// A field's value with a stored null read as absent. Module level on purpose: tsx compiles
// with esbuild's keepNames, which wraps every named closure in `__name()` (an
// Object.defineProperty) each time it is created: a closure per call cost ~0.2 µs in a loop
// and ~0.5 µs per read under HTTP load (__name was 0.9% of a key-request --cpu-prof).
function field (store: ReplicaStore, t: string, f: string): unknown {
  const x = store.fieldValue(t, f)
  return x === null ? undefined : x
}

/**
 * The stored key, or undefined when there is none. Reads field by field through
 * `fieldValue` (a binary search each; no per-entity allocation): this is on the hot path
 * of every key-authenticated request.
 */
export function readApiKey (store: ReplicaStore, keyId: string): ApiKeyRecord | undefined {
  const t = apiKeyKey(keyId)
  const hash = store.fieldValue(t, 'hash')
  if (typeof hash !== 'string') return undefined
  const lastUsed = field(store, t, 'last_used') as number | undefined
  const rotatedFrom = (field(store, t, 'rotated_from') as string | undefined) ?? null
  let revoked = field(store, t, 'status') === 'revoked'
  let revokedVia: string | null = null
  let lineage: string[] | null = null
  if (rotatedFrom !== null) {
    // Keys rotated before lineages were recorded know only their parent.
    lineage = (field(store, t, 'lineage') as string[] | undefined) ?? [rotatedFrom]
    if (!revoked) {
      const via = inheritedRevoke(store, keyId, lineage)
      if (via !== undefined) { revoked = true; revokedVia = via.key }
    }
  }
  return {
    id: keyId,
    accountId: field(store, t, 'account') as string,
    projectId: field(store, t, 'project') as string,
    name: (field(store, t, 'name') as string | undefined) ?? '',
    scopes: (field(store, t, 'scopes') as string[] | undefined) ?? [],
    createdAt: (field(store, t, 'created_at') as number | undefined) ?? 0,
    expiresAt: (field(store, t, 'expires_at') as number | undefined) ?? null,
    hash,
    revoked,
    revokedVia,
    lineage,
    lastUsed: lastUsed === undefined || lastUsed === 0 ? null : lastUsed,
    rotatedFrom,
    rotatedTo: (field(store, t, 'rotated_to') as string | undefined) ?? null,
    graceEnd: (field(store, t, 'grace_end') as number | undefined) ?? null,
  }
}

/** Why a stored key does not work at `now`, or undefined when it does. */
export function keyProblemAt (k: ApiKeyRecord, now: number): 'revoked' | 'expired' | 'grace_ended' | undefined {
  if (k.revoked) return 'revoked'
  if (k.expiresAt !== null && now >= k.expiresAt) return 'expired'
  if (k.rotatedTo !== null && k.graceEnd !== null && now >= k.graceEnd) return 'grace_ended'
  return undefined
}

/** The status a key reads as at `now`: revoked wins, then expiry (including a rotation's grace end). */
export function keyStatusAt (k: ApiKeyRecord, now: number): ApiKeyStatus {
  const p = keyProblemAt(k, now)
  return p === undefined ? 'active' : p === 'revoked' ? 'revoked' : 'expired'
}

/**
 * Whether a key counts against the account's active-key limit: working, and not an old
 * key in its rotation grace (rotating at the limit must be possible).
 */
export function countsAsActive (k: ApiKeyRecord, now: number): boolean {
  return keyProblemAt(k, now) === undefined && k.rotatedTo === null
}

/** The account's keys (listed through its `keys` set; ids whose entity has not arrived yet are skipped). */
export function accountApiKeys (store: ReplicaStore, accountId: string): ApiKeyRecord[] {
  const out: ApiKeyRecord[] = []
  for (const id of apiKeyIds(store, accountId)) {
    const k = readApiKey(store, id)
    if (k !== undefined && k.accountId === accountId) out.push(k)
  }
  return out.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1))
}

/**
 * Active keys of an account at `now` (what the tier limit counts): {@link countsAsActive}
 * of each listed key, read field by field with the cheapest refusals first, without
 * building records or sorting them (every `GET /accounts/me` asks).
 */
export function activeKeyCount (store: ReplicaStore, accountId: string, now: number): number {
  let n = 0
  for (const id of apiKeyIds(store, accountId)) {
    const t = apiKeyKey(id)
    if (typeof store.fieldValue(t, 'hash') !== 'string' || field(store, t, 'account') !== accountId) continue
    if (field(store, t, 'rotated_to') !== undefined) continue // rotated: in its grace or past it
    const expiresAt = field(store, t, 'expires_at') as number | undefined
    if (expiresAt !== undefined && now >= expiresAt) continue
    if (field(store, t, 'status') === 'revoked') continue
    const rotatedFrom = field(store, t, 'rotated_from') as string | undefined
    // As readApiKey: revoked through the lineage by a revoke that had not seen this rotation.
    if (rotatedFrom !== undefined && inheritedRevoke(store, id, (field(store, t, 'lineage') as string[] | undefined) ?? [rotatedFrom]) !== undefined) continue
    n++
  }
  return n
}

/** What creating a key needs; `hash` comes from src/auth's generator. */
export interface NewApiKey {
  keyId: string
  accountId: string
  projectId: string
  name: string
  scopes: readonly string[]
  expiresAt: number | null
  hash: string
  at: number
  /** Who created it (principal sub or `key:<id>`), for the audit event. */
  by: string
  rotatedFrom?: string
  /** Ancestors of a rotated key, oldest first (the old key's lineage plus the old key). */
  lineage?: readonly string[]
}

function lww (store: ReplicaStore, field: string, value: Value, t: Hlc): Change {
  return { field, kind: KIND.lww, delta: lwwSet(value, t, store.replicaId) }
}

function identity (field: string, value: Value): Change {
  // Time zero and replica '': written once by one creator, identical wherever it lands.
  return { field, kind: KIND.lww, delta: lwwSet(value, T0, '') }
}

/**
 * The ops creating a key: the account's index first (so a key can never exist unlisted
 * and escape the tier's limit), then the key entity with its `created` event.
 */
export function createKeyOps (store: ReplicaStore, k: NewApiKey): Array<{ target: string, changes: Change[] }> {
  if (store.fieldValue(apiKeyKey(k.keyId), 'hash') !== undefined) throw new FormStateError('conflict', 'key id already in use')
  const t = store.now()
  const changes: Change[] = [
    identity('account', k.accountId),
    identity('project', k.projectId),
    identity('hash', k.hash),
    identity('created_at', k.at),
    lww(store, 'name', k.name, t),
    lww(store, 'scopes', [...k.scopes], t),
    lww(store, 'expires_at', k.expiresAt, t),
    eventChange(store, t, { type: 'created', at: k.at, by: k.by, name: k.name, scopes: [...k.scopes], ...(k.rotatedFrom !== undefined ? { rotated_from: k.rotatedFrom } : {}) }),
  ]
  if (k.rotatedFrom !== undefined) changes.push(identity('rotated_from', k.rotatedFrom))
  if (k.lineage !== undefined) changes.push(identity('lineage', [...k.lineage]))
  return [
    { target: accountKey(k.accountId), changes: [keyIndexChange(store, k.accountId, k.keyId)] },
    { target: apiKeyKey(k.keyId), changes },
  ]
}

/** An edit of name, scopes or expiry; absent members are left alone (`expiresAt: null` clears). */
export interface ApiKeyEdit {
  name?: string
  scopes?: readonly string[]
  expiresAt?: number | null
}

/** The changes of a PATCH, with an `updated` event listing what changed. */
export function updateKeyChanges (store: ReplicaStore, edit: ApiKeyEdit, by: string, at: number): Change[] {
  const t = store.now()
  const changes: Change[] = []
  const changed: Record<string, Value> = {}
  if (edit.name !== undefined) { changes.push(lww(store, 'name', edit.name, t)); changed.name = edit.name }
  if (edit.scopes !== undefined) { changes.push(lww(store, 'scopes', [...edit.scopes], t)); changed.scopes = [...edit.scopes] }
  if (edit.expiresAt !== undefined) { changes.push(lww(store, 'expires_at', edit.expiresAt, t)); changed.expires_at = edit.expiresAt }
  changes.push(eventChange(store, t, { type: 'updated', at, by, changed }))
  return changes
}

/** The lineage a key rotated from `old` gets: the old key's ancestors, then the old key. */
export function lineageOf (old: ApiKeyRecord): string[] {
  return [...(old.lineage ?? []), old.id]
}

/** Successors of `k` this replica knows: its `rotated_to` and any key of the account rotated from it. */
export function knownSuccessors (store: ReplicaStore, k: ApiKeyRecord): string[] {
  const out = new Set<string>()
  if (k.rotatedTo !== null) out.add(k.rotatedTo)
  for (const id of apiKeyIds(store, k.accountId)) {
    if (store.fieldValue(apiKeyKey(id), 'rotated_from') === k.id) out.add(id)
  }
  return [...out].sort()
}

/**
 * The ops revoking `k`: the status lattice (wins over any concurrent edit) and the
 * `revoked` event on the key, and on its lineage's root the record of which successors
 * this revoke saw, so a rotation it did not see is revoked with it (api-key-lineage.ts).
 */
export function revokeKeyOps (store: ReplicaStore, k: ApiKeyRecord, by: string, at: number): Array<{ target: string, changes: Change[] }> {
  const t = store.now()
  const saw = knownSuccessors(store, k)
  const keyChanges: Change[] = [
    { field: 'status', kind: KIND.keyStatus, delta: keyStatusType.indexOf('revoked') },
    eventChange(store, t, { type: 'revoked', at, by, saw_rotations: saw }),
  ]
  const record = lineageRevokeChange(eventId(store, t), k.id, saw, at, by)
  const root = lineageRoot(k.id, k.lineage)
  if (root === k.id) return [{ target: apiKeyKey(k.id), changes: [...keyChanges, record] }]
  return [{ target: apiKeyKey(k.id), changes: keyChanges }, { target: apiKeyKey(root), changes: [record] }]
}

/** The changes marking `oldKey` rotated to `newKeyId`, working until `graceEnd`. */
export function rotateOldKeyChanges (store: ReplicaStore, newKeyId: string, graceEnd: number, by: string, at: number): Change[] {
  const t = store.now()
  return [
    lww(store, 'rotated_to', newKeyId, t),
    lww(store, 'grace_end', graceEnd, t),
    eventChange(store, t, { type: 'rotated', at, by, rotated_to: newKeyId, grace_end: graceEnd }),
  ]
}
