/**
 * Snapshot encoding: a header (shard, time, counts, which ops are included) and the
 * entities in sorted order, cut into chunks of about `CHUNK_BYTES` so that neither a
 * LevelDB value nor an export is one giant buffer built twice.
 *
 *   header = version:u8 gen:uint shard:uint takenAt:uint entities:uint bytes:uint
 *            chunks:uint tracker
 *   chunk  = count:uint (target:str entity)*
 *   export = "FSS1" header chunk:bytes*
 */
import { Reader, Writer } from '../../crdt/codec.ts'
import { FormStateError } from '../errors.ts'
import { toFormStateError } from './errors.ts'
import { SeqTracker } from './gaps.ts'
import type { StateMap } from './state-map.ts'
import type { ShardId } from './types.ts'

export const SNAPSHOT_VERSION = 1
export const CHUNK_BYTES = 1 << 20
const MAGIC = [0x46, 0x53, 0x53, 0x31] // "FSS1"

export interface SnapshotHeader {
  gen: number
  shard: ShardId
  takenAt: number
  entities: number
  bytes: number
  chunks: number
  tracker: SeqTracker
}

/** Entities encoded between two yields to the event loop (see `encodeChunksYielding`). */
export const ENTITIES_PER_SLICE = 256

/**
 * Encodes the whole state into chunks, yielding to the event loop every
 * `ENTITIES_PER_SLICE` entities: a snapshot of 100k accounts is 1–2 s of CPU, which as one
 * synchronous block stalled every request and every gossip batch of the node (the
 * write-to-visible tail).
 *
 * The cut is fuzzy: the caller takes the header's tracker before calling, the set of
 * entities is fixed at the call, and each entity is encoded as it is when reached, so the
 * chunks may already hold ops applied meanwhile (past the tracker), never less than the
 * tracker says. Applying an op to a state that holds it changes nothing (idempotence, a law
 * every kind is tested for), so replaying those ops after a restart, or pulling them after
 * an import, is harmless.
 */
export async function encodeChunksYielding (state: StateMap, chunkBytes = CHUNK_BYTES): Promise<{ chunks: Uint8Array[]; entities: number }> {
  const out: Uint8Array[] = []
  let w = new Writer(Math.min(chunkBytes, 1 << 16))
  let body = new Writer(Math.min(chunkBytes, 1 << 16))
  let count = 0
  const flush = (): void => {
    w.uint(count).raw(body.finish())
    out.push(w.finish())
    w = new Writer(64)
    body = new Writer(Math.min(chunkBytes, 1 << 16))
    count = 0
  }
  const targets = state.targets()
  for (let i = 0; i < targets.length; i++) {
    if (i > 0 && i % ENTITIES_PER_SLICE === 0) await new Promise((resolve) => setImmediate(resolve))
    const t = targets[i]!
    body.string(t)
    state.encodeEntity(body, t)
    count++
    if (body.pos >= chunkBytes) flush()
  }
  if (count > 0) flush()
  return { chunks: out, entities: targets.length }
}

/** Decode one chunk, merging its entities into `state`. Returns the entity count. */
export function mergeChunk (state: StateMap, chunk: Uint8Array): number {
  const r = new Reader(chunk)
  const n = r.count(Number.MAX_SAFE_INTEGER)
  let prev: string | undefined
  for (let i = 0; i < n; i++) {
    const t = r.string()
    if (prev !== undefined && t <= prev) throw new FormStateError('decode_invalid', 'snapshot entities not sorted')
    prev = t
    state.mergeEntity(r, t)
  }
  r.end()
  return n
}

export function encodeHeader (h: SnapshotHeader): Uint8Array {
  const w = new Writer(128)
  w.u8(SNAPSHOT_VERSION).uint(h.gen).uint(h.shard).uint(h.takenAt).uint(h.entities).uint(h.bytes).uint(h.chunks)
  h.tracker.encode(w)
  return w.finish()
}

function readHeader (r: Reader): SnapshotHeader {
  const v = r.u8()
  if (v !== SNAPSHOT_VERSION) throw new FormStateError('decode_invalid', `unknown snapshot version ${v}`)
  const gen = r.uint()
  const shard = r.uint()
  const takenAt = r.uint()
  const entities = r.uint()
  const bytes = r.uint()
  const chunks = r.uint()
  return { gen, shard, takenAt, entities, bytes, chunks, tracker: SeqTracker.decode(r) }
}

export function decodeHeader (bytes: Uint8Array): SnapshotHeader {
  try {
    const r = new Reader(bytes)
    const h = readHeader(r)
    r.end()
    return h
  } catch (err) {
    throw toFormStateError(err, 'decode_invalid', 'snapshot header')
  }
}

/** One self-contained buffer: magic, header, chunks. */
export function encodeExport (h: SnapshotHeader, chunks: Uint8Array[]): Uint8Array {
  const head = encodeHeader(h)
  let size = 4 + head.length + 10
  for (const c of chunks) size += c.length + 10
  const w = new Writer(size)
  for (const b of MAGIC) w.u8(b)
  w.bytes(head)
  for (const c of chunks) w.bytes(c)
  return w.finish()
}

/** Split an export back into header and chunks (chunks decoded by the caller). */
export function decodeExport (bytes: Uint8Array): { header: SnapshotHeader; chunks: Uint8Array[] } {
  try {
    const r = new Reader(bytes)
    for (const b of MAGIC) if (r.u8() !== b) throw new FormStateError('decode_invalid', 'not a form-state snapshot')
    const header = decodeHeader(r.bytes())
    const chunks: Uint8Array[] = []
    for (let i = 0; i < header.chunks; i++) chunks.push(r.raw(r.length(Number.MAX_SAFE_INTEGER)))
    r.end()
    return { header, chunks }
  } catch (err) {
    throw toFormStateError(err, 'decode_invalid', 'snapshot')
  }
}
