/**
 * Sorted flat maps: `[key0, value0, key1, value1, …]` with keys strictly ascending (JS
 * string order). A `Map` costs ~190 bytes of heap even when empty; a flat array with one
 * entry costs ~70, which is what lets an account's counters fit the ≤ 1 KB budget. Lookups
 * are a binary search over the even slots; inserts splice (entries are few: replica ids,
 * grant keys). Sorted order also makes encodings canonical without sorting.
 */
import type { Reader, Writer } from './codec.ts'
import { CrdtError } from './errors.ts'

/** A sorted flat map from string keys to `V`. Treat as opaque outside crdt/. */
export type Flat<V> = Array<string | V>

/**
 * Slot index (even) of `key`, or `~insertAt` (negative) when absent, like a binary search
 * that reports where the key would go.
 */
export function flatFind (a: readonly unknown[], key: string): number {
  let lo = 0
  let hi = a.length >> 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const k = a[mid << 1] as string
    if (k === key) return mid << 1
    if (k < key) lo = mid + 1
    else hi = mid
  }
  return ~(lo << 1)
}

/** Value under `key`, or undefined. */
export function flatGet<V> (a: Flat<V>, key: string): V | undefined {
  const i = flatFind(a, key)
  return i >= 0 ? (a[i + 1] as V) : undefined
}

/** Set `key` to `value` (insert or overwrite). */
export function flatSet<V> (a: Flat<V>, key: string, value: V): void {
  const i = flatFind(a, key)
  if (i >= 0) a[i + 1] = value
  else a.splice(~i, 0, key, value)
}

/** Number map: raise `key` to `value` if that is larger (the G-counter join of one entry). */
export function flatMax (a: Flat<number>, key: string, value: number): void {
  const i = flatFind(a, key)
  if (i >= 0) {
    if (value > (a[i + 1] as number)) a[i + 1] = value
  } else if (value > 0) {
    a.splice(~i, 0, key, value)
  }
}

/** Sum of the values of a number map. */
export function flatSum (a: Flat<number>): number {
  let s = 0
  for (let i = 1; i < a.length; i += 2) s += a[i] as number
  return s
}

/** Shallow element-wise equality (values compared with ===). */
export function flatEquals (a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Plain object view, for `inspect`. */
export function flatToObject<V, O> (a: Flat<V>, map: (v: V) => O): Record<string, O> {
  const o: Record<string, O> = {}
  for (let i = 0; i < a.length; i += 2) {
    Object.defineProperty(o, a[i] as string, { value: map(a[i + 1] as V), enumerable: true, writable: true, configurable: true })
  }
  return o
}

/** Encode a number map: count, then (key, uint) pairs in key order. */
export function encodeFlatNum (w: Writer, a: Flat<number>): void {
  w.uint(a.length >> 1)
  for (let i = 0; i < a.length; i += 2) w.string(a[i] as string).uint(a[i + 1] as number)
}

/**
 * Decode a number map, insisting on the canonical form (keys strictly ascending, values
 * positive) so that equal states have equal bytes and garbage is refused.
 */
export function decodeFlatNum (r: Reader): Flat<number> {
  const n = r.count()
  const out: Flat<number> = []
  let prev: string | undefined
  for (let i = 0; i < n; i++) {
    const k = r.string()
    if (prev !== undefined && k <= prev) throw new CrdtError('decode_invalid', 'map keys not strictly ascending')
    const v = r.uint()
    if (v === 0) throw new CrdtError('decode_invalid', `zero entry for ${JSON.stringify(k)}`)
    out.push(k, v)
    prev = k
  }
  return out
}
