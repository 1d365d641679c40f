/**
 * Sorted flat maps: `[key0, value0, key1, value1, …]` with keys strictly ascending (JS
 * string order). A `Map` costs ~190 bytes of heap even when empty; a flat array with one
 * entry costs ~70, which is what lets an account's counters fit the ≤ 1 KB budget. Lookups
 * are a binary search over the even slots. Inserting builds a new exact-size array and
 * returns it (growing an array in place makes V8 over-allocate ~17 slots, tripling its
 * size), so every mutator returns the array to keep using. Entries are few (replica ids,
 * grant keys). Sorted order also makes encodings canonical without sorting.
 */
import type { Reader, Writer } from './codec.ts'
import { CrdtError } from './errors.ts'

/** A sorted flat map from string keys to `V`. Treat as opaque outside crdt/. */
export type Flat<V> = Array<string | V>

const EMPTY: readonly never[] = Object.freeze([])

/**
 * The shared, frozen empty array. Empty states use it instead of a fresh `[]` (16 bytes
 * each, and most states have several empty parts); it is never written to, because every
 * mutator inserts by building a new array. Frozen, so a stray in-place write throws.
 */
export function none<T> (): T[] {
  return EMPTY as unknown as T[]
}

/** An exact-size copy (or the shared empty array): for storing arrays built with push. */
export function exact<T> (a: readonly T[]): T[] {
  return a.length === 0 ? none() : a.slice()
}

/**
 * Interned one-entry arrays `[replica, counter]` for small counters, keyed by replica.
 * A one-dot `Dots`, a one-replica context vector and a one-replica G-counter at a small
 * total are all this shape, and most states hold exactly that (an API key minted once by
 * one node, a quiet account's daily request count): sharing one frozen array saves 64
 * bytes per array held. Bounded: at most MAX_REPLICAS rows of MAX_COUNTER slots; keys
 * are meant to be replica ids (few), not arbitrary strings.
 */
const pairs = new Map<string, Array<readonly [string, number] | undefined>>()
const MAX_REPLICAS = 256
/** Largest counter interned. */
export const MAX_COUNTER = 64

/**
 * The array `[r, c]`, shared and frozen when `c` is small (a write to it throws), else a
 * fresh one. Only for arrays that are never written in place (dots, context vectors).
 */
export function pair (r: string, c: number): Array<string | number> {
  if (c < 1 || c > MAX_COUNTER) return [r, c]
  let row = pairs.get(r)
  if (row === undefined) {
    if (pairs.size >= MAX_REPLICAS) return [r, c]
    row = []
    pairs.set(r, row)
  }
  let p = row[c]
  if (p === undefined) {
    p = Object.freeze([r, c] as [string, number])
    row[c] = p
  }
  return p as unknown as Array<string | number>
}

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

/** A copy of `a` with `x`, `y` inserted at index `at`, allocated at its exact size. */
export function insertPair<T> (a: readonly T[], at: number, x: T, y: T): T[] {
  const n = a.length
  const out = new Array<T>(n + 2)
  for (let j = 0; j < at; j++) out[j] = a[j]!
  out[at] = x
  out[at + 1] = y
  for (let j = at; j < n; j++) out[j + 2] = a[j]!
  return out
}

/** A copy of `a` with `x` inserted at index `at`, allocated at its exact size. */
export function insertOne<T> (a: readonly T[], at: number, x: T): T[] {
  const n = a.length
  const out = new Array<T>(n + 1)
  for (let j = 0; j < at; j++) out[j] = a[j]!
  out[at] = x
  for (let j = at; j < n; j++) out[j + 1] = a[j]!
  return out
}

/** A copy of `a` with slot `i + 1` set to `value`. */
function withValue<V> (a: Flat<V>, i: number, value: V): Flat<V> {
  const out = a.slice()
  out[i + 1] = value
  return out
}

/** Set `key` to `value`: overwrites in place, or returns a new array with the entry inserted. */
export function flatSet<V> (a: Flat<V>, key: string, value: V): Flat<V> {
  const i = flatFind(a, key)
  if (i >= 0) {
    if (Object.isFrozen(a)) return withValue(a, i, value)
    a[i + 1] = value
    return a
  }
  return insertPair(a, ~i, key, value)
}

/**
 * Number map: raise `key` to `value` if that is larger (the G-counter join of one entry).
 * Returns the array to keep using (a new one when the key was inserted).
 */
export function flatMax (a: Flat<number>, key: string, value: number): Flat<number> {
  const i = flatFind(a, key)
  if (i >= 0) {
    if (value > (a[i + 1] as number)) {
      if (Object.isFrozen(a)) return withValue(a, i, value) // a shared pair: copy on write
      a[i + 1] = value
    }
    return a
  }
  return value > 0 ? insertPair(a, ~i, key, value) : a
}

/** Remove the entry at slot `i` (even), returning a new exact-size array. */
export function removePair<T> (a: readonly T[], i: number): T[] {
  if (a.length === 2) return none()
  const out = new Array<T>(a.length - 2)
  for (let j = 0; j < i; j++) out[j] = a[j]!
  for (let j = i + 2; j < a.length; j++) out[j - 2] = a[j]!
  return out
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
  return exact(out)
}
