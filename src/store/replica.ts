/**
 * The replica: in-memory CRDT state, the op log, gap tracking, group commit, snapshots and
 * digests, composed behind the `ReplicaStore` contract. See types.ts for the contract.
 *
 * Hot path (commit / applyRemote) is synchronous up to one shared promise per write batch:
 * encode, validate, apply to memory, push the log write. Durability is the WriteQueue's.
 */
import { HlcClock } from '../../crdt/hlc.ts'
import { FormStateError } from '../errors.ts'
import { entityDigests, stateDigest } from './digest.ts'
import { SeqTracker } from './gaps.ts'
import { WriteQueue } from './group-commit.ts'
import { Keys, readU64, u64 } from './keys.ts'
import { OpLog } from './log.ts'
import { checkOpShape, decodeOp, decodeOpsWithBytes, encodeOp, encodeOwnOp, isDecoded, isDecodedBatch, type EncodedBatch } from './op-codec.ts'
import { Snapshots } from './replica-snapshots.ts'
import { StateMap } from './state-map.ts'
import type { KvStore, KvWrite } from './storage.ts'
import type {
  ApplyResult, Change, DurabilityPolicy, EncodedOp, EntityView, FieldState, KindRegistry, Op, ReplicaId, ReplicaStore,
  ShardId, SnapshotInfo, VersionVector,
} from './types.ts'

export interface ReplicaOptions {
  replicaId: ReplicaId
  kv: KvStore
  kinds: KindRegistry
  /** Default 0 (one shard today). */
  shard?: ShardId
  /** Default `group` on a persistent store, `none` in memory. */
  durability?: DurabilityPolicy
  /** Physical clock for the HLC (injectable for tests and simulation). */
  now?: () => number
  /** Remote timestamps further ahead than this are not adopted by our clock. */
  maxDriftMs?: number
  /** Close the KvStore on stop (default true: the replica owns it). */
  closeKv?: boolean
}

type ApplyListener = (op: Op, local: boolean) => void
type CommitListener = (ops: readonly Op[]) => void

export class Replica implements ReplicaStore {
  readonly replicaId: ReplicaId
  readonly shard: ShardId
  readonly durability: DurabilityPolicy
  private readonly kv: KvStore
  private readonly kinds: KindRegistry
  private readonly keys: Keys
  private readonly clock: HlcClock
  private state: StateMap
  private tracker = new SeqTracker()
  private readonly log: OpLog
  private readonly queue: WriteQueue
  private readonly snaps: Snapshots
  private nextSeq = 1
  private logCount = 0
  private durableCount = 0
  private compacted: VersionVector = new Map()
  private started = false
  private stopping = false
  private readonly applyListeners = new Set<ApplyListener>()
  private readonly commitListeners = new Set<CommitListener>()

  constructor (private readonly opts: ReplicaOptions) {
    // '@' is reserved: retention-bounded CRDTs name a replica's copy of a shared entry
    // `name@replica` (crdt/horizons.ts), so a replica id with '@' would read as a copy.
    if (typeof opts.replicaId !== 'string' || opts.replicaId.length === 0 || opts.replicaId.length > 256 || opts.replicaId.includes('\0') || opts.replicaId.includes('@')) {
      throw new FormStateError('invalid_request', 'replicaId must be a non-empty string without NUL or @, at most 256 chars')
    }
    this.replicaId = opts.replicaId
    this.shard = opts.shard ?? 0
    this.kv = opts.kv
    this.kinds = opts.kinds
    this.durability = opts.durability ?? (opts.kv.persistent ? 'group' : 'none')
    this.keys = new Keys(this.shard)
    this.clock = new HlcClock(opts.now ?? Date.now, opts.maxDriftMs)
    this.state = new StateMap(this.kinds)
    this.log = new OpLog(this.kv, this.keys, this.kinds)
    this.queue = new WriteQueue(this.kv, this.durability, (ops) => this.emitCommit(ops), (n) => {
      this.durableCount += n
      return { type: 'put', key: this.keys.count, value: u64(this.durableCount) }
    })
    this.snaps = new Snapshots(this.kv, this.keys, this.queue, this.durability !== 'none')
  }

  async start (): Promise<void> {
    if (this.started) return
    await this.kv.open()
    const loaded = await this.snaps.load(this.kinds)
    if (loaded !== undefined) {
      if (loaded.header.shard !== this.shard) throw new FormStateError('storage_failure', `snapshot is of shard ${loaded.header.shard}, not ${this.shard}`)
      this.state = loaded.state
      this.tracker = loaded.header.tracker
    }
    this.compacted = await this.log.loadCompacted()
    const count = await this.kv.get(this.keys.count)
    this.durableCount = this.logCount = count === undefined ? 0 : readU64(count, 0)
    let maxWall = 0
    let maxLogical = 0
    await this.log.replay(this.tracker, (op) => {
      this.state.check(op.target, op.changes)
      this.state.apply(op.target, op.changes)
      this.tracker.add(op.origin, op.seq)
      if (op.hlc.wall > maxWall || (op.hlc.wall === maxWall && op.hlc.logical > maxLogical)) { maxWall = op.hlc.wall; maxLogical = op.hlc.logical }
    })
    if (maxWall > 0) this.observe({ wall: maxWall, logical: maxLogical })
    this.nextSeq = this.ownTop() + 1
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started || this.stopping) return
    this.stopping = true
    // A snapshot being cut still has to queue its write (which must not meet a closed store).
    await this.snaps.idle()
    try { await this.queue.drain() } catch { /* already reported to the writers */ }
    if (this.opts.closeKv !== false) await this.kv.close()
    this.started = false
    this.stopping = false
  }

  private ready (): void {
    if (!this.started || this.stopping) throw new FormStateError('not_ready', 'replica is not started')
  }

  /** Highest own seq applied (contiguous or not), so a restart never reuses a seq. */
  private ownTop (): number {
    const ahead = this.tracker.aheadOf(this.replicaId)
    return Math.max(this.tracker.top(this.replicaId), ahead[ahead.length - 1] ?? 0)
  }

  private observe (hlc: Op['hlc']): void {
    // A remote clock too far ahead is not adopted, but its op is valid: keep it.
    try { this.clock.observe(hlc) } catch { /* drift beyond limit */ }
  }

  now (): Op['hlc'] {
    return this.clock.now()
  }

  commit (target: string, changes: readonly Change[]): Promise<Op> {
    try {
      this.ready()
    } catch (err) { return Promise.reject(err) }
    let op: Op
    let bytes: Uint8Array
    try {
      const draft: Op = { origin: this.replicaId, seq: this.nextSeq, hlc: this.clock.now(), shard: this.shard, target, changes }
      // The op we apply equals what the log and peers decode from `bytes` (encodeOwnOp).
      const own = encodeOwnOp(draft, this.kinds, this.commitListeners.size > 0)
      op = own.op
      bytes = own.bytes
      this.state.check(op.target, op.changes)
    } catch (err) {
      const e = err instanceof FormStateError ? err : undefined
      return Promise.reject(e?.code === 'invalid_op' ? e : new FormStateError('invalid_op', `invalid op: ${(err as Error).message}`, { cause: err }))
    }
    try {
      this.state.apply(op.target, op.changes)
    } catch (err) {
      return Promise.reject(err)
    }
    this.nextSeq++
    this.tracker.add(op.origin, op.seq)
    const done = this.append(op, bytes, true)
    return done.then(() => op)
  }

  private append (op: Op, bytes: Uint8Array, local: boolean): Promise<void> {
    this.logCount++
    for (const l of this.applyListeners) {
      try { l(op, local) } catch { /* listeners must not break the write path */ }
    }
    return this.queue.put({ type: 'put', key: this.keys.log(op.origin, op.seq), value: bytes }, local ? op : undefined)
  }

  async applyRemote (ops: readonly Op[]): Promise<ApplyResult> {
    this.ready()
    const prepared: EncodedBatch = new Array(ops.length)
    for (let i = 0; i < ops.length; i++) {
      const raw = ops[i]!
      checkOpShape(raw)
      if (raw.shard !== this.shard) throw new FormStateError('invalid_op', `op for shard ${raw.shard}, this is shard ${this.shard}`)
      const bytes = encodeOp(raw, this.kinds)
      prepared[i] = { op: isDecoded(raw) ? raw : decodeOp(bytes, this.kinds), bytes }
    }
    return this.applyPrepared(prepared)
  }

  async applyEncoded (batch: Uint8Array): Promise<ApplyResult> {
    this.ready()
    return this.applyPrepared(decodeOpsWithBytes(batch, this.kinds))
  }

  async applyDecoded (batch: EncodedBatch): Promise<ApplyResult> {
    this.ready()
    // Only batches the codec built are trusted to carry ops equal to their bytes.
    if (!isDecodedBatch(batch)) throw new FormStateError('invalid_op', 'applyDecoded takes a batch from decodeOpsWithBytes')
    return this.applyPrepared(batch)
  }

  /** Validate every op of the batch (nothing applied on failure), then apply and log them. */
  private async applyPrepared (prepared: EncodedBatch): Promise<ApplyResult> {
    // `check` compares each op with the state before the batch; two ops of the batch on one
    // target must also agree on their fields' kinds. Targets seen once (most of them) cost
    // one map entry holding their op's changes; a field map is built only for repeats.
    const seen = new Map<string, readonly Change[] | Map<string, string>>()
    for (const { op } of prepared) {
      if (op.shard !== this.shard) throw new FormStateError('invalid_op', `op for shard ${op.shard}, this is shard ${this.shard}`)
      this.state.check(op.target, op.changes)
      const prev = seen.get(op.target)
      if (prev === undefined) { seen.set(op.target, op.changes); continue }
      let fields: Map<string, string>
      if (prev instanceof Map) fields = prev
      else {
        fields = new Map()
        for (const c of prev) fields.set(c.field, c.kind)
        seen.set(op.target, fields)
      }
      for (const c of op.changes) {
        const kind = fields.get(c.field)
        if (kind !== undefined && kind !== c.kind) throw new FormStateError('invalid_op', `field ${c.field} of ${op.target} given two kinds in one batch`, { field: c.field })
        fields.set(c.field, c.kind)
      }
    }
    const res: ApplyResult = { applied: 0, duplicates: 0, buffered: 0 }
    let last: Promise<void> | undefined
    let failure: unknown
    for (const { op, bytes } of prepared) {
      if (this.tracker.has(op.origin, op.seq)) { res.duplicates++; continue }
      try {
        this.state.apply(op.target, op.changes)
      } catch (err) { failure = err; break }
      if (this.tracker.add(op.origin, op.seq)) res.buffered++
      res.applied++
      this.observe(op.hlc)
      if (op.origin === this.replicaId && op.seq >= this.nextSeq) this.nextSeq = op.seq + 1
      last = this.append(op, bytes, false)
    }
    await (last ?? this.queue.drain())
    if (failure !== undefined) throw failure
    return res
  }

  entity (target: string): EntityView | undefined {
    return this.state.view(target)
  }

  field (target: string, field: string): FieldState | undefined {
    return this.state.field(target, field)
  }

  fieldValue (target: string, field: string): unknown {
    const f = this.state.field(target, field)
    return f === undefined ? undefined : this.kinds.get(f.kind)!.value(f.state)
  }

  targets (prefix?: string): string[] {
    return this.state.targets(prefix)
  }

  versionVector (): VersionVector {
    return this.tracker.vector()
  }

  gaps (): Map<ReplicaId, [number, number]> {
    return this.tracker.gaps()
  }

  async opsAfter (vv: VersionVector, limit: number): Promise<Op[]> {
    const out: Op[] = []
    for (const origin of [...this.tracker.origins()].sort()) {
      if (out.length >= limit) break
      // A loop, not push(...xs): spreading ~100k+ ops overflows the call stack.
      for (const op of await this.log.read(origin, vv.get(origin) ?? 0, limit - out.length)) out.push(op)
    }
    return out
  }

  async encodedOpsAfter (vv: VersionVector, limit: number): Promise<EncodedOp[]> {
    const out: EncodedOp[] = []
    for (const origin of [...this.tracker.origins()].sort()) {
      if (out.length >= limit) break
      for (const e of await this.log.readEncoded(origin, vv.get(origin) ?? 0, limit - out.length)) out.push(e)
    }
    return out
  }

  readLog (origin: ReplicaId, after: number, limit: number): Promise<Op[]> {
    return this.log.read(origin, after, limit)
  }

  compactedVv (): VersionVector {
    return new Map(this.compacted)
  }

  logLength (): number {
    return this.logCount
  }

  onCommit (listener: CommitListener): () => void {
    this.commitListeners.add(listener)
    return () => { this.commitListeners.delete(listener) }
  }

  onApply (listener: ApplyListener): () => void {
    this.applyListeners.add(listener)
    return () => { this.applyListeners.delete(listener) }
  }

  private emitCommit (ops: Op[]): void {
    for (const l of this.commitListeners) {
      try { l(ops) } catch { /* a listener's failure is its own */ }
    }
  }

  snapshot (): Promise<SnapshotInfo> {
    this.ready()
    return this.snaps.take(this.state, this.tracker, this.shard)
  }

  lastSnapshot (): SnapshotInfo | undefined {
    return this.snaps.last
  }

  async compact (stable: VersionVector): Promise<number> {
    this.ready()
    // Never drop an op the persisted snapshot does not cover: restart = snapshot + log.
    const bound: VersionVector = new Map()
    for (const [o, n] of stable) {
      const b = Math.min(n, this.tracker.top(o))
      if (b > (this.compacted.get(o) ?? 0)) bound.set(o, b)
    }
    if (bound.size === 0) return 0
    const snapVv = this.snaps.last?.vv
    if (snapVv === undefined || [...bound].some(([o, n]) => (snapVv.get(o) ?? 0) < n)) await this.snapshot()
    const removed = await this.snaps.compact(this.log, bound, this.compacted, (n) => {
      this.durableCount -= n
      return { type: 'put', key: this.keys.count, value: u64(this.durableCount) } satisfies KvWrite
    })
    this.logCount -= removed
    return removed
  }

  exportSnapshot (): Promise<Uint8Array> {
    this.ready()
    return this.snaps.exportBytes(this.state, this.tracker, this.shard)
  }

  async importSnapshot (bytes: Uint8Array): Promise<void> {
    this.ready()
    const { state, tracker, chunks } = this.snaps.decodeImport(bytes, this.kinds, this.shard)
    // A node bootstrapping from nothing: after the merge its state is exactly the import's.
    const wasEmpty = this.state.size === 0 && this.tracker.origins().size === 0
    this.state.mergeFrom(state)
    const importedVv = tracker.vector()
    this.tracker.merge(tracker)
    this.nextSeq = Math.max(this.nextSeq, this.ownTop() + 1)
    // Ops under the imported vector are in our state but not in our log: we cannot serve them.
    for (const [o, n] of importedVv) if (n > (this.compacted.get(o) ?? 0)) this.compacted.set(o, n)
    const vvWrite = this.log.compactedWrite(this.compacted)
    await this.queue.exclusive(() => this.kv.batch([vvWrite], { sync: this.durability !== 'none' }))
    // The imported state exists nowhere on our disk yet: a snapshot makes it durable. Into
    // an empty replica the export's own chunks are that snapshot (no re-encoding).
    if (wasEmpty) await this.snaps.adopt(chunks, tracker, state.size, this.shard)
    else await this.snapshot()
  }

  digest (): string {
    return stateDigest(this.state)
  }

  entityDigests (prefix?: string): Map<string, string> {
    return entityDigests(this.state, prefix)
  }

  inspect (target: string): Record<string, { kind: string; state: unknown; value: unknown }> | undefined {
    const view = this.state.view(target)
    if (view === undefined) return undefined
    const out: Record<string, { kind: string; state: unknown; value: unknown }> = {}
    for (const [field, f] of view) {
      const type = this.kinds.get(f.kind)!
      Object.defineProperty(out, field, { value: { kind: f.kind, state: type.inspect(f.state), value: type.value(f.state) }, enumerable: true })
    }
    return out
  }

  /** Number of write batches so far (group commit effectiveness). */
  get writeBatches (): number {
    return this.queue.batches
  }
}
