/**
 * Where encoded ops are written and where their bytes end up: one reused scratch writer,
 * and a shared slab that small committed ops are cut from.
 */
import { Writer } from '../../crdt/codec.ts'

// One reused writer (the bytes are copied out): a metered call's op is ~360 bytes, which a
// fresh 64-byte writer reached through several reallocations, each string sized for its
// worst case. A writer grown by an unusually large op is dropped rather than kept.
const SCRATCH_SIZE = 4096
const SCRATCH_KEEP = 64 * 1024
let scratch = new Writer(SCRATCH_SIZE)

/** The scratch writer, emptied. Take its bytes with `copyOut` or `slabBytes` before the next call. */
export function scratchWriter (): Writer {
  scratch.pos = 0
  return scratch
}

/** The scratch writer's bytes as their own buffer. */
export function copyOut (w: Writer): Uint8Array {
  const out = w.finish()
  if (out.length > SCRATCH_KEEP && w === scratch) scratch = new Writer(SCRATCH_SIZE)
  return out
}

/**
 * Committed ops' bytes are cut from a shared slab, like log keys (keys.ts): each one
 * copied out on its own (~360 bytes for a metered call) is an off-heap backing store, whose
 * allocation and later finalisation cost more than the copy. The bytes of consecutive
 * commits share a slab: they are logged together and, in memory, dropped together
 * (compaction removes a prefix of the log), so a slab pins little besides live ops.
 */
const SLAB = 16 * 1024
let slab = new Uint8Array(0)
let slabAt = 0

/** The writer's bytes as an owned view, cut from the slab when small (else `copyOut`). */
export function slabBytes (w: Writer): Uint8Array {
  const n = w.pos
  if (n > SLAB >> 3) return copyOut(w)
  if (slabAt + n > slab.length) {
    slab = new Uint8Array(SLAB)
    slabAt = 0
  }
  w.copyTo(slab, slabAt)
  const out = new Uint8Array(slab.buffer, slabAt, n)
  slabAt += n
  return out
}
