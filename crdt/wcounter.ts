/**
 * Windowed G-counter with retention: one state holds, for each resolution slot (e.g.
 * minute / hour / day), a map bucket → G-counter (per-replica entries) and the horizons
 * below which buckets are dropped. The type knows nothing of time: buckets and horizons
 * are integers the caller derives from its clock and bucket sizes.
 *
 * Retention that one bad clock cannot break. Each replica `r` carries its own horizon
 * `h_r` (a max register per replica: the oldest bucket its clock still retains), and the
 * slot has a shared horizon `g` = the second highest `h_r` (0 while fewer than two
 * replicas have one). Replica `k`'s entry in bucket `b` is held only when
 * `b ≥ T_k = max(h_k, g)`:
 * - a replica prunes its own entries by its own clock, so a single writer (the devnet, an
 *   account only one node serves) stays bounded by retention on its own;
 * - nobody else's entries are dropped by one replica alone: a clock hours or days ahead
 *   raises only its own `h` and, being the top one, not `g`. It takes two replicas past a
 *   bucket to drop other replicas' entries in it (honest clocks agree within the drift
 *   limit, so that is normal retention).
 * - A replica that stops writing keeps its `h` and its entries (at most one retention of
 *   buckets, all ≥ its `h`) until two others have moved past them; then they go, and its
 *   `h` too (pairs below `g` are not stored, they no longer change any `T`). So while two
 *   or more replicas keep writing the state is bounded by the retention of the active
 *   writers; while only one does, by that plus the last retention of each replica that
 *   stopped (frozen, hidden on read by the caller's own clock, gone when a second writer
 *   appears). A lone fast clock gets no more: it can only hold its own future buckets.
 * The obvious alternative, "the only `h` when one replica has written, else the second
 * highest", is not monotone (a second, slower replica would lower the horizon), and a
 * non-monotone horizon breaks associativity; the per-replica `T_k` is what keeps
 * single-writer pruning without it.
 *
 * Join = pointwise max of the per-replica horizons, then pointwise max of entries, each
 * restricted to `b ≥ T_k` of the joined horizons. Every `T_k` is monotone in every `h`, so
 * restricting commutes with the pointwise max and two restrictions compose as one at the
 * larger thresholds: the join stays commutative, associative and idempotent
 * (property-tested in test/crdt/wcounter.test.ts, with a replica's clock arbitrarily
 * ahead). An entry once below its `T_k` is gone everywhere: a late increment for it is a
 * no-op on every replica alike, so replicas still converge.
 *
 * Entries posted for a shared event (an idempotency key recorded on two nodes must count
 * once) are *copies* `name@replica` (see `ownerOf`): each belongs to its replica like its
 * own entries, and a bucket's total counts a name once, at its largest copy. A single
 * shared `name` entry could not work here: it has no replica, so nothing but the highest
 * clock could prune it (one replica alone must be able to prune, see above), and if such
 * names voted for `g`, one fast node posting two of them would push `g` alone.
 *
 * One delta carries one replica's new totals for any number of slots plus its own horizon
 * bump per slot, so a metered call is one change per counter (not one per window) and
 * pruning needs no ops of its own: it rides on the next write.
 */
import { CrdtError } from './errors.ts'
import { checkAmount } from './gcounter.ts'
import { flatEquals, none } from './flat.ts'
import type { CrdtType } from './types.ts'
import { decodeDelta, decodeState, encodeDelta, encodeState } from './wcounter-codec.ts'
import { deltaState, join, rebuild } from './wcounter-join.ts'
import {
  checkIndex, entriesAt, findEntry, findEntryAt, MAX_WINDOW_SLOTS, ownerOf, ownHorizon, sharedAt, scanSlot, slotAt, slotCount,
  slotEnd, slotScan, type WindowedCounter, type WindowedDelta, type WindowedIncrement, type WindowedPart,
} from './wcounter-layout.ts'

export { MAX_WINDOW_SLOTS, ownerOf, type WindowedCounter, type WindowedDelta, type WindowedIncrement, type WindowedPart } from './wcounter-layout.ts'

/**
 * Delta adding each increment (at most one per slot) under `key`. An increment for a
 * bucket below `key`'s horizon in the state (see {@link windowedHorizon}) or below the
 * writer's own adds nothing; a horizon is only carried when it raises `key`'s. Returns
 * undefined when nothing would change. Does not modify `s`.
 */
export function windowedIncrement (s: WindowedCounter, key: string, incs: readonly WindowedIncrement[]): WindowedDelta | undefined {
  const parts: WindowedPart[] = []
  let sorted = incs
  for (let i = 1; i < incs.length; i++) {
    if (incs[i]!.slot < incs[i - 1]!.slot) { sorted = [...incs].sort((a, b) => a.slot - b.slot); break }
  }
  const owner = ownerOf(key)
  let prev = -1
  let p = 0
  let at = 0
  for (const inc of sorted) {
    checkIndex(inc.slot, 'slot', 'invalid_delta')
    if (inc.slot >= MAX_WINDOW_SLOTS) throw new CrdtError('invalid_delta', `slot ${inc.slot} out of range`)
    if (inc.slot === prev) throw new CrdtError('invalid_delta', `two increments for slot ${inc.slot}`)
    prev = inc.slot
    checkIndex(inc.bucket, 'bucket', 'invalid_delta')
    checkIndex(inc.horizon, 'horizon', 'invalid_delta')
    checkAmount(inc.n)
    for (; at < inc.slot && p < s.length; at++) p = slotEnd(s, p)
    const held = p < s.length
    let have = 0
    if (held) {
      scanSlot(s, p, owner)
      have = slotScan.own > slotScan.shared ? slotScan.own : slotScan.shared
    }
    // A horizon at or below `have` changes no threshold now or later (see the header).
    const horizon = inc.horizon > have ? inc.horizon : 0
    let value = 0
    if (inc.bucket >= Math.max(have, inc.horizon)) {
      const q = held ? findEntryAt(s, slotScan.entries, s[p] as number, inc.bucket, key) : -1
      value = (q < 0 ? 0 : s[q + 2] as number) + inc.n
      if (!Number.isSafeInteger(value)) throw new CrdtError('invalid_delta', `counter entry overflows 2^53: ${value}`)
    }
    if (value !== 0 || horizon !== 0) parts.push({ slot: inc.slot, bucket: value === 0 ? 0 : inc.bucket, value, horizon })
  }
  return parts.length === 0 ? undefined : { key, parts }
}

/** `key`'s entry in one bucket (0 when absent or dropped). */
export function windowedEntry (s: WindowedCounter, slot: number, bucket: number, key: string): number {
  const p = slotAt(s, slot)
  if (p < 0) return 0
  const q = findEntry(s, p, bucket, key)
  return q < 0 ? 0 : s[q + 2] as number
}

/**
 * A slot's horizon in effect: without `key`, the shared one (the second highest
 * per-replica horizon), below which every replica's buckets are dropped; with `key`, the
 * one for that key's entries, max(its replica's own horizon, the shared one). 0 = nothing
 * dropped.
 */
export function windowedHorizon (s: WindowedCounter, slot: number, key?: string): number {
  const p = slotAt(s, slot)
  if (p < 0) return 0
  const g = sharedAt(s, p)
  if (key === undefined) return g
  const h = ownHorizon(s, p, ownerOf(key))
  return h > g ? h : g
}

/** A slot's stored per-replica horizons as `[key, horizon]`, keys ascending (those below the shared one are not kept). */
export function windowedHorizons (s: WindowedCounter, slot: number): Array<[string, number]> {
  const p = slotAt(s, slot)
  const out: Array<[string, number]> = []
  if (p < 0) return out
  for (let q = p + 1; typeof s[q] === 'string'; q += 2) out.push([s[q] as string, s[q + 1] as number])
  return out
}

/**
 * Calls `fn(bucket, total)` for each kept bucket of `slot` in `[from, to)`, ascending. A
 * bucket's total adds every replica's entry, and each copied name (see {@link ownerOf})
 * once, at its largest copy.
 */
export function windowedEach (s: WindowedCounter, slot: number, from: number, to: number, fn: (bucket: number, total: number) => void): void {
  const p = slotAt(s, slot)
  if (p < 0) return
  const end = slotEnd(s, p)
  let q = entriesAt(s, p)
  while (q < end) {
    const b = s[q] as number
    let total = 0
    let copies: Map<string, number> | undefined
    for (; q < end && s[q] === b; q += 3) {
      const key = s[q + 1] as string
      const v = s[q + 2] as number
      const at = key.lastIndexOf('@')
      if (at < 0) { total += v; continue }
      const name = key.slice(0, at)
      copies ??= new Map()
      const had = copies.get(name) ?? 0
      if (v > had) copies.set(name, v)
    }
    if (b >= to) break
    if (copies !== undefined) for (const v of copies.values()) total += v
    if (b >= from) fn(b, total)
  }
}

/** Number of buckets held in all slots (what retention bounds). */
export function windowedSize (s: WindowedCounter): number {
  let n = 0
  for (let p = 0; p < s.length; p = slotEnd(s, p)) {
    const start = entriesAt(s, p)
    const end = slotEnd(s, p)
    for (let q = start; q < end; q += 3) if (q === start || s[q] !== s[q - 3]) n++
  }
  return n
}

/**
 * Apply a delta: in place when it only raises totals of entries already held (a writer
 * counting again in the current windows: the hot path); otherwise, a horizon bump or a
 * new entry, one rebuild. Raising some entries in place before rebuilding is harmless
 * (the join is idempotent).
 */
function apply (s: WindowedCounter, d: WindowedDelta): WindowedCounter {
  const owner = ownerOf(d.key)
  let p = 0
  let at = 0
  for (const part of d.parts) {
    for (; at < part.slot && p < s.length; at++) p = slotEnd(s, p)
    if (p >= s.length) return rebuild(s, d)
    scanSlot(s, p, owner)
    const { own, shared } = slotScan
    // A horizon changes the state unless its replica holds one as high, or it is below the shared one (not stored).
    if (part.horizon > own && part.horizon >= shared) return rebuild(s, d)
    if (part.value === 0 || part.bucket < shared || part.bucket < own) continue
    const q = findEntryAt(s, slotScan.entries, s[p] as number, part.bucket, d.key)
    if (q < 0) return rebuild(s, d)
    if (part.value > (s[q + 2] as number)) s[q + 2] = part.value
  }
  return s
}

function merge (a: WindowedCounter, b: WindowedCounter): WindowedCounter {
  return b.length === 0 ? a : join(a, b)
}

function clone (s: WindowedCounter): WindowedCounter {
  // Numbers and (immutable) strings only: a shallow copy is a deep one.
  return s.length === 0 ? none() : s.slice()
}

/** Per slot: `[bucket, total]` pairs ascending. */
export type WindowedValue = Array<Array<[number, number]>>

function value (s: WindowedCounter): WindowedValue {
  const out: WindowedValue = []
  const n = slotCount(s)
  for (let i = 0; i < n; i++) {
    const rows: Array<[number, number]> = []
    windowedEach(s, i, 0, Number.MAX_SAFE_INTEGER, (b, t) => rows.push([b, t]))
    out.push(rows)
  }
  while (out.length > 0 && out[out.length - 1]!.length === 0) out.pop()
  return out
}

function inspect (s: WindowedCounter): unknown {
  const slots: unknown[] = []
  const def = (o: Record<string, unknown>, k: string, v: unknown): void => {
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true })
  }
  for (let p = 0; p < s.length; p = slotEnd(s, p)) {
    const horizons: Record<string, number> = {}
    for (let q = p + 1; typeof s[q] === 'string'; q += 2) def(horizons, s[q] as string, s[q + 1])
    const buckets: Record<string, { entries: Record<string, number>, total: number }> = {}
    for (let q = entriesAt(s, p); q < slotEnd(s, p); q += 3) {
      const b = String(s[q])
      const row = buckets[b] ?? (buckets[b] = { entries: {}, total: 0 })
      def(row.entries, s[q + 1] as string, s[q + 2])
      row.total += s[q + 2] as number
    }
    slots.push({ horizon: sharedAt(s, p), horizons, buckets })
  }
  return { slots }
}

/**
 * The windowed G-counter type (kind `wcounter.v2`: v1 had one max-register horizon per
 * slot, which one replica's fast clock could push; its states are not read).
 */
export const wcounterType: CrdtType<WindowedCounter, WindowedDelta, WindowedValue> = {
  kind: 'wcounter.v2',
  empty: none,
  clone,
  merge,
  apply,
  // apply raises totals in place or rebuilds; it keeps only the delta's numbers and
  // (immutable) strings, and a decoded delta never makes it throw (laws check both).
  applyInPlace: true,
  deltaState,
  value,
  equals: flatEquals,
  encodeState,
  decodeState,
  encodeDelta,
  decodeDelta,
  inspect,
}
