/**
 * The replica's contract: what the API writes through, what replication reads from and
 * feeds into. Everything above `src/store/` sees only these interfaces.
 */
import type { Hlc } from '../../crdt/hlc.ts'
import type { AnyCrdtType, ReplicaId } from '../../crdt/types.ts'
import type { VersionVector } from '../../crdt/version-vector.ts'
import type { EncodedBatch } from './op-codec.ts'

export type { Hlc, ReplicaId, VersionVector }

/** Shard id. One shard today (0); every op, log and vector is scoped by it. */
export type ShardId = number

/** One field's change inside an op: a delta of the CRDT kind that field holds. */
export interface Change {
  /** Field name within the target entity, e.g. `credits` or `usage:tok_in:gpt-x:h:2026112313`. */
  readonly field: string
  /** CRDT kind tag (see `KindRegistry`); a field keeps one kind for its lifetime. */
  readonly kind: string
  readonly delta: unknown
}

/**
 * An operation: a set of CRDT deltas on one entity, applied atomically. Identified by
 * `(origin, seq)`; seq is 1, 2, 3… per origin per shard, with no gaps.
 */
export interface Op {
  readonly origin: ReplicaId
  readonly seq: number
  readonly hlc: Hlc
  readonly shard: ShardId
  /** Entity key, e.g. `acct/<id>`, `model/<id>`. */
  readonly target: string
  readonly changes: readonly Change[]
}

/** Registry of CRDT kinds the store can decode and apply (crdt/ types plus e.g. Automerge). */
export interface KindRegistry {
  get (kind: string): AnyCrdtType | undefined
  register (type: AnyCrdtType): void
  kinds (): string[]
}

/** One field of an entity as held in memory. */
export interface FieldState {
  readonly kind: string
  state: unknown
}

/** Read-only view of an entity. */
export type EntityView = ReadonlyMap<string, FieldState>

export interface ApplyResult {
  /** Ops applied now (deltas commute, so this includes ops past a gap). */
  applied: number
  /** Ops already applied (covered by the vector, or seen past a gap), ignored. */
  duplicates: number
  /**
   * Of `applied`, ops past a gap: an earlier seq from their origin is missing, so the
   * contiguous version vector does not cover them yet (see `gaps()`).
   */
  buffered: number
}

export interface SnapshotInfo {
  readonly vv: VersionVector
  readonly entities: number
  readonly bytes: number
  readonly takenAt: number
}

export type DurabilityPolicy = 'sync' | 'group' | 'none'

/**
 * The replica. Single-threaded: `commit` validates and applies to memory synchronously
 * before it returns, so a caller that reads, checks and commits with no `await` in
 * between is atomic with respect to every other request on this node.
 */
export interface ReplicaStore {
  readonly replicaId: ReplicaId
  readonly shard: ShardId

  /**
   * A fresh timestamp from the replica's hybrid logical clock, for LWW deltas the caller
   * builds before `commit` (later than every op this replica has applied).
   */
  now (): Hlc

  /**
   * Make a local op: assign `(replicaId, nextSeq)` and an HLC time, validate every change
   * (unknown kind or malformed delta throws `invalid_op` and nothing is applied), apply it
   * to memory, append it to the log. The promise resolves once the op is durable under the
   * configured policy; committed ops are then handed to `onCommit` listeners.
   */
  commit (target: string, changes: readonly Change[]): Promise<Op>

  /**
   * Apply ops from other replicas (or replays of our own). Idempotent and order-free:
   * duplicates are dropped; ops past a gap are applied at once and tracked so the vector
   * stays contiguous until the gap is filled. Ops are validated before anything is
   * applied; resolves once they are durable.
   */
  applyRemote (ops: readonly Op[]): Promise<ApplyResult>
  /**
   * `applyRemote` of an `encodeOps` batch as received (all or nothing, decode errors
   * included): the store decodes it and logs each op's own bytes, with no per-op caches.
   */
  applyEncoded? (batch: Uint8Array): Promise<ApplyResult>
  /**
   * `applyEncoded` of a batch already decoded by `decodeOpsWithBytes` (e.g. to check it
   * against a signed envelope's header first): applied and logged as given, no re-decode.
   * Refuses (`invalid_op`) any other array.
   */
  applyDecoded? (batch: EncodedBatch): Promise<ApplyResult>

  entity (target: string): EntityView | undefined
  /** One field's state, without building the entity's view (O(log fields), for hot paths). */
  field (target: string, field: string): FieldState | undefined
  /** `value()` of one field, or undefined when the entity or field does not exist. */
  fieldValue (target: string, field: string): unknown
  /** Entity keys, optionally those starting with `prefix`, in sorted order. */
  targets (prefix?: string): string[]

  /** Contiguous version vector (a copy). */
  versionVector (): VersionVector
  /** Origins with buffered ops past a gap: origin → [first missing seq, highest buffered seq]. */
  gaps (): Map<ReplicaId, [number, number]>

  /** Logged ops the holder of `vv` lacks, ordered by origin then seq, at most `limit`. */
  opsAfter (vv: VersionVector, limit: number): Promise<Op[]>
  /**
   * `opsAfter` without decoding: each op as the bytes it is logged as (`encodeOp`), for
   * serving anti-entropy, where decoding only to re-encode would be wasted work.
   */
  encodedOpsAfter? (vv: VersionVector, limit: number): Promise<EncodedOp[]>
  /** The op log of one origin after `after`, for inspection. */
  readLog (origin: ReplicaId, after: number, limit: number): Promise<Op[]>
  /** Lowest vector such that ops at or below it may have been compacted away. */
  compactedVv (): VersionVector
  logLength (): number

  /** Listen to local ops once durable (replication publishes these). Returns an unsubscribe. */
  onCommit (listener: (ops: readonly Op[]) => void): () => void
  /** Listen to every op applied (local or remote), for metrics and watchers. */
  onApply (listener: (op: Op, local: boolean) => void): () => void

  /** Persist a snapshot of state + vector; restart loads it and replays the log after it. */
  snapshot (): Promise<SnapshotInfo>
  lastSnapshot (): SnapshotInfo | undefined
  /** Drop logged ops covered by `stable` (seen by every member). Returns how many. */
  compact (stable: VersionVector): Promise<number>
  /** Whole state + vector, encoded, for bootstrapping a peer. */
  exportSnapshot (): Promise<Uint8Array>
  /** Merge a peer's exported snapshot into this replica (state join, vector max). */
  importSnapshot (bytes: Uint8Array): Promise<void>

  /** Hash (hex) of the canonical encoding of the whole state; equal states, equal digests. */
  digest (): string
  /** Per-entity digests, for finding which entities differ between replicas. */
  entityDigests (prefix?: string): Map<string, string>
  /** Raw CRDT state of an entity, per field, as plain JSON (per-replica entries, timestamps, dots). */
  inspect (target: string): Record<string, { kind: string; state: unknown; value: unknown }> | undefined

  start (): Promise<void>
  stop (): Promise<void>
}

/** One logged op as stored: its origin and seq, and its `encodeOp` bytes. */
export interface EncodedOp {
  origin: ReplicaId
  seq: number
  bytes: Uint8Array
}
