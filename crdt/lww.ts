/**
 * Last-writer-wins register: `{ value, t, r }` ordered by (HLC time, replica id) and, only
 * when two different values share both, by their canonical bytes, so merge stays
 * commutative even if a replica (or a replayed billing event) writes twice at one time.
 * The time comes from the caller: the store's HLC, or a billing event's own timestamp so a
 * late, stale event never overwrites a newer one.
 */
import type { Reader, Writer } from './codec.ts'
import { CrdtError } from './errors.ts'
import type { Hlc } from './hlc.ts'
import type { CrdtType, ReplicaId } from './types.ts'
import { checkValue, compareValues, decodeValue, encodeValue, type Value, valueEquals, valueToJSON } from './value-codec.ts'

/**
 * A register's state (and delta). `t` and `r` are read-only: a register changes only
 * through `lwwType.merge`/`apply`.
 */
export interface Lww {
  value: Value
  readonly t: Hlc
  readonly r: ReplicaId
}

/**
 * The time and replica of a write, shared by every register one op writes (a record's
 * fields carry the op's time): holding the replica here rather than in each register
 * saves 8 bytes per register. Immutable.
 *
 * Packed into two small integers: `hi` = wall / 2^20, `lo` = (wall mod 2^20) · 2^10 +
 * logical. A millisecond wall clock is past V8's small-integer range and would otherwise
 * be boxed in a 16-byte heap number, and each field costs 8 bytes: 48 bytes instead of
 * 64 for `{ wall, logical, r }`. Times this does not fit (logical ≥ 1024, walls past
 * 2^50) use `WideStamp`, a class of its own so that `Stamp`'s fields stay small integers.
 */
class Stamp implements Hlc {
  private readonly hi: number
  private readonly lo: number
  readonly r: ReplicaId
  constructor (wall: number, logical: number, r: ReplicaId) {
    const hi = Math.floor(wall / LO_SPAN)
    this.hi = hi
    this.lo = (wall - hi * LO_SPAN) * LOGICAL_SPAN + logical
    this.r = r
  }

  get wall (): number {
    return this.hi * LO_SPAN + (this.lo >>> LOGICAL_BITS)
  }

  get logical (): number {
    return this.lo & (LOGICAL_SPAN - 1)
  }
}

const LOGICAL_BITS = 10
const LOGICAL_SPAN = 2 ** LOGICAL_BITS
const LO_SPAN = 2 ** 20

/** A stamp whose time does not pack into `Stamp`. */
class WideStamp implements Hlc {
  constructor (readonly wall: number, readonly logical: number, readonly r: ReplicaId) {}
}

type AnyStamp = Stamp | WideStamp

function makeStamp (wall: number, logical: number, r: ReplicaId): AnyStamp {
  return logical < LOGICAL_SPAN && wall < 2 ** 50 ? new Stamp(wall, logical, r) : new WideStamp(wall, logical, r)
}

const ZERO = makeStamp(0, 0, '')
/** The last stamp made: runs of equal stamps (a record's fields, decoded or set) share it. */
let last = ZERO

function stampOf (wall: number, logical: number, r: ReplicaId): AnyStamp {
  const l = last
  if (l.logical === logical && l.r === r && l.wall === wall) return l
  last = makeStamp(wall, logical, r)
  return last
}

/** Register object: a value and a shared stamp (40 bytes instead of 48 for `{ value, t, r }`). */
class Reg implements Lww {
  constructor (public value: Value, public s: AnyStamp) {}
  get t (): Hlc { return this.s }
  get r (): ReplicaId { return this.s.r }
}

/** The stamp of any `Lww` (a plain `{ value, t, r }` object too). */
function stamp (x: Lww): AnyStamp {
  return x instanceof Reg ? x.s : stampOf(x.t.wall, x.t.logical, x.r)
}

function compareStamps (a: AnyStamp, b: AnyStamp): number {
  if (a === b) return 0
  const c = a.wall - b.wall || a.logical - b.logical
  if (c !== 0) return c
  return a.r === b.r ? 0 : a.r < b.r ? -1 : 1
}

/** (t, r, value bytes) order: positive when `a` wins over `b`. */
export function compareLww (a: Lww, b: Lww): number {
  return compareStamps(stamp(a), stamp(b)) || compareValues(a.value, b.value)
}

function checkHlc (t: Hlc): void {
  if (!Number.isSafeInteger(t.wall) || t.wall < 0 || !Number.isSafeInteger(t.logical) || t.logical < 0) {
    throw new CrdtError('invalid_delta', `bad timestamp ${JSON.stringify(t)}`)
  }
}

/**
 * Delta writing `value` at time `t` by `replica`. Validates the value (JSON-like, finite
 * numbers, plain objects) and the timestamp; throws invalid_delta otherwise.
 */
export function lwwSet (value: Value, t: Hlc, replica: ReplicaId): Lww {
  checkValue(value)
  checkHlc(t)
  return new Reg(value, stampOf(t.wall, t.logical, replica))
}

function encode (w: Writer, x: Lww): void {
  const s = stamp(x)
  w.uint(s.wall).uint(s.logical) // the HLC encoding (wall, logical)
  w.string(s.r)
  encodeValue(w, x.value)
}

function decode (r: Reader): Lww {
  const wall = r.uint()
  const logical = r.uint()
  const rep = r.string()
  const value = decodeValue(r)
  return new Reg(value, stampOf(wall, logical, rep))
}

/** The LWW register type (kind `lww.v1`). Empty = null at time zero by replica ''. */
export const lwwType: CrdtType<Lww, Lww, Value> = {
  kind: 'lww.v1',
  empty: () => new Reg(null, ZERO),
  // Values and stamps are immutable, so a shallow copy is a full clone.
  clone: (x) => new Reg(x.value, stamp(x)),
  merge (a, b) {
    if (compareLww(b, a) > 0) {
      if (a instanceof Reg) {
        a.value = b.value
        a.s = stamp(b)
        return a
      }
      return new Reg(b.value, stamp(b))
    }
    return a
  },
  apply (s, d) {
    return lwwType.merge(s, d)
  },
  deltaState: (d) => new Reg(d.value, stamp(d)),
  value: (s) => s.value,
  equals: (a, b) => compareStamps(stamp(a), stamp(b)) === 0 && valueEquals(a.value, b.value),
  encodeState: encode,
  decodeState: decode,
  encodeDelta: encode,
  decodeDelta: decode,
  inspect: (x) => {
    const s = stamp(x)
    return { value: valueToJSON(x.value), t: { wall: s.wall, logical: s.logical }, r: s.r }
  },
}
