/**
 * How the marketplace is laid out in the replica: entity keys, field names and the CRDT
 * kind of each field. Everything in src/state/ builds `Change`s from these and reads
 * the store through them; nothing else knows the layout.
 *
 * Account `acct/<id>`:
 *   project, owner, created_at   lww (written once at creation; identical values on every node)
 *   sub                          lww ordered by the billing event's own time
 *   credits                      pncounter: P entries keyed `g:<idempotency key>` (grants count
 *                                once cluster-wide), N entries keyed by replica id (spends) and
 *                                `a:<key>` (negative adjustments)
 *   grants                       gmap: grant/adjustment id → record (history)
 *   hired                        awset of agent ids
 *   keys                         awset of API key ids
 *   spent                        wcounter (crdt/wcounter.ts): credits consumed per minute/hour/day
 *                                window, per-replica entries, windows past retention dropped
 *   u/<metric>/<subject>         wcounter: usage of one metric for `model:<id>` / `agent:<id>`,
 *                                every window of every resolution in one field (windows.ts)
 * API key `key/<keyId>`: see api-keys.ts. Catalog `model/<id>`, `agent/<id>`: catalog.ts.
 */
import { createHash } from 'node:crypto'
import { statusLatticeType } from '../../crdt/lattice.ts'
import type { Value } from '../../crdt/value-codec.ts'
import { FormStateError } from '../errors.ts'
import type { ReplicaStore } from '../store/types.ts'

export const KIND = {
  lww: 'lww.v1',
  pn: 'pncounter.v1',
  g: 'gcounter.v1',
  windows: 'wcounter.v2',
  awset: 'awset.v1',
  gmap: 'gmap.v1',
  keyStatus: 'keystatus.v1',
} as const

/** API key status lattice: a revoke always wins over a concurrent edit. */
export const keyStatusType = statusLatticeType(KIND.keyStatus, ['active', 'revoked'] as const)

/**
 * The entity key of an account. One call (a metered call, a read) asks for the same
 * account's key several times: the last key is kept, so they share one string, built and
 * hashed once, rather than each building and hashing its own.
 */
export function accountKey (id: string): string {
  if (id !== lastAccountId) {
    lastAccountKey = `acct/${id}`
    lastAccountId = id
  }
  return lastAccountKey
}
let lastAccountId: string | undefined
let lastAccountKey = ''
export const apiKeyKey = (keyId: string): string => `key/${keyId}`

/** Ids we accept from clients (models, agents, operations, idempotency keys). */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/

/**
 * An account's id is derived from (project, subject), so creating "my account" is
 * idempotent on one node and across nodes: two nodes creating it concurrently write the
 * same entity.
 */
export function accountIdFor (projectId: string, sub: string): string {
  // Several lookups per request (auth, rate limit, the route): a small memo saves a SHA-256
  // each. Bounded: past the cap it starts over, so unknown callers cannot grow it.
  const memoKey = projectId + '\0' + sub
  let id = accountIds.get(memoKey)
  if (id === undefined) {
    id = 'acc_' + createHash('sha256').update(projectId).update('\0').update(sub).digest('hex').slice(0, 24)
    if (accountIds.size >= ACCOUNT_ID_MEMO) accountIds.clear()
    accountIds.set(memoKey, id)
  }
  return id
}

const ACCOUNT_ID_MEMO = 10_000
const accountIds = new Map<string, string>()

/** The raw state of one field, or undefined. */
export function fieldState<S> (store: ReplicaStore, target: string, field: string): S | undefined {
  return store.field(target, field)?.state as S | undefined
}

/** `value()` of an LWW field as a plain value, or undefined when unset. */
export function lwwValue (store: ReplicaStore, target: string, field: string): Value | undefined {
  const v = store.fieldValue(target, field) as Value | undefined
  return v === null ? undefined : v
}

/** Throw a 400 naming `field` unless `id` is a well-formed id. */
export function checkId (id: string, field: string): void {
  if (!ID_PATTERN.test(id)) throw new FormStateError('invalid_field', `${field} must match ${ID_PATTERN.source}`, { field })
}
