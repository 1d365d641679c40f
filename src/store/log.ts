/**
 * Reading the op log: per-origin ranges, origin discovery, replay after a snapshot, and
 * the deletes of compaction. Writes go through the replica's WriteQueue, never here.
 */
import { decodeVv, encodeVv, type VersionVector } from '../../crdt/version-vector.ts'
import { decodeWith, encodeWith } from '../../crdt/codec.ts'
import type { SeqTracker } from './gaps.ts'
import type { Keys } from './keys.ts'
import { decodeLoggedOp, decodeOp } from './op-codec.ts'
import { prefixEnd, type KvStore, type KvWrite } from './storage.ts'
import type { EncodedOp, KindRegistry, Op, ReplicaId } from './types.ts'

export class OpLog {
  constructor (private readonly kv: KvStore, private readonly keys: Keys, private readonly kinds: KindRegistry) {}

  private originEnd (origin: ReplicaId): Uint8Array {
    return prefixEnd(this.keys.originPrefix(origin))!
  }

  /** Every origin with at least one logged op, in key order. */
  async origins (): Promise<ReplicaId[]> {
    const out: ReplicaId[] = []
    const end = prefixEnd(this.keys.logPrefix)!
    let from = this.keys.logPrefix
    for (;;) {
      let key: Uint8Array | undefined
      for await (const [k] of this.kv.entries({ gte: from, lt: end, limit: 1 })) key = k
      if (key === undefined) return out
      const { origin } = this.keys.parseLog(key)
      out.push(origin)
      from = this.originEnd(origin)
    }
  }

  /** Raw log entries of `origin` with seq > `after`, in seq order, in chunks. */
  async * rawAfter (origin: ReplicaId, after: number, limit?: number): AsyncIterable<Array<[Uint8Array, Uint8Array]>> {
    const range = { gt: this.keys.log(origin, after), lt: this.originEnd(origin), ...(limit !== undefined ? { limit } : {}) }
    yield * this.kv.chunks(range, 2000)
  }

  /** Decoded ops of `origin` with seq > `after`, at most `limit`. */
  async read (origin: ReplicaId, after: number, limit: number): Promise<Op[]> {
    const out: Op[] = []
    if (limit <= 0) return out
    for await (const chunk of this.rawAfter(origin, after, limit)) {
      for (const [, v] of chunk) out.push(decodeOp(v, this.kinds))
    }
    return out
  }

  /** Logged ops of `origin` with seq > `after`, at most `limit`, as stored (not decoded). */
  async readEncoded (origin: ReplicaId, after: number, limit: number): Promise<EncodedOp[]> {
    const out: EncodedOp[] = []
    if (limit <= 0) return out
    for await (const chunk of this.rawAfter(origin, after, limit)) {
      // The origin is the range's: only the seq is read from each key.
      for (const [k, v] of chunk) out.push({ origin, seq: this.keys.seqOf(k), bytes: v })
    }
    return out
  }

  /**
   * Feed every logged op not yet covered by `tracker` to `apply`, origin by origin.
   * Starts each origin right after its contiguous seq, so ops under a snapshot cost nothing.
   */
  async replay (tracker: SeqTracker, apply: (op: Op) => void): Promise<number> {
    let n = 0
    for (const origin of await this.origins()) {
      const range = { gt: this.keys.log(origin, tracker.top(origin)), lt: this.originEnd(origin) }
      for await (const chunk of this.kv.valueChunks(range, 2000)) {
        for (const v of chunk) {
          const op = decodeLoggedOp(v, this.kinds)
          if (tracker.has(op.origin, op.seq)) continue
          apply(op)
          n++
        }
      }
    }
    return n
  }

  /** Keys of `origin`'s ops with seq ≤ `upTo`, as delete writes, in chunks. */
  async * deletesUpTo (origin: ReplicaId, upTo: number, chunk: number): AsyncIterable<KvWrite[]> {
    const range = { gte: this.keys.originPrefix(origin), lte: this.keys.log(origin, upTo) }
    for await (const c of this.kv.chunks(range, chunk)) yield c.map(([k]) => ({ type: 'del' as const, key: k }))
  }

  async loadCompacted (): Promise<VersionVector> {
    const b = await this.kv.get(this.keys.compacted)
    return b === undefined ? new Map() : decodeWith(b, decodeVv)
  }

  compactedWrite (vv: VersionVector): KvWrite {
    return { type: 'put', key: this.keys.compacted, value: encodeWith((w) => encodeVv(w, vv)) }
  }
}
