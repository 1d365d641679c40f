/**
 * The in-memory layout of a windowed G-counter (wcounter.ts) and the lookups over it,
 * shared by the type and its codec (wcounter-codec.ts).
 */
import { CrdtError } from './errors.ts'

export { ownerOf, sharedHorizon } from './horizons.ts'

/** Most resolution slots a state may hold (a delta naming a higher slot is refused). */
export const MAX_WINDOW_SLOTS = 8

/**
 * One flat array: per slot, in slot order, the entry count `n`, then the per-replica
 * horizons as pairs `key, h` sorted by key (each replica's own horizon: the largest it
 * wrote; a string where an entry would start with a number, which is how the pairs end),
 * then `n` entries `bucket, key, total` sorted by (bucket, key), totals > 0.
 *
 * The slot's shared horizon `g` is {@link sharedHorizon} of its `h`s (the second
 * highest), and pairs with `h < g` are not stored (they can no longer matter: see
 * wcounter.ts). An entry of replica `k` is held only when `bucket ≥ max(g, h_k)`. Slots
 * past the end are empty and trailing empty slots (a lone `0`) are never stored, so equal
 * states are equal arrays. One array per field instead of a map of counter arrays per
 * slot, and no stored counts or `g` beyond `n`: a quiet account's counter stays small.
 * Opaque outside crdt/.
 */
export type WindowedCounter = Array<number | string>

/** One slot's part of a delta: `key`'s new total in `bucket` (0 = none) and a horizon bump (0 = none). */
export interface WindowedPart {
  readonly slot: number
  readonly bucket: number
  readonly value: number
  readonly horizon: number
}

/** A delta: one replica's new totals and own horizons, at most one part per slot, slots ascending. */
export interface WindowedDelta {
  readonly key: string
  readonly parts: readonly WindowedPart[]
}

/** What a writer adds in one slot: `n` to `bucket`, with its clock's horizon for the slot. */
export interface WindowedIncrement {
  slot: number
  bucket: number
  n: number
  /** Oldest bucket the writer retains (its own older buckets are dropped); 0 = no pruning. */
  horizon: number
}

/** Throws `code` unless `n` is a non-negative safe integer. */
export function checkIndex (n: number, what: string, code: 'invalid_delta' | 'decode_invalid'): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new CrdtError(code, `${what} must be a non-negative safe integer, got ${n}`)
}

/** Offset of the first entry of the slot whose header is at `p` (just past its horizon pairs). */
export function entriesAt (s: WindowedCounter, p: number): number {
  let q = p + 1
  while (typeof s[q] === 'string') q += 2
  return q
}

/** Offset just past the slot whose header is at `p`. */
export function slotEnd (s: WindowedCounter, p: number): number {
  return entriesAt(s, p) + 3 * (s[p] as number)
}

/** Offset of slot `i`'s header, or -1 when the slot lies past the end (empty). */
export function slotAt (s: WindowedCounter, i: number): number {
  let p = 0
  for (let j = 0; j < i; j++) {
    if (p >= s.length) return -1
    p = slotEnd(s, p)
  }
  return p < s.length ? p : -1
}

/** Number of slots stored. */
export function slotCount (s: WindowedCounter): number {
  let n = 0
  for (let p = 0; p < s.length; p = slotEnd(s, p)) n++
  return n
}

/** `key`'s own horizon stored in the slot at header `p` (0 when none is stored). */
export function ownHorizon (s: WindowedCounter, p: number, key: string): number {
  for (let q = p + 1; typeof s[q] === 'string'; q += 2) if (s[q] === key) return s[q + 1] as number
  return 0
}

/** The shared horizon of the slot at header `p`: {@link sharedHorizon} of its stored pairs. */
export function sharedAt (s: WindowedCounter, p: number): number {
  let top = 0
  let second = 0
  for (let q = p + 1; typeof s[q] === 'string'; q += 2) {
    const h = s[q + 1] as number
    if (h > top) { second = top; top = h } else if (h > second) second = h
  }
  return second
}

/** (bucket, key) order of entries. */
export function cmp (b1: number, k1: string, b2: number, k2: string): number {
  return b1 !== b2 ? b1 - b2 : k1 < k2 ? -1 : k1 > k2 ? 1 : 0
}

/** Offset of the entry (bucket, key) in the slot at header `p`, or -1. */
export function findEntry (s: WindowedCounter, p: number, bucket: number, key: string): number {
  return findEntryAt(s, entriesAt(s, p), s[p] as number, bucket, key)
}

/** Offset of the entry (bucket, key) among `n` entries from `base`, or -1. The newest bucket is last: look there first. */
export function findEntryAt (s: WindowedCounter, base: number, n: number, bucket: number, key: string): number {
  if (n === 0) return -1
  const last = base + 3 * (n - 1)
  const c = cmp(s[last] as number, s[last + 1] as string, bucket, key)
  if (c === 0) return last
  if (c < 0) return -1
  let lo = 0
  let hi = n - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const q = base + 3 * mid
    const d = cmp(s[q] as number, s[q + 1] as string, bucket, key)
    if (d === 0) return q
    if (d < 0) lo = mid + 1
    else hi = mid
  }
  const q = base + 3 * lo
  return cmp(s[q] as number, s[q + 1] as string, bucket, key) === 0 ? q : -1
}

/** What {@link scanSlot} found (one shared object: the hot path allocates nothing). */
export const slotScan = { own: 0, shared: 0, top: 0, entries: 0 }

/**
 * One pass over the horizon pairs of the slot at header `p`: `owner`'s own horizon, the
 * shared (second highest) and the highest, and where the entries start, into {@link slotScan}.
 */
export function scanSlot (s: WindowedCounter, p: number, owner: string): void {
  let own = 0
  let top = 0
  let second = 0
  let q = p + 1
  for (; typeof s[q] === 'string'; q += 2) {
    const h = s[q + 1] as number
    if (s[q] === owner) own = h
    if (h > top) { second = top; top = h } else if (h > second) second = h
  }
  slotScan.own = own
  slotScan.shared = second
  slotScan.top = top
  slotScan.entries = q
}
