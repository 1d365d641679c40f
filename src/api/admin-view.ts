/**
 * How the admin routes show replica internals as JSON: ops decoded, raw CRDT state made
 * JSON-safe, secrets redacted, and the replica summary of `GET /admin/replica`.
 */
import type { Op, ReplicaStore } from '../store/types.ts'
import type { ReplicationStatusView, ReplicationView } from './replication-view.ts'

/** Fields whose value is never shown, by entity prefix: an API key's secret hash. */
const REDACTED: ReadonlyArray<readonly [prefix: string, field: string]> = [['key/', 'hash']]

/** True when `target`'s `field` must not be shown. */
export function isRedacted (target: string, field: string): boolean {
  return REDACTED.some(([p, f]) => target.startsWith(p) && field === f)
}

export const REDACTION = '[redacted]'

const MAX_DEPTH = 32

/**
 * A JSON-safe copy: bigint → decimal string, bytes → `{ base64 }`, Map → object, Set →
 * array, non-finite numbers → string. Deltas and `value()`s are plain data, but a kind
 * (e.g. Automerge changes) may carry bytes.
 */
export function jsonSafe (v: unknown, depth = 0): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v)
  if (typeof v === 'bigint') return v.toString()
  if (v === undefined || typeof v === 'function' || typeof v === 'symbol') return null
  if (depth >= MAX_DEPTH) return '[too deep]'
  if (v instanceof Uint8Array) return { base64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') }
  if (Array.isArray(v)) return v.map((x) => jsonSafe(x, depth + 1))
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), jsonSafe(x, depth + 1)]))
  if (v instanceof Set) return [...v].map((x) => jsonSafe(x, depth + 1))
  const out: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    // defineProperty: a field named __proto__ stays an own key, not a prototype change.
    Object.defineProperty(out, k, { value: jsonSafe(x, depth + 1), enumerable: true, writable: true, configurable: true })
  }
  return out
}

/** An op as JSON: ids, HLC, target and each change's decoded delta (secrets redacted). */
export interface OpJson {
  origin: string
  seq: number
  hlc: { wall: number, logical: number }
  shard: number
  target: string
  changes: Array<{ field: string, kind: string, delta: unknown }>
}

export function opToJson (op: Op): OpJson {
  return {
    origin: op.origin,
    seq: op.seq,
    hlc: { wall: op.hlc.wall, logical: op.hlc.logical },
    shard: op.shard,
    target: op.target,
    changes: op.changes.map((c) => ({ field: c.field, kind: c.kind, delta: isRedacted(op.target, c.field) ? REDACTION : jsonSafe(c.delta) })),
  }
}

/** One field's raw CRDT state and value. */
export interface FieldJson { kind: string, value: unknown, state: unknown }

/** An entity's raw state (store.inspect), JSON-safe and redacted; undefined if absent. */
export function entityJson (store: ReplicaStore, target: string): { target: string, digest: string, fields: Record<string, FieldJson> } | undefined {
  const raw = store.inspect(target)
  if (raw === undefined) return undefined
  const fields: Record<string, FieldJson> = {}
  for (const [name, f] of Object.entries(raw)) {
    const hidden = isRedacted(target, name)
    Object.defineProperty(fields, name, {
      value: { kind: f.kind, value: hidden ? REDACTION : jsonSafe(f.value), state: hidden ? REDACTION : jsonSafe(f.state) },
      enumerable: true,
    })
  }
  const digest = store.entityDigests(target).get(target) ?? ''
  return { target, digest, fields }
}

/** Version vector as a plain object, origins sorted. */
export function vvJson (vv: ReadonlyMap<string, number>): Record<string, number> {
  return Object.fromEntries([...vv].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

/** `GET /admin/replica`: where this replica stands. */
export function replicaSummary (store: ReplicaStore, mode: 'devnet' | 'node', replication: ReplicationView | undefined, now: number, withDigest: boolean): Record<string, unknown> {
  const st: ReplicationStatusView | undefined = replication?.status()
  const snap = store.lastSnapshot()
  const self = st?.peerId ?? store.replicaId
  return {
    node: { replica_id: store.replicaId, peer_id: st?.peerId ?? null, mode, shard: store.shard, cluster: st?.cluster ?? null },
    time: now,
    replication: st === undefined ? 'absent' : st.running ? 'running' : 'stopped',
    queue_reader: st === undefined ? 'n/a' : st.readerRunning ? 'running' : 'stopped',
    listen_addrs: st?.listenAddrs ?? [],
    members: st?.members.map((m) => ({ id: m.id, via: m.via, connected: m.id === self ? true : m.connected, self: m.id === self, last_seen: m.id === self || m.connected ? now : m.lastSeen ?? null })) ??
      [{ id: self, via: 'self', connected: true, self: true, last_seen: now }],
    retired: st?.retired.map((r) => ({ id: r.id, by: r.by, at: r.at })) ?? [],
    peers: Object.entries(st?.peers ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, p]) => ({
      id,
      lag_ops: p.lagOps,
      lag_ms: p.lagMs,
      peer_lag_ops: p.peerLagOps,
      rounds: p.rounds,
      errors: p.errors,
      last_round_ms: p.lastRoundMs ?? null,
      last_error: p.lastError ?? null,
      version_vector: p.vv,
    })),
    version_vector: vvJson(store.versionVector()),
    gaps: [...store.gaps()].map(([origin, [firstMissing, highest]]) => ({ origin, first_missing: firstMissing, highest_buffered: highest })),
    op_log: { length: store.logLength(), compacted_vv: vvJson(store.compactedVv()) },
    last_snapshot: snap === undefined ? null : { version_vector: vvJson(snap.vv), entities: snap.entities, bytes: snap.bytes, taken_at: snap.takenAt },
    digest: withDigest ? store.digest() : null,
    rejected: st?.rejected ?? {},
    gossip: st?.gossip ?? null,
    sync: st?.sync ?? null,
    compaction: st?.compaction ?? null,
  }
}
