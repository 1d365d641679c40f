/**
 * Snapshot persistence and compaction for one replica. A snapshot is written as chunks
 * under a new generation plus a header, in one synced batch (atomic: a crash leaves the old
 * snapshot or the new one); older generations are deleted afterwards. Both go through the
 * replica's WriteQueue, after every log write queued before them.
 */
import type { VersionVector } from '../../crdt/version-vector.ts'
import { FormStateError } from '../errors.ts'
import { toFormStateError } from './errors.ts'
import { SeqTracker } from './gaps.ts'
import type { WriteQueue } from './group-commit.ts'
import type { Keys } from './keys.ts'
import type { OpLog } from './log.ts'
import { decodeExport, decodeHeader, encodeChunksYielding, encodeExport, encodeHeader, mergeChunk, type SnapshotHeader } from './snapshot.ts'
import { StateMap } from './state-map.ts'
import type { KvStore, KvWrite } from './storage.ts'
import type { KindRegistry, ShardId, SnapshotInfo } from './types.ts'

const DELETE_CHUNK = 10_000

export class Snapshots {
  last: SnapshotInfo | undefined
  private gen = 0

  constructor (
    private readonly kv: KvStore,
    private readonly keys: Keys,
    private readonly queue: WriteQueue,
    private readonly sync: boolean,
  ) {}

  /** Load the persisted snapshot, if any, into a fresh state. */
  async load (kinds: KindRegistry): Promise<{ header: SnapshotHeader; state: StateMap } | undefined> {
    const raw = await this.kv.get(this.keys.snapHeader)
    if (raw === undefined) return undefined
    try {
      const header = decodeHeader(raw)
      const state = new StateMap(kinds)
      let chunks = 0
      for await (const [, v] of this.kv.entries({ gte: this.keys.snapGen(header.gen), lt: this.keys.snapGen(header.gen + 1) })) {
        mergeChunk(state, v)
        chunks++
      }
      if (chunks !== header.chunks) throw new FormStateError('decode_invalid', `snapshot has ${chunks} chunk(s), header says ${header.chunks}`)
      this.gen = header.gen
      this.last = info(header)
      return { header, state }
    } catch (err) {
      throw new FormStateError('storage_failure', `cannot load snapshot: ${(err as Error).message}`, { cause: toFormStateError(err, 'decode_invalid', 'snapshot') })
    }
  }

  /**
   * The header's tracker `t` is a copy taken first, then the entities are encoded a slice at a time
   * (the node keeps serving meanwhile): the chunks hold at least what the header says,
   * possibly more (see `encodeChunksYielding`).
   */
  private async cut (state: StateMap, t: SeqTracker, shard: ShardId, gen: number): Promise<{ header: SnapshotHeader; chunks: Uint8Array[] }> {
    const takenAt = Date.now()
    const { chunks, entities } = await encodeChunksYielding(state)
    let bytes = 0
    for (const c of chunks) bytes += c.length
    return { header: { gen, shard, takenAt, entities, bytes, chunks: chunks.length, tracker: t }, chunks }
  }

  /** Snapshots are cut one at a time (generations written in the order they were taken). */
  private turn: Promise<unknown> = Promise.resolve()

  /** Resolves once no snapshot is being cut or written (the replica awaits it on stop). */
  idle (): Promise<void> {
    return this.turn.then(() => {})
  }

  /** Encode (fuzzy cut, yielding), then write after everything queued by then. */
  take (state: StateMap, tracker: SeqTracker, shard: ShardId): Promise<SnapshotInfo> {
    // The header is what was applied at the call: the state only grows from there.
    const t = copyTracker(tracker)
    const run = this.turn.then(async () => {
      const gen = ++this.gen
      const { header, chunks } = await this.cut(state, t, shard, gen)
      await this.write(gen, header, chunks)
      return this.record(header)
    })
    this.turn = run.catch(() => {})
    return run
  }

  async exportBytes (state: StateMap, tracker: SeqTracker, shard: ShardId): Promise<Uint8Array> {
    const { header, chunks } = await this.cut(state, copyTracker(tracker), shard, 0)
    return encodeExport(header, chunks)
  }

  /** Decode and validate a whole export into a fresh state (nothing touched on error). */
  decodeImport (bytes: Uint8Array, kinds: KindRegistry, shard: ShardId): { state: StateMap; tracker: SeqTracker; chunks: Uint8Array[] } {
    const { header, chunks } = decodeExport(bytes)
    if (header.shard !== shard) throw new FormStateError('invalid_request', `snapshot is of shard ${header.shard}, not ${shard}`)
    const state = new StateMap(kinds)
    try {
      for (const c of chunks) mergeChunk(state, c)
    } catch (err) {
      throw toFormStateError(err, 'decode_invalid', 'snapshot')
    }
    return { state, tracker: header.tracker, chunks }
  }

  /**
   * Persist an imported export's chunks as they are, as this replica's snapshot (header:
   * the export's tracker). Only valid when the state was empty before the import, so that
   * the chunks hold everything the tracker says; saves re-encoding the whole state just
   * received (a second of CPU at 100k accounts, on the path of a bootstrapping node).
   */
  adopt (chunks: Uint8Array[], tracker: SeqTracker, entities: number, shard: ShardId): Promise<SnapshotInfo> {
    const t = copyTracker(tracker)
    const run = this.turn.then(async () => {
      const gen = ++this.gen
      let bytes = 0
      for (const c of chunks) bytes += c.length
      const header: SnapshotHeader = { gen, shard, takenAt: Date.now(), entities, bytes, chunks: chunks.length, tracker: t }
      await this.write(gen, header, chunks)
      return this.record(header)
    })
    this.turn = run.catch(() => {})
    return run
  }

  private async write (gen: number, header: SnapshotHeader, chunks: Uint8Array[]): Promise<void> {
    const writes: KvWrite[] = chunks.map((c, i) => ({ type: 'put', key: this.keys.snapChunk(gen, i), value: c }))
    writes.push({ type: 'put', key: this.keys.snapHeader, value: encodeHeader(header) })
    await this.queue.exclusive(async () => {
      await this.kv.batch(writes, { sync: this.sync })
      await this.kv.clear({ gte: this.keys.snapPrefix, lt: this.keys.snapGen(gen) })
    })
  }

  private record (header: SnapshotHeader): SnapshotInfo {
    const i = info(header)
    if (this.last === undefined || this.last.takenAt <= i.takenAt) this.last = i
    return i
  }

  /**
   * Delete logged ops at or below `bound` (already clamped to what the snapshot covers).
   * The compacted vector is raised and persisted first: it is a "may be missing" bound.
   */
  async compact (log: OpLog, bound: VersionVector, compacted: VersionVector, counter: (removed: number) => KvWrite): Promise<number> {
    let removed = 0
    await this.queue.exclusive(async () => {
      for (const [o, n] of bound) if (n > (compacted.get(o) ?? 0)) compacted.set(o, n)
      await this.kv.batch([log.compactedWrite(compacted)], { sync: this.sync })
      for (const [o, n] of bound) {
        for await (const dels of log.deletesUpTo(o, n, DELETE_CHUNK)) {
          removed += dels.length
          await this.kv.batch([...dels, counter(dels.length)], { sync: this.sync })
        }
      }
    })
    return removed
  }
}

/** A copy of the tracker: later ops must not leak into a snapshot's header. */
function copyTracker (tracker: SeqTracker): SeqTracker {
  const t = new SeqTracker()
  t.merge(tracker)
  return t
}

function info (h: SnapshotHeader): SnapshotInfo {
  return { vv: h.tracker.vector(), entities: h.entities, bytes: h.bytes, takenAt: h.takenAt }
}
