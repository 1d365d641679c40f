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

function u32 (n: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, n)
  return b
}

/** Fixed-width big-endian seq, so byte order is numeric order. */
export function u64 (n: number): Uint8Array {
  const b = new Uint8Array(8)
  const v = new DataView(b.buffer)
  v.setUint32(0, Math.floor(n / 0x1_0000_0000))
  v.setUint32(4, n >>> 0)
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

  log (origin: ReplicaId, seq: number): Uint8Array {
    const p = this.originPrefix(origin)
    const k = new Uint8Array(p.length + 8)
    k.set(p)
    const v = new DataView(k.buffer)
    v.setUint32(p.length, Math.floor(seq / 0x1_0000_0000))
    v.setUint32(p.length + 4, seq >>> 0)
    return k
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
