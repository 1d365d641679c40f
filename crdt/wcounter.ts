/**
 * Windowed G-counter with retention: one state holds, for each resolution slot (e.g.
 * minute / hour / day), a map bucket → G-counter (per-replica entries) and a horizon, a
 * max register below which buckets are dropped. The type knows nothing of time: buckets
 * and horizons are integers the caller derives from its clock and bucket sizes.
 *
 * Join = max of horizons, then pointwise max of entries restricted to buckets ≥ the
 * horizon. Restricting to `≥ h` commutes with the pointwise max and two restrictions
 * compose as one at the larger horizon, so the join stays commutative, associative and
 * idempotent (property-tested in test/crdt/wcounter.test.ts). A bucket once below the
 * horizon is gone everywhere: a late increment for it is a no-op on every replica alike,
 * so replicas still converge, and the state is bounded by retention instead of growing
 * with every window ever written.
 *
 * One delta carries one replica's new totals for any number of slots plus a horizon bump
 * per slot, so a metered call is one change per counter (not one per window) and pruning
 * needs no ops of its own: it rides on the next write.
 */
import type { Reader, Writer } from './codec.ts'
import { CrdtError } from './errors.ts'
import { checkAmount, type GCounter, gcounterEntry, gcounterType } from './gcounter.ts'
import { exact, flatEquals, flatSum, flatToObject, none } from './flat.ts'
import type { CrdtType } from './types.ts'

/** Most resolution slots a state may hold (a delta naming a higher slot is refused). */
export const MAX_WINDOW_SLOTS = 8

/**
 * One resolution: horizon `h` (buckets below it are dropped) and `w` =
 * `[bucket0, counter0, bucket1, counter1, …]`, buckets ascending, all ≥ `h`, counters
 * non-empty G-counters. Opaque outside crdt/.
 */
export interface WindowSlot {
  h: number
  w: Array<number | GCounter>
}

/** Slots by index; a missing or `undefined` slot is empty (horizon 0, no buckets). */
export type WindowedCounter = Array<WindowSlot | undefined>

/** One slot's part of a delta: `key`'s new total in `bucket` (0 = none) and a horizon bump (0 = none). */
export interface WindowedPart {
  readonly slot: number
  readonly bucket: number
  readonly value: number
  readonly horizon: number
}

/** A delta: one replica's new totals, at most one part per slot, slots ascending. */
export interface WindowedDelta {
  readonly key: string
  readonly parts: readonly WindowedPart[]
}

/** What a writer adds in one slot: `n` to `bucket`, with its clock's horizon for the slot. */
export interface WindowedIncrement {
  slot: number
  bucket: number
  n: number
  /** Oldest bucket the writer retains (buckets below are dropped); 0 = no pruning. */
  horizon: number
}

function checkIndex (n: number, what: string, code: 'invalid_delta' | 'decode_invalid'): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new CrdtError(code, `${what} must be a non-negative safe integer, got ${n}`)
}

/** Slot index of `bucket` in `w` (even), or `~insertAt` when absent. Recent buckets are last: look there first. */
function findBucket (w: ReadonlyArray<number | GCounter>, bucket: number): number {
  const n = w.length
  if (n === 0) return ~0
  const last = w[n - 2] as number
  if (last === bucket) return n - 2
  if (last < bucket) return ~n
  let lo = 0
  let hi = (n >> 1) - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const b = w[mid << 1] as number
    if (b === bucket) return mid << 1
    if (b < bucket) lo = mid + 1
    else hi = mid
  }
  return w[lo << 1] === bucket ? lo << 1 : ~(lo << 1)
}

/** Number of leading buckets of `w` below `h`. */
function belowCount (w: ReadonlyArray<number | GCounter>, h: number): number {
  let i = 0
  while (i < w.length && (w[i] as number) < h) i += 2
  return i
}

/**
 * Delta adding each increment (at most one per slot) under `key`. An increment for a
 * bucket below the slot's horizon (the state's, or the writer's own) adds nothing; a
 * horizon is only carried when it raises the state's. Returns undefined when nothing
 * would change. Does not modify `s`.
 */
export function windowedIncrement (s: WindowedCounter, key: string, incs: readonly WindowedIncrement[]): WindowedDelta | undefined {
  const parts: WindowedPart[] = []
  let sorted = incs
  for (let i = 1; i < incs.length; i++) {
    if (incs[i]!.slot < incs[i - 1]!.slot) { sorted = [...incs].sort((a, b) => a.slot - b.slot); break }
  }
  let prev = -1
  for (const inc of sorted) {
    checkIndex(inc.slot, 'slot', 'invalid_delta')
    if (inc.slot >= MAX_WINDOW_SLOTS) throw new CrdtError('invalid_delta', `slot ${inc.slot} out of range`)
    if (inc.slot === prev) throw new CrdtError('invalid_delta', `two increments for slot ${inc.slot}`)
    prev = inc.slot
    checkIndex(inc.bucket, 'bucket', 'invalid_delta')
    checkIndex(inc.horizon, 'horizon', 'invalid_delta')
    checkAmount(inc.n)
    const slot = s[inc.slot]
    const have = slot?.h ?? 0
    const horizon = inc.horizon > have ? inc.horizon : 0
    let value = 0
    if (inc.bucket >= Math.max(have, inc.horizon)) {
      value = windowedEntry(s, inc.slot, inc.bucket, key) + inc.n
      if (!Number.isSafeInteger(value)) throw new CrdtError('invalid_delta', `counter entry overflows 2^53: ${value}`)
    }
    if (value !== 0 || horizon !== 0) parts.push({ slot: inc.slot, bucket: value === 0 ? 0 : inc.bucket, value, horizon })
  }
  return parts.length === 0 ? undefined : { key, parts }
}

/** `key`'s entry in one bucket (0 when absent or dropped). */
export function windowedEntry (s: WindowedCounter, slot: number, bucket: number, key: string): number {
  const w = s[slot]?.w
  if (w === undefined) return 0
  const i = findBucket(w, bucket)
  return i < 0 ? 0 : gcounterEntry(w[i + 1] as GCounter, key)
}

/** A slot's horizon (0 when nothing was ever dropped). */
export function windowedHorizon (s: WindowedCounter, slot: number): number {
  return s[slot]?.h ?? 0
}

/** Calls `fn(bucket, total)` for each kept bucket of `slot` in `[from, to)`, ascending. */
export function windowedEach (s: WindowedCounter, slot: number, from: number, to: number, fn: (bucket: number, total: number) => void): void {
  const w = s[slot]?.w
  if (w === undefined) return
  for (let i = 0; i < w.length; i += 2) {
    const b = w[i] as number
    if (b < from) continue
    if (b >= to) break
    fn(b, flatSum(w[i + 1] as GCounter))
  }
}

/** Number of buckets held in all slots (what retention bounds). */
export function windowedSize (s: WindowedCounter): number {
  let n = 0
  for (const slot of s) if (slot !== undefined) n += slot.w.length >> 1
  return n
}

/** Raise `slot`'s horizon to `h`, dropping buckets below it. */
function raise (slot: WindowSlot, h: number): void {
  if (h <= slot.h) return
  slot.h = h
  const cut = belowCount(slot.w, h)
  if (cut > 0) slot.w = cut === slot.w.length ? none() : slot.w.slice(cut)
}

/** True when joining `b` into `a` would raise some entry. */
function raises (a: GCounter, b: GCounter): boolean {
  for (let i = 0; i < b.length; i += 2) if (gcounterEntry(a, b[i] as string) < (b[i + 1] as number)) return true
  return false
}

/**
 * Join `counter` into `slot`'s `bucket` (no-op below the horizon). Counters held in a slot
 * are never written in place (a changed one is replaced by a new array), so states may
 * share them: `clone` copies the bucket arrays only, and merge takes `b`'s counters as is.
 */
function joinBucket (slot: WindowSlot, bucket: number, counter: GCounter): void {
  if (bucket < slot.h) return
  const w = slot.w
  const i = findBucket(w, bucket)
  if (i >= 0) {
    const held = w[i + 1] as GCounter
    if (raises(held, counter)) w[i + 1] = gcounterType.merge(exact(held), counter)
    return
  }
  const at = ~i
  const out = new Array<number | GCounter>(w.length + 2)
  for (let j = 0; j < at; j++) out[j] = w[j]!
  out[at] = bucket
  out[at + 1] = counter
  for (let j = at; j < w.length; j++) out[j + 2] = w[j]!
  slot.w = out
}

/** The writable slot `i` of `s`, creating it (and growing `s`) when absent. */
function slotOf (s: WindowedCounter, i: number): [WindowedCounter, WindowSlot] {
  let slot = s[i]
  if (slot !== undefined) return [s, slot]
  if (i >= s.length) {
    const grown: WindowedCounter = new Array(i + 1)
    for (let j = 0; j < s.length; j++) grown[j] = s[j]
    s = grown
  }
  slot = { h: 0, w: none() }
  s[i] = slot
  return [s, slot]
}

function apply (s: WindowedCounter, d: WindowedDelta): WindowedCounter {
  for (const p of d.parts) {
    let slot: WindowSlot
    ;[s, slot] = slotOf(s, p.slot)
    raise(slot, p.horizon)
    if (p.value > 0) joinBucket(slot, p.bucket, gcounterType.deltaState({ key: d.key, value: p.value }))
  }
  return s
}

function merge (a: WindowedCounter, b: WindowedCounter): WindowedCounter {
  for (let i = 0; i < b.length; i++) {
    const sb = b[i]
    if (sb === undefined) continue
    let sa: WindowSlot
    ;[a, sa] = slotOf(a, i)
    raise(sa, sb.h)
    for (let j = 0; j < sb.w.length; j += 2) joinBucket(sa, sb.w[j] as number, sb.w[j + 1] as GCounter)
  }
  return a
}

function clone (s: WindowedCounter): WindowedCounter {
  if (s.length === 0) return none()
  const out: WindowedCounter = new Array(s.length)
  for (let i = 0; i < s.length; i++) {
    const slot = s[i]
    // Counters are immutable once held (joinBucket): copying the bucket array is enough.
    if (slot !== undefined) out[i] = { h: slot.h, w: slot.w.length === 0 ? none() : slot.w.slice() }
  }
  return out
}

const isEmpty = (slot: WindowSlot | undefined): boolean => slot === undefined || (slot.h === 0 && slot.w.length === 0)

function equals (a: WindowedCounter, b: WindowedCounter): boolean {
  const n = Math.max(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a[i]
    const y = b[i]
    if (isEmpty(x) || isEmpty(y)) {
      if (isEmpty(x) !== isEmpty(y)) return false
      continue
    }
    if (x!.h !== y!.h || x!.w.length !== y!.w.length) return false
    for (let j = 0; j < x!.w.length; j += 2) {
      if (x!.w[j] !== y!.w[j] || !flatEquals(x!.w[j + 1] as GCounter, y!.w[j + 1] as GCounter)) return false
    }
  }
  return true
}

/** Slots up to the last non-empty one (trailing empty slots are not encoded: canonical form). */
function usedSlots (s: WindowedCounter): number {
  let n = s.length
  while (n > 0 && isEmpty(s[n - 1])) n--
  return n
}

/** The replica keys used anywhere in `s`, ascending, each once. */
function keyTable (s: WindowedCounter, n: number): string[] {
  const seen = new Set<string>()
  for (let i = 0; i < n; i++) {
    const w = s[i]?.w
    if (w === undefined) continue
    for (let j = 1; j < w.length; j += 2) {
      const g = w[j] as GCounter
      for (let k = 0; k < g.length; k += 2) seen.add(g[k] as string)
    }
  }
  return [...seen].sort()
}

/**
 * Slot count; the table of replica keys (ascending, each used somewhere); per slot:
 * horizon, bucket count, then each bucket as its gap from the horizon (first) or from the
 * previous bucket + 1, followed by its entries as (key index, total) with indices
 * ascending. Gaps keep bucket numbers to a byte or two and make ascending order a property
 * of the encoding; the key table writes each replica id once instead of once per bucket.
 */
function encodeState (w: Writer, s: WindowedCounter): void {
  const n = usedSlots(s)
  w.uint(n)
  if (n === 0) return
  const keys = keyTable(s, n)
  w.uint(keys.length)
  for (const k of keys) w.string(k)
  const index = new Map<string, number>()
  keys.forEach((k, i) => index.set(k, i))
  for (let i = 0; i < n; i++) {
    const slot = s[i]
    if (slot === undefined) {
      w.uint(0).uint(0)
      continue
    }
    w.uint(slot.h).uint(slot.w.length >> 1)
    let next = slot.h
    for (let j = 0; j < slot.w.length; j += 2) {
      const b = slot.w[j] as number
      w.uint(b - next)
      next = b + 1
      const g = slot.w[j + 1] as GCounter
      w.uint(g.length >> 1)
      for (let k = 0; k < g.length; k += 2) w.uint(index.get(g[k] as string)!).uint(g[k + 1] as number)
    }
  }
}

function decodeState (r: Reader): WindowedCounter {
  const n = r.count(MAX_WINDOW_SLOTS)
  if (n === 0) return none()
  const nk = r.count()
  const keys: string[] = []
  for (let i = 0; i < nk; i++) {
    const k = r.string()
    if (i > 0 && k <= keys[i - 1]!) throw new CrdtError('decode_invalid', 'replica keys not strictly ascending')
    keys.push(k)
  }
  const used = new Uint8Array(nk)
  const out: WindowedCounter = new Array(n)
  for (let i = 0; i < n; i++) {
    const h = r.uint()
    const count = r.count()
    if (h === 0 && count === 0) {
      if (i === n - 1) throw new CrdtError('decode_invalid', 'trailing empty window slot')
      continue
    }
    const w: Array<number | GCounter> = []
    let next = h
    for (let j = 0; j < count; j++) {
      const b = next + r.uint()
      if (!Number.isSafeInteger(b)) throw new CrdtError('decode_invalid', 'bucket overflows 2^53')
      next = b + 1
      const entries = r.count(nk)
      if (entries === 0) throw new CrdtError('decode_invalid', `empty counter in bucket ${b}`)
      let g: GCounter = none()
      let prev = -1
      for (let k = 0; k < entries; k++) {
        const ki = r.uint()
        if (ki >= nk || ki <= prev) throw new CrdtError('decode_invalid', `key index ${ki} out of order or range`)
        prev = ki
        used[ki] = 1
        const v = r.uint()
        if (v === 0) throw new CrdtError('decode_invalid', `zero entry in bucket ${b}`)
        g = gcounterType.apply(g, { key: keys[ki]!, value: v })
      }
      w.push(b, g)
    }
    out[i] = { h, w: count === 0 ? none() : w.slice() }
  }
  if (used.indexOf(0) >= 0) throw new CrdtError('decode_invalid', 'unused replica key in table')
  return out
}

/**
 * Key, part count; per part: `slot << 2 | has value | has horizon << 1`, then the value and
 * bucket when there is one, then the horizon: as its distance below the bucket when both
 * are there (a byte for a writer's retention, instead of a full bucket number), else as is.
 */
function encodeDelta (w: Writer, d: WindowedDelta): void {
  w.string(d.key).uint(d.parts.length)
  for (const p of d.parts) {
    const hasValue = p.value > 0
    const hasHorizon = p.horizon > 0
    w.uint(p.slot * 4 + (hasHorizon ? 2 : 0) + (hasValue ? 1 : 0))
    if (hasValue) w.uint(p.value).uint(p.bucket)
    if (hasHorizon) {
      if (hasValue) w.int(p.bucket - p.horizon)
      else w.uint(p.horizon)
    }
  }
}

function decodeDelta (r: Reader): WindowedDelta {
  const key = r.string()
  const n = r.count(MAX_WINDOW_SLOTS)
  if (n === 0) throw new CrdtError('decode_invalid', 'empty windowed delta')
  const parts: WindowedPart[] = []
  let prev = -1
  for (let i = 0; i < n; i++) {
    const head = r.uint()
    const slot = Math.floor(head / 4)
    if (slot <= prev || slot >= MAX_WINDOW_SLOTS) throw new CrdtError('decode_invalid', `window slot ${slot} out of order or range`)
    if ((head & 3) === 0) throw new CrdtError('decode_invalid', 'empty windowed delta part')
    prev = slot
    let value = 0
    let bucket = 0
    let horizon = 0
    if ((head & 1) !== 0) {
      value = r.uint()
      bucket = r.uint()
      if (value === 0) throw new CrdtError('decode_invalid', 'zero windowed delta value')
    }
    if ((head & 2) !== 0) {
      horizon = (head & 1) !== 0 ? bucket - r.int() : r.uint()
      if (!(horizon > 0) || !Number.isSafeInteger(horizon)) throw new CrdtError('decode_invalid', `bad horizon ${horizon}`)
    }
    parts.push({ slot, bucket, value, horizon })
  }
  return { key, parts }
}

function deltaState (d: WindowedDelta): WindowedCounter {
  return apply(none(), d)
}

/** Per slot: `[bucket, total]` pairs ascending. */
export type WindowedValue = Array<Array<[number, number]>>

function value (s: WindowedCounter): WindowedValue {
  const out: WindowedValue = []
  for (let i = 0; i < s.length; i++) {
    const rows: Array<[number, number]> = []
    windowedEach(s, i, 0, Number.MAX_SAFE_INTEGER, (b, t) => rows.push([b, t]))
    out.push(rows)
  }
  while (out.length > 0 && out[out.length - 1]!.length === 0) out.pop()
  return out
}

function inspect (s: WindowedCounter): unknown {
  const slots: unknown[] = []
  for (let i = 0; i < usedSlots(s); i++) {
    const slot = s[i]
    const buckets: Record<string, unknown> = {}
    for (let j = 0; slot !== undefined && j < slot.w.length; j += 2) {
      const g = slot.w[j + 1] as GCounter
      buckets[String(slot.w[j])] = { entries: flatToObject(g, (v) => v), total: flatSum(g) }
    }
    slots.push({ horizon: slot?.h ?? 0, buckets })
  }
  return { slots }
}

/** The windowed G-counter type (kind `wcounter.v1`). */
export const wcounterType: CrdtType<WindowedCounter, WindowedDelta, WindowedValue> = {
  kind: 'wcounter.v1',
  empty: none,
  clone,
  merge,
  apply,
  deltaState,
  value,
  equals,
  encodeState,
  decodeState,
  encodeDelta,
  decodeDelta,
  inspect,
}
