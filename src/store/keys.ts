/**
 * Key layout in the KvStore. Everything is scoped by shard so that a node can later hold
 * several shards in one database.
 *
 *   log/<shard:u32be><origin utf8>\0<seq:u64be>   → encoded op (op-codec)
 *   meta/<shard:u32be>snap                        → snapshot header
 *   meta/<shard:u32be>compacted                   → compacted version vector
 *   meta/<shard:u32be>count                       → number of logged ops (u64be)
 *   snap/<shard:u32be><gen:u64be><chunk:u32be>    → snapshot chunk
 *
 * Origins never contain NUL (the op codec refuses it), so `origin\0` is prefix-free and
 * one origin's ops are contiguous and ordered by seq.
 */
import { concatBytes, utf8 } from './storage.ts'
import type { ReplicaId, ShardId } from './types.ts'

const LOG = utf8('log/')
const META = utf8('meta/')
const SNAP = utf8('snap/')
const td = new TextDecoder()
/** Bytes per slab of log keys (see `Keys.log`). */
const KEY_SLAB = 16 * 1024

function u32 (n: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, n)
  return b
}

/**
 * Fixed-width big-endian seq, so byte order is numeric order. Written byte by byte: a
 * DataView per call (this is the log count each write batch carries) costs more than it.
 */
export function u64 (n: number): Uint8Array {
  const b = new Uint8Array(8)
  const hi = Math.floor(n / 0x1_0000_0000)
  const lo = n >>> 0
  b[0] = hi >>> 24; b[1] = (hi >>> 16) & 0xff; b[2] = (hi >>> 8) & 0xff; b[3] = hi & 0xff
  b[4] = lo >>> 24; b[5] = (lo >>> 16) & 0xff; b[6] = (lo >>> 8) & 0xff; b[7] = lo & 0xff
  return b
}

export function readU64 (b: Uint8Array, at: number): number {
  const v = new DataView(b.buffer, b.byteOffset + at, 8)
  return v.getUint32(0) * 0x1_0000_0000 + v.getUint32(4)
}

/** Key builder for one shard (prefixes computed once). */
export class Keys {
  readonly logPrefix: Uint8Array
  readonly snapPrefix: Uint8Array
  readonly snapHeader: Uint8Array
  readonly compacted: Uint8Array
  readonly count: Uint8Array
  private readonly originPrefixes = new Map<ReplicaId, Uint8Array>()

  constructor (readonly shard: ShardId) {
    const s = u32(shard)
    this.logPrefix = concatBytes(LOG, s)
    this.snapPrefix = concatBytes(SNAP, s)
    this.snapHeader = concatBytes(META, s, utf8('snap'))
    this.compacted = concatBytes(META, s, utf8('compacted'))
    this.count = concatBytes(META, s, utf8('count'))
  }

  /** `log/<shard><origin>\0` — the prefix of one origin's ops. */
  originPrefix (origin: ReplicaId): Uint8Array {
    let p = this.originPrefixes.get(origin)
    if (p === undefined) {
      p = concatBytes(this.logPrefix, utf8(origin), new Uint8Array([0]))
      if (this.originPrefixes.size < 10_000) this.originPrefixes.set(origin, p)
    }
    return p
  }

  /**
   * Log keys are cut from a shared slab: one key per logged op is ~70 bytes, past V8's
   * on-heap limit for typed arrays, so each would be its own off-heap allocation (tens of
   * thousands a second on a catching-up node). A key pins at most one slab, and keys live
   * only until their batch is written.
   */
  private slab = new Uint8Array(0)
  private slabAt = 0

  log (origin: ReplicaId, seq: number): Uint8Array {
    const p = this.originPrefix(origin)
    const n = p.length + 8
    if (this.slabAt + n > this.slab.length) {
      this.slab = new Uint8Array(Math.max(KEY_SLAB, n))
      this.slabAt = 0
    }
    const at = this.slabAt
    const k = this.slab.subarray(at, at + n)
    this.slabAt = at + n
    k.set(p)
    const hi = Math.floor(seq / 0x1_0000_0000)
    const lo = seq >>> 0
    const o = p.length
    k[o] = hi >>> 24; k[o + 1] = (hi >>> 16) & 0xff; k[o + 2] = (hi >>> 8) & 0xff; k[o + 3] = hi & 0xff
    k[o + 4] = lo >>> 24; k[o + 5] = (lo >>> 16) & 0xff; k[o + 6] = (lo >>> 8) & 0xff; k[o + 7] = lo & 0xff
    return k
  }

  /** Seq of a log key (its last 8 bytes, big-endian): no origin string decoded. */
  seqOf (key: Uint8Array): number {
    const o = key.length - 8
    const hi = ((key[o]! << 24) | (key[o + 1]! << 16) | (key[o + 2]! << 8) | key[o + 3]!) >>> 0
    const lo = ((key[o + 4]! << 24) | (key[o + 5]! << 16) | (key[o + 6]! << 8) | key[o + 7]!) >>> 0
    return hi * 0x1_0000_0000 + lo
  }

  /** Origin and seq of a log key. */
  parseLog (key: Uint8Array): { origin: ReplicaId; seq: number } {
    const start = this.logPrefix.length
    const end = key.length - 9
    return { origin: td.decode(key.subarray(start, end)), seq: readU64(key, key.length - 8) }
  }

  snapChunk (gen: number, chunk: number): Uint8Array {
    return concatBytes(this.snapPrefix, u64(gen), u32(chunk))
  }

  snapGen (gen: number): Uint8Array {
    return concatBytes(this.snapPrefix, u64(gen))
  }
}
