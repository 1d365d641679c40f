/**
 * Idempotent usage recording (`POST /internal/usage/record` with an `idempotency_key`),
 * built beside the usage windows (usage.ts) without changing them:
 *
 * - The amounts are counted by the ordinary `usageChanges`, but posted under the copy
 *   `u:<key id>@<replica>` instead of this replica's entry (crdt/wcounter.ts: a window
 *   counts each copied name once, at its largest copy), so the same key recorded on two
 *   nodes, even concurrently, counts once cluster-wide. The copy still belongs to this
 *   replica: its windows expire by this replica's clock, and a node whose clock runs ahead
 *   cannot expire them for the others (a shared `u:<key id>` entry could only have been
 *   pruned by whichever clock ran furthest ahead).
 * - The account's horizon-bounded map `usage_idem` (crdt/hmap.ts) remembers each key id
 *   (as this replica's copy `<key id>@<replica>`, so that it expires by this replica's
 *   clock and no other's) with a hash of its body for {@link USAGE_KEY_RETENTION_MS}: a
 *   replay answers what was recorded (and writes nothing), the same key with another body
 *   is a 409 `idempotency_conflict`. Each record raises this replica's horizon in the map
 *   to `now - retention`, so keys older than that leave the state as the account records
 *   more. A key is remembered at least that long; a retry after that may be counted again
 *   (as with any idempotency key that expires; Stripe's last 24 hours).
 *
 * The key id is the idempotency key itself up to 22 characters, else `#` + 128 bits of its
 * SHA-256 (22 characters; `#` cannot start a client id, so the two never collide): a long
 * key costs no more than a short one.
 *
 * Cost: every keyed record adds one map entry and one counter entry per metric and window
 * (measured before the retention: ~180 snapshot bytes and ~260 heap bytes per record with 3
 * metrics, for 21- and 128-char keys alike; as copies, with a 52-character peer id as the
 * replica: ~147 snapshot bytes, the copies refer to the replica id instead of repeating it,
 * but ~275 more heap bytes with the op log, the copy keys spelt out in memory and in the
 * op). The counter entries live in their windows and
 * go when the windows expire; the map entry goes after the retention. (The pre-retention
 * field `usage_keys`, a gmap, is not read: old data dirs are not migrated.) Calls without
 * a key cost what they did.
 */
import { createHash } from 'node:crypto'
import { hmapGetShared, hmapPut, hmapType, type HorizonMap } from '../../crdt/hmap.ts'
import type { Value } from '../../crdt/value-codec.ts'
import { FormStateError } from '../errors.ts'
import type { Change, ReplicaStore } from '../store/types.ts'
import { accountKey, fieldState } from './model.ts'
import { usageChanges, type Subject, type UsageAmounts } from './usage.ts'

/** Account field (hmap, at `recorded_at`): `<key id>@<replica>` ({@link usageKeyId}) → {hash, at, recorded_at}. */
export const USAGE_KEYS_FIELD = 'usage_idem'

/**
 * How long an idempotency key is remembered by default: 8 days. Longer than the 7 days
 * (plus a minute of clock skew) POST /internal/usage/record accepts an explicit `at` in, so
 * a retry carrying its original `at` is either still remembered (a replay) or refused as
 * out of the window, never counted twice. A retry without `at` after this is a new record.
 */
export const USAGE_KEY_RETENTION_MS = 8 * 86_400_000

/** What was recorded under an idempotency key. */
export interface RecordedUsage {
  /** 128 bits of the SHA-256 (base64url) of the request body that recorded it. */
  hash: string
  /** Epoch ms the usage was counted at. */
  at: number
  /** Epoch ms the node recorded it. */
  recordedAt: number
}

/** The body fields that make a record: the same key must come with the same ones. */
export interface UsageRecordInput {
  subject: Subject
  amounts: UsageAmounts
  /** As sent (undefined when the caller let the node pick the time): a retry without `at` is the same request. */
  at?: number | undefined
}

/** A stable hash of a record's body (metric order does not matter), 128 bits. */
export function usageBodyHash (accountId: string, r: UsageRecordInput): string {
  const amounts = Object.keys(r.amounts).sort().map((m) => [m, r.amounts[m]])
  return createHash('sha256').update(JSON.stringify([accountId, r.subject.type, r.subject.id, amounts, r.at ?? null])).digest('base64url').slice(0, 22)
}

const MAX_LITERAL_KEY = 22

/** The id an idempotency key is stored under (bounded length; see the module comment). */
export function usageKeyId (key: string): string {
  return key.length <= MAX_LITERAL_KEY ? key : '#' + createHash('sha256').update(key).digest('base64url').slice(0, 21)
}

/** The record under `key` on the account, if any. */
export function recordedUsage (store: ReplicaStore, accountId: string, key: string): RecordedUsage | undefined {
  const s = fieldState<HorizonMap>(store, accountKey(accountId), USAGE_KEYS_FIELD)
  const v = s === undefined ? undefined : hmapGetShared(s, usageKeyId(key)) as Record<string, Value> | undefined
  if (v === undefined) return undefined
  return { hash: String(v.hash), at: Number(v.at), recordedAt: Number(v.recorded_at) }
}

/** `store` seen as a replica named `entry`: what it counts lands on that counter entry. */
function postingAs (store: ReplicaStore, entry: string): ReplicaStore {
  return new Proxy(store, {
    get (t, p) {
      if (p === 'replicaId') return entry
      const v = Reflect.get(t, p, t) as unknown
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v
    },
  })
}

/**
 * The changes recording `input` under `key` at `at`, or the earlier record when this is
 * a replay (same key, same body). 409 `idempotency_conflict` (field `idempotency_key`)
 * when the key was used with another body. The key is remembered from `now` for
 * `retentionMs` (keys recorded before `now - retentionMs` are dropped by this write).
 */
export function idempotentUsageChanges (store: ReplicaStore, accountId: string, key: string, input: UsageRecordInput, at: number, now: number, retentionMs = USAGE_KEY_RETENTION_MS): { replay: RecordedUsage } | { changes: Change[] } {
  const hash = usageBodyHash(accountId, input)
  const prior = recordedUsage(store, accountId, key)
  if (prior !== undefined) {
    if (prior.hash !== hash) {
      throw new FormStateError('idempotency_conflict', `idempotency key ${key} was already used for another usage record`, { field: 'idempotency_key' })
    }
    return { replay: prior }
  }
  const id = usageKeyId(key)
  const changes = usageChanges(postingAs(store, `u:${id}@${store.replicaId}`), accountId, input.subject, input.amounts, at)
  const t = Math.max(0, Math.floor(now))
  changes.push({ field: USAGE_KEYS_FIELD, kind: hmapType.kind, delta: hmapPut(`${id}@${store.replicaId}`, t, { hash, at, recorded_at: now }, Math.max(0, t - retentionMs)) })
  return { changes }
}

// Keyed records applied in memory but not yet durable: a replay waits for the write it
// found, so it never answers "recorded" for a write a crash could still lose.
const inflight = new WeakMap<ReplicaStore, Map<string, Promise<unknown>>>()

/** What {@link recordUsageOnce} did. */
export interface UsageRecordOutcome {
  /** True when this call found the key already recorded and wrote nothing. */
  replayed: boolean
  /** The time the usage is counted at (the first call's, on a replay). */
  at: number
}

/**
 * Records `input` once per `key` on the account (check and commit with no `await` in
 * between, so two identical calls racing on one node write once).
 */
export async function recordUsageOnce (store: ReplicaStore, accountId: string, key: string, input: UsageRecordInput, at: number, now: number, retentionMs = USAGE_KEY_RETENTION_MS): Promise<UsageRecordOutcome> {
  const r = idempotentUsageChanges(store, accountId, key, input, at, now, retentionMs)
  const tag = `${accountId}/${key}`
  let m = inflight.get(store)
  if ('replay' in r) {
    await m?.get(tag)
    return { replayed: true, at: r.replay.at }
  }
  const durable = store.commit(accountKey(accountId), r.changes)
  if (m === undefined) inflight.set(store, (m = new Map()))
  m.set(tag, durable)
  const done = (): void => { if (m.get(tag) === durable) m.delete(tag) }
  durable.then(done, done)
  await durable
  return { replayed: false, at }
}
