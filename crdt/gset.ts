/**
 * Grow-only set of strings, kept as a sorted array (compact, canonical). A delta is a
 * small set (usually one element); applying is a union.
 */
import type { Reader, Writer } from './codec.ts'
import { CrdtError } from './errors.ts'
import { exact, insertOne, none } from './flat.ts'
import type { CrdtType } from './types.ts'

/** Sorted, duplicate-free. Opaque outside crdt/. */
export type GSet = string[]

function indexOf (s: readonly string[], e: string): number {
  let lo = 0
  let hi = s.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const x = s[mid]!
    if (x === e) return mid
    if (x < e) lo = mid + 1
    else hi = mid
  }
  return ~lo
}

/** Delta adding `e`. */
export function gsetAdd (e: string): GSet {
  if (typeof e !== 'string') throw new CrdtError('invalid_delta', 'set elements are strings')
  return [e]
}

export function gsetHas (s: GSet, e: string): boolean {
  return indexOf(s, e) >= 0
}

function union (a: GSet, b: GSet): GSet {
  for (const e of b) {
    const i = indexOf(a, e)
    if (i < 0) a = insertOne(a, ~i, e)
  }
  return a
}

function encode (w: Writer, s: GSet): void {
  w.uint(s.length)
  for (const e of s) w.string(e)
}

function decode (r: Reader): GSet {
  const n = r.count()
  const out: GSet = []
  for (let i = 0; i < n; i++) {
    const e = r.string()
    if (i > 0 && e <= out[i - 1]!) throw new CrdtError('decode_invalid', 'set elements not strictly ascending')
    out.push(e)
  }
  return exact(out)
}

/** The grow-only set type (kind `gset.v1`); value = the sorted elements (do not mutate). */
export const gsetType: CrdtType<GSet, GSet, readonly string[]> = {
  kind: 'gset.v1',
  empty: none,
  clone: exact,
  merge: union,
  apply: union,
  deltaState: exact,
  value: (s) => s,
  equals: (a, b) => a.length === b.length && a.every((e, i) => e === b[i]),
  encodeState: encode,
  decodeState: decode,
  encodeDelta: encode,
  decodeDelta: decode,
  inspect: (s) => ({ elements: [...s] }),
}
