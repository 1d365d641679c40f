/**
 * Last-writer-wins register: `{ value, t, r }` ordered by (HLC time, replica id) and, only
 * when two different values share both, by their canonical bytes, so merge stays
 * commutative even if a replica (or a replayed billing event) writes twice at one time.
 * The time comes from the caller: the store's HLC, or a billing event's own timestamp so a
 * late, stale event never overwrites a newer one.
 */
import type { Reader, Writer } from './codec.ts'
import { CrdtError } from './errors.ts'
import { compareHlc, decodeHlc, encodeHlc, type Hlc, HLC_ZERO } from './hlc.ts'
import type { CrdtType, ReplicaId } from './types.ts'
import { checkValue, compareValues, decodeValue, encodeValue, type Value, valueEquals, valueToJSON } from './value-codec.ts'

export interface Lww {
  value: Value
  t: Hlc
  r: ReplicaId
}

/** (t, r, value bytes) order: positive when `a` wins over `b`. */
export function compareLww (a: Lww, b: Lww): number {
  const c = compareHlc(a.t, b.t)
  if (c !== 0) return c
  if (a.r !== b.r) return a.r < b.r ? -1 : 1
  return compareValues(a.value, b.value)
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
  return { value, t, r: replica }
}

function encode (w: Writer, s: Lww): void {
  encodeHlc(w, s.t)
  w.string(s.r)
  encodeValue(w, s.value)
}

function decode (r: Reader): Lww {
  const t = decodeHlc(r)
  const rep = r.string()
  const value = decodeValue(r)
  return { value, t, r: rep }
}

/** The LWW register type (kind `lww.v1`). Empty = null at time zero by replica ''. */
export const lwwType: CrdtType<Lww, Lww, Value> = {
  kind: 'lww.v1',
  empty: () => ({ value: null, t: HLC_ZERO, r: '' }),
  // Values and timestamps are immutable, so a shallow copy is a full clone.
  clone: (s) => ({ value: s.value, t: s.t, r: s.r }),
  merge (a, b) {
    if (compareLww(b, a) > 0) {
      a.value = b.value
      a.t = b.t
      a.r = b.r
    }
    return a
  },
  apply (s, d) {
    return lwwType.merge(s, d)
  },
  deltaState: (d) => ({ value: d.value, t: d.t, r: d.r }),
  value: (s) => s.value,
  equals: (a, b) => compareHlc(a.t, b.t) === 0 && a.r === b.r && valueEquals(a.value, b.value),
  encodeState: encode,
  decodeState: decode,
  encodeDelta: encode,
  decodeDelta: decode,
  inspect: (s) => ({ value: valueToJSON(s.value), t: { wall: s.t.wall, logical: s.t.logical }, r: s.r }),
}
