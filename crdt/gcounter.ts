/**
 * Grow-only counter: one non-decreasing entry per key (usually a replica id), value = sum.
 * A delta is one entry with its new total, so applying it is a max: idempotent and
 * order-free. Mutators do not change the state they read: they return a delta, and the
 * caller applies it (the store does, on commit) before making the next one.
 */
import type { Reader, Writer } from './codec.ts'
import { CrdtError } from './errors.ts'
import { decodeFlatNum, encodeFlatNum, exact, type Flat, flatEquals, flatGet, flatMax, flatSum, flatToObject, MAX_COUNTER, none, pair } from './flat.ts'
import type { CrdtType } from './types.ts'

/**
 * `[key0, total0, key1, total1, …]`, keys ascending, totals > 0. Opaque outside crdt/.
 * `apply`/`merge` return a new array when they add a key: always use their result.
 */
export type GCounter = Flat<number>

/** One entry's new total. */
export interface GCounterDelta {
  readonly key: string
  readonly value: number
}

/** Checks an increment amount: a positive safe integer (counters count integer units). */
export function checkAmount (n: number): void {
  if (!Number.isSafeInteger(n) || n <= 0) throw new CrdtError('invalid_delta', `amount must be a positive safe integer, got ${n}`)
}

function checkTotal (total: number): void {
  if (!Number.isSafeInteger(total)) throw new CrdtError('invalid_delta', `counter entry overflows 2^53: ${total}`)
}

/** Delta adding `n` (> 0) to `key`'s entry. Does not modify `s`. */
export function gcounterIncrement (s: GCounter, key: string, n: number): GCounterDelta {
  checkAmount(n)
  const value = (flatGet(s, key) ?? 0) + n
  checkTotal(value)
  return { key, value }
}

/** Total of one entry (0 when absent). */
export function gcounterEntry (s: GCounter, key: string): number {
  return flatGet(s, key) ?? 0
}

/** Entries as `[key, total]` pairs in key order. */
export function gcounterEntries (s: GCounter): Array<[string, number]> {
  const out: Array<[string, number]> = []
  for (let i = 0; i < s.length; i += 2) out.push([s[i] as string, s[i + 1] as number])
  return out
}

/** Join `b` into `a` entry-wise by max; returns the result (a new array if keys were added). */
export function gcounterJoin (a: GCounter, b: GCounter): GCounter {
  for (let i = 0; i < b.length; i += 2) a = flatMax(a, b[i] as string, b[i + 1] as number)
  return a
}

/**
 * A one-entry counter at a small total becomes the shared frozen `[key, total]` (flat.ts
 * `pair`): quiet accounts' per-day counters are mostly that, 64 bytes each otherwise.
 * Shared arrays are never written: `flatMax` copies a frozen array before changing it.
 */
function share (a: GCounter): GCounter {
  return a.length === 2 && (a[1] as number) <= MAX_COUNTER ? pair(a[0] as string, a[1] as number) : a
}

/** The G-counter type (kind `gcounter.v1`). */
export const gcounterType: CrdtType<GCounter, GCounterDelta, number> = {
  kind: 'gcounter.v1',
  empty: none,
  // A shared (frozen) pair is never written, so it needs no copy; only small one-entry
  // counters can be one, so only they pay for the check.
  clone: (s) => (s.length === 2 && (s[1] as number) <= MAX_COUNTER && Object.isFrozen(s) ? s : exact(s)),
  merge: (a, b) => share(gcounterJoin(a, b)),
  apply: (s, d) => share(flatMax(s, d.key, d.value)),
  // A max into a key-sorted array (a copy when it is a shared frozen pair): no throw, and
  // the delta's key is a string and its value a number, so nothing of it is held.
  applyInPlace: true,
  deltaState: (d) => (d.value > 0 ? share([d.key, d.value]) : none()),
  value: flatSum,
  equals: flatEquals,
  encodeState: encodeFlatNum,
  decodeState: (r) => share(decodeFlatNum(r)),
  encodeDelta (w: Writer, d) {
    w.string(d.key).uint(d.value)
  },
  decodeDelta (r: Reader) {
    const key = r.string()
    const value = r.uint()
    if (value === 0) throw new CrdtError('decode_invalid', 'zero counter delta')
    return { key, value }
  },
  inspect: (s) => ({ entries: flatToObject(s, (v) => v), total: flatSum(s) }),
}
