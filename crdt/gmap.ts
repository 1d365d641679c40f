/**
 * Grow-only map from id to an immutable Value, for histories (credit grants, adjustments,
 * audit events). An id is written once; if two different values ever arrive for the same
 * id, the one with the smaller canonical encoding wins everywhere, so merge stays
 * commutative and replicas agree.
 */
import type { Reader, Writer } from './codec.ts'
import { CrdtError } from './errors.ts'
import { exact, type Flat, flatFind, flatToObject, insertPair, none } from './flat.ts'
import type { CrdtType } from './types.ts'
import { checkValue, compareValues, decodeValue, encodeValue, type Value, valueEquals, valueToJSON } from './value-codec.ts'

/** `[id0, value0, id1, value1, …]`, ids ascending. Opaque outside crdt/. */
export type GMap = Flat<Value>

/** Delta recording `value` under `id` (validated: a JSON-like value). */
export function gmapPut (id: string, value: Value): GMap {
  if (typeof id !== 'string') throw new CrdtError('invalid_delta', 'map ids are strings')
  checkValue(value)
  return [id, value]
}

/** The value under `id`, or undefined. */
export function gmapGet (s: GMap, id: string): Value | undefined {
  const i = flatFind(s, id)
  return i >= 0 ? (s[i + 1] as Value) : undefined
}

/** Number of entries. */
export function gmapSize (s: GMap): number {
  return s.length >> 1
}

function join (a: GMap, b: GMap): GMap {
  for (let j = 0; j < b.length; j += 2) {
    const id = b[j] as string
    const v = b[j + 1] as Value
    const i = flatFind(a, id)
    if (i < 0) a = insertPair(a, ~i, id, v)
    else if (a[i + 1] !== v && compareValues(v, a[i + 1] as Value) < 0) a[i + 1] = v
  }
  return a
}

function encode (w: Writer, s: GMap): void {
  w.uint(s.length >> 1)
  for (let i = 0; i < s.length; i += 2) {
    w.string(s[i] as string)
    encodeValue(w, s[i + 1] as Value)
  }
}

function decode (r: Reader): GMap {
  const n = r.count()
  const out: GMap = []
  let prev: string | undefined
  for (let i = 0; i < n; i++) {
    const id = r.string()
    if (prev !== undefined && id <= prev) throw new CrdtError('decode_invalid', 'map ids not strictly ascending')
    out.push(id, decodeValue(r))
    prev = id
  }
  return exact(out)
}

/** The grow-only map type (kind `gmap.v1`); value = `[id, value]` pairs in id order. */
export const gmapType: CrdtType<GMap, GMap, Array<[string, Value]>> = {
  kind: 'gmap.v1',
  empty: none,
  clone: exact,
  merge: join,
  apply: join,
  deltaState: exact,
  value (s) {
    const out: Array<[string, Value]> = []
    for (let i = 0; i < s.length; i += 2) out.push([s[i] as string, s[i + 1] as Value])
    return out
  },
  equals (a, b) {
    if (a.length !== b.length) return false
    for (let i = 0; i < a.length; i += 2) {
      if (a[i] !== b[i] || !valueEquals(a[i + 1] as Value, b[i + 1] as Value)) return false
    }
    return true
  },
  encodeState: encode,
  decodeState: decode,
  encodeDelta: encode,
  decodeDelta: decode,
  inspect: (s) => ({ entries: flatToObject(s, valueToJSON) }),
}
