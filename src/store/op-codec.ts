/**
 * Compact binary encoding of ops, used for the op log and for gossip envelopes.
 *
 *   op     = version:u8(1) body
 *   ops    = version:u8(1) count:uint body*
 *   body   = origin:str seq:uint wall:uint logical:uint shard:uint target:str
 *            nchanges:uint (field:str kind:str delta:bytes)*
 *
 * The delta is length-prefixed and decoded by its kind, whole (trailing bytes rejected).
 * Decoding validates everything before returning, so an unknown kind or a malformed delta
 * is a typed error (`invalid_op` or the `decode_*` codes) and never reaches the replica.
 */
import { Reader, Writer } from '../../crdt/codec.ts'
import type { AnyCrdtType } from '../../crdt/types.ts'
import { FormStateError } from '../errors.ts'
import { toFormStateError } from './errors.ts'
import { copyOut, scratchWriter, slabBytes } from './op-buffers.ts'
import { bad, checkOpShape, MAX_CHANGES, MAX_NAME, MAX_OPS } from './op-shape.ts'
import type { Change, KindRegistry, Op } from './types.ts'

export { checkOpShape, MAX_CHANGES, MAX_NAME, MAX_OPS }

export const OP_VERSION = 1

/** Bytes each decoded (or encoded) op came from, so re-encoding is a lookup. */
const encodedOf = new WeakMap<Op, Uint8Array>()
/** Ops built by the decoder: their deltas are canonical and validated. */
const decoded = new WeakSet<Op>()

/** Returns where the target starts (what follows the header). */
function writeBody (w: Writer, op: Op, kinds: KindRegistry): number {
  checkOpShape(op)
  w.string(op.origin).uint(op.seq).uint(op.hlc.wall).uint(op.hlc.logical).uint(op.shard)
  const targetAt = w.pos
  w.string(op.target)
  w.uint(op.changes.length)
  for (const c of op.changes) {
    const type = kinds.get(c.kind)
    if (type === undefined) bad(`unknown kind ${c.kind}`)
    w.string(c.field).string(c.kind)
    try {
      // Straight into the op's buffer (no scratch writer and copy per change).
      w.prefixed((dw) => type.encodeDelta(dw, c.delta))
    } catch (err) {
      throw toFormStateError(err, 'invalid_op', `field ${c.field}: bad ${c.kind} delta`)
    }
  }
  return targetAt
}

/**
 * A length-prefixed string. The codec's reader shares one string object per distinct short
 * ASCII value (origins, field names, kind tags, targets seen again), so ops decoded by the
 * million do not each carry their own copies into the state they are applied to.
 */
function readString (r: Reader): string {
  return r.string(MAX_NAME * 4)
}

/**
 * Decode the length-prefixed delta at `r.pos` by its kind, whole, as if its bytes were the
 * whole input (a bounded read: no view and reader per delta). Decode codes on failure.
 */
function readDelta (r: Reader, type: AnyCrdtType, field: string, kind: string): unknown {
  const outer = r.bound(r.length())
  try {
    const delta = type.decodeDelta(r)
    r.unbound(outer)
    return delta
  } catch (err) {
    throw toFormStateError(err, 'decode_invalid', `field ${field}: bad ${kind} delta`)
  }
}

/** An op's change list at `r.pos`, each delta decoded by its kind. */
function readChanges (r: Reader, kinds: KindRegistry): Change[] {
  const n = r.count(MAX_CHANGES)
  const changes: Change[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const field = readString(r)
    const kind = readString(r)
    const type = kinds.get(kind)
    if (type === undefined) {
      r.bound(r.length()) // a truncated delta is reported as such, before the unknown kind
      bad(`unknown kind ${kind}`)
    }
    changes[i] = { field, kind, delta: readDelta(r, type, field, kind) }
  }
  return changes
}

function readBody (r: Reader, kinds: KindRegistry, remember = true): Op {
  const origin = readString(r)
  const seq = r.uint()
  const wall = r.uint()
  const logical = r.uint()
  const shard = r.uint()
  const target = readString(r)
  const changes = readChanges(r, kinds)
  const op: Op = { origin, seq, hlc: { wall, logical }, shard, target, changes }
  checkOpShape(op)
  if (remember) decoded.add(op)
  return op
}

function decoding<T> (fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    throw toFormStateError(err, 'decode_invalid', 'decode op')
  }
}

/** Encode one op. Throws `invalid_op` for an unknown kind or a delta its kind cannot encode. */
export function encodeOp (op: Op, kinds: KindRegistry): Uint8Array {
  const cached = encodedOf.get(op)
  if (cached !== undefined) return cached
  const out = encodeOpOnce(op, kinds)
  encodedOf.set(op, out)
  return out
}

/**
 * Encode without remembering the bytes for `op`: for an op object about to be dropped,
 * where a cache entry would only churn the weak table.
 */
export function encodeOpOnce (op: Op, kinds: KindRegistry): Uint8Array {
  const w = scratchWriter()
  w.u8(OP_VERSION)
  writeBody(w, op, kinds)
  return copyOut(w)
}

/** No lone surrogate (which UTF-8 encoding replaces by U+FFFD). ES2024, in Node >= 20. */
function wellFormed (s: string): boolean {
  return (s as unknown as { isWellFormed (): boolean }).isWellFormed()
}

/**
 * Encode an op this replica is committing, and build the op it applies: equal to
 * `decodeOp(bytes)` (so the local state is exactly what every peer computes from the
 * bytes), for less. The header (origin, seq, clock, shard) is the draft's own: numbers
 * the encoder checked, and an origin that a round trip leaves unchanged (well-formed
 * UTF-16, whose UTF-8 decodes back to the same string; otherwise the full `decodeOp`).
 * The rest is decoded from the bytes as `decodeOp` would: deltas keep their canonical
 * form and every check their decoder makes, and names come from the reader's shared
 * strings (already hashed, and equal by identity to the names the state holds).
 *
 * `remember`: keep `bytes` as the op's encoding, so `encodeOp`/`encodeOps` of it (gossip)
 * is a lookup; a weak-table entry costs ~0.2 µs, not worth it when no one encodes again.
 */
export function encodeOwnOp (draft: Op, kinds: KindRegistry, remember: boolean): { op: Op, bytes: Uint8Array } {
  const w = scratchWriter()
  w.u8(OP_VERSION)
  const targetAt = writeBody(w, draft, kinds)
  const bytes = slabBytes(w)
  if (!wellFormed(draft.origin)) return { op: decodeOp(bytes, kinds), bytes }
  const r = new Reader(bytes)
  r.pos = targetAt
  const target = readString(r)
  const changes = readChanges(r, kinds)
  r.end()
  const op: Op = { origin: draft.origin, seq: draft.seq, hlc: { wall: draft.hlc.wall, logical: draft.hlc.logical }, shard: draft.shard, target, changes }
  if (remember) encodedOf.set(op, bytes)
  return { op, bytes }
}


/** Decode one op; every delta is decoded by its kind. Throws `invalid_op` / `decode_*`. */
export function decodeOp (bytes: Uint8Array, kinds: KindRegistry): Op {
  return decoding(() => {
    const r = new Reader(bytes)
    const v = r.u8()
    if (v !== OP_VERSION) throw new FormStateError('decode_invalid', `unknown op version ${v}`)
    const op = readBody(r, kinds)
    r.end()
    encodedOf.set(op, bytes)
    return op
  })
}

/**
 * Decode a logged op for replay: validated like `decodeOp`, but not remembered as decoded
 * (no WeakMap/WeakSet entries for a million short-lived ops).
 */
export function decodeLoggedOp (bytes: Uint8Array, kinds: KindRegistry): Op {
  return decoding(() => {
    const r = new Reader(bytes)
    const v = r.u8()
    if (v !== OP_VERSION) throw new FormStateError('decode_invalid', `unknown op version ${v}`)
    const op = readBody(r, kinds, false)
    r.end()
    return op
  })
}

/** Encode a list of ops into one buffer (a gossip envelope's payload). */
export function encodeOps (ops: readonly Op[], kinds: KindRegistry): Uint8Array {
  if (ops.length > MAX_OPS) bad(`at most ${MAX_OPS} ops per batch`)
  const w = new Writer(64 * ops.length + 16)
  w.u8(OP_VERSION).uint(ops.length)
  for (const op of ops) {
    const cached = encodedOf.get(op)
    if (cached !== undefined) w.raw(cached.subarray(1))
    else writeBody(w, op, kinds)
  }
  return w.finish()
}

/**
 * `encodeOps` of ops given as their own encodings (`encodeOp` bytes, e.g. read from the
 * log): the bodies are copied, nothing is decoded. The receiver's `decodeOps` validates.
 */
export function joinEncodedOps (encoded: readonly Uint8Array[]): Uint8Array {
  if (encoded.length > MAX_OPS) bad(`at most ${MAX_OPS} ops per batch`)
  let size = 16
  for (const e of encoded) size += e.length
  const w = new Writer(size)
  w.u8(OP_VERSION).uint(encoded.length)
  for (const e of encoded) {
    if (e[0] !== OP_VERSION) throw new FormStateError('decode_invalid', `unknown op version ${e[0]}`)
    w.raw(e.subarray(1))
  }
  return w.finish()
}

/** Decode a list of ops; all or nothing. */
export function decodeOps (bytes: Uint8Array, kinds: KindRegistry): Op[] {
  return decoding(() => {
    const r = new Reader(bytes)
    const v = r.u8()
    if (v !== OP_VERSION) throw new FormStateError('decode_invalid', `unknown op version ${v}`)
    const n = r.count(MAX_OPS)
    const ops: Op[] = new Array(n)
    for (let i = 0; i < n; i++) {
      const start = r.pos
      const op = readBody(r, kinds)
      // Remember the op's own encoding (version byte + body) for the log, copied so the
      // envelope buffer is not kept alive by one op.
      const own = new Uint8Array(1 + r.pos - start)
      own[0] = OP_VERSION
      own.set(bytes.subarray(start, r.pos), 1)
      encodedOf.set(op, own)
      ops[i] = op
    }
    r.end()
    return ops
  })
}

/** Decoded ops, each with its own encoding (`encodeOp` bytes, as the log keeps it). */
export type EncodedBatch = Array<{ op: Op, bytes: Uint8Array }>

/**
 * Batches built by `decodeOpsWithBytes` (one weak entry per batch, not per op): each op in
 * them is validated and matches its bytes, so a replica may apply and log them as given.
 */
const decodedBatches = new WeakSet<EncodedBatch>()

/** True for a batch returned by `decodeOpsWithBytes` (validated, ops match their bytes). */
export function isDecodedBatch (batch: EncodedBatch): boolean {
  return decodedBatches.has(batch)
}

/**
 * `decodeOps` for a batch about to be applied and logged: each op comes with its own
 * encoding and nothing is remembered in the per-op weak tables (whose entries for tens of
 * thousands of short-lived ops per second were a large part of a catching-up node's GC).
 */
export function decodeOpsWithBytes (bytes: Uint8Array, kinds: KindRegistry): EncodedBatch {
  return decoding(() => {
    const r = new Reader(bytes)
    const v = r.u8()
    if (v !== OP_VERSION) throw new FormStateError('decode_invalid', `unknown op version ${v}`)
    const n = r.count(MAX_OPS)
    const out: EncodedBatch = new Array(n)
    // Every op's own encoding (version byte + body) is copied into one buffer for the batch
    // rather than one allocation per op (each off-heap past 64 bytes); the copies live
    // until the batch is logged, and do not keep the received frame alive.
    const slab = new Uint8Array(bytes.length - r.pos + n)
    let at = 0
    for (let i = 0; i < n; i++) {
      const start = r.pos
      const op = readBody(r, kinds, false)
      const len = 1 + r.pos - start
      const own = slab.subarray(at, at + len)
      own[0] = OP_VERSION
      own.set(bytes.subarray(start, r.pos), 1)
      at += len
      out[i] = { op, bytes: own }
    }
    r.end()
    decodedBatches.add(out)
    return out
  })
}

/** The bytes an op was decoded from or last encoded to, if known (no encoding done). */
export function cachedEncoding (op: Op): Uint8Array | undefined {
  return encodedOf.get(op)
}

/** True for ops produced by `decodeOp`/`decodeOps` (validated, canonical deltas). */
export function isDecoded (op: Op): boolean {
  return decoded.has(op)
}
