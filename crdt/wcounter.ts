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
import { CrdtError } from './errors.ts'
import { checkAmount } from './gcounter.ts'
import { flatEquals, none } from './flat.ts'
import type { CrdtType } from './types.ts'
import { decodeDelta, decodeState, encodeDelta, encodeState } from './wcounter-codec.ts'
import {
  checkIndex, cmp, findEntry, MAX_WINDOW_SLOTS, slotAt, slotCount,
  type WindowedCounter, type WindowedDelta, type WindowedIncrement, type WindowedPart,
} from './wcounter-layout.ts'

export { MAX_WINDOW_SLOTS, type WindowedCounter, type WindowedDelta, type WindowedIncrement, type WindowedPart } from './wcounter-layout.ts'

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
    const have = windowedHorizon(s, inc.slot)
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
  const p = slotAt(s, slot)
  if (p < 0) return 0
  const q = findEntry(s, p, bucket, key)
  return q < 0 ? 0 : s[q + 2] as number
}

/** A slot's horizon (0 when nothing was ever dropped). */
export function windowedHorizon (s: WindowedCounter, slot: number): number {
  const p = slotAt(s, slot)
  return p < 0 ? 0 : s[p] as number
}

/** Calls `fn(bucket, total)` for each kept bucket of `slot` in `[from, to)`, ascending. */
export function windowedEach (s: WindowedCounter, slot: number, from: number, to: number, fn: (bucket: number, total: number) => void): void {
  const p = slotAt(s, slot)
  if (p < 0) return
  const end = p + 2 + 3 * (s[p + 1] as number)
  let q = p + 2
  while (q < end) {
    const b = s[q] as number
    let total = 0
    while (q < end && s[q] === b) { total += s[q + 2] as number; q += 3 }
    if (b >= to) break
    if (b >= from) fn(b, total)
  }
}

/** Number of buckets held in all slots (what retention bounds). */
export function windowedSize (s: WindowedCounter): number {
  let n = 0
  for (let p = 0; p < s.length; p += 2 + 3 * (s[p + 1] as number)) {
    const end = p + 2 + 3 * (s[p + 1] as number)
    for (let q = p + 2; q < end; q += 3) if (q === p + 2 || s[q] !== s[q - 3]) n++
  }
  return n
}

/** `out` without trailing empty slots (`0, 0` headers), so equal states are equal arrays. */
function trim (out: WindowedCounter): WindowedCounter {
  const n = slotCount(out)
  let keep = out.length
  for (let i = n - 1; i >= 0; i--) {
    const p = slotAt(out, i)
    if (out[p] !== 0 || out[p + 1] !== 0) break
    keep = p
  }
  // An exact-size copy: an array grown by push keeps ~50% slack, for as long as the state lives.
  return keep === 0 ? none() : out.slice(0, keep)
}

/**
 * Join of two states, built into a new array: per slot the larger horizon, then a linear
 * merge of both sorted entry lists, max on equal (bucket, key), entries below the horizon
 * dropped. O(size of a + size of b).
 */
function join (a: WindowedCounter, b: WindowedCounter): WindowedCounter {
  const n = Math.max(slotCount(a), slotCount(b))
  const out: WindowedCounter = []
  let pa = 0
  let pb = 0
  for (let i = 0; i < n; i++) {
    const ha = pa < a.length ? a[pa] as number : 0
    const na = pa < a.length ? a[pa + 1] as number : 0
    const hb = pb < b.length ? b[pb] as number : 0
    const nb = pb < b.length ? b[pb + 1] as number : 0
    const h = ha > hb ? ha : hb
    let x = pa + 2
    const xEnd = x + 3 * na
    let y = pb + 2
    const yEnd = y + 3 * nb
    while (x < xEnd && (a[x] as number) < h) x += 3
    while (y < yEnd && (b[y] as number) < h) y += 3
    const head = out.length
    out.push(h, 0)
    let count = 0
    while (x < xEnd || y < yEnd) {
      const c = x >= xEnd ? 1 : y >= yEnd ? -1 : cmp(a[x] as number, a[x + 1] as string, b[y] as number, b[y + 1] as string)
      if (c < 0) { out.push(a[x]!, a[x + 1]!, a[x + 2]!); x += 3 } else if (c > 0) { out.push(b[y]!, b[y + 1]!, b[y + 2]!); y += 3 } else {
        out.push(a[x]!, a[x + 1]!, Math.max(a[x + 2] as number, b[y + 2] as number))
        x += 3
        y += 3
      }
      count++
    }
    out[head + 1] = count
    if (pa < a.length) pa = xEnd
    if (pb < b.length) pb = yEnd
  }
  return trim(out)
}

function deltaState (d: WindowedDelta): WindowedCounter {
  const out: WindowedCounter = []
  let next = 0
  for (const part of d.parts) {
    for (; next < part.slot; next++) out.push(0, 0)
    next = part.slot + 1
    if (part.value > 0 && part.bucket >= part.horizon) out.push(part.horizon, 1, part.bucket, d.key, part.value)
    else out.push(part.horizon, 0)
  }
  return trim(out)
}

/**
 * `s` with a delta joined in, built in one pass into a new array: per slot the raised
 * horizon, the entries below it skipped, the delta's entry inserted in order (or maxed
 * into its equal). The general case of `apply` (a new window or a horizon bump).
 */
function rebuild (s: WindowedCounter, d: WindowedDelta): WindowedCounter {
  const parts = d.parts
  const n = Math.max(slotCount(s), parts.length === 0 ? 0 : parts[parts.length - 1]!.slot + 1)
  const out: WindowedCounter = new Array(s.length + 2 * n + 3 * parts.length)
  let o = 0
  let keep = 0
  let p = 0
  let k = 0
  for (let i = 0; i < n; i++) {
    const has = p < s.length
    const h0 = has ? s[p] as number : 0
    const end = has ? p + 2 + 3 * (s[p + 1] as number) : p
    const part = k < parts.length && parts[k]!.slot === i ? parts[k++] : undefined
    const h = part !== undefined && part.horizon > h0 ? part.horizon : h0
    let q = has ? p + 2 : p
    while (q < end && (s[q] as number) < h) q += 3
    const head = o
    out[o++] = h
    out[o++] = 0
    let pending = part !== undefined && part.value > 0 && part.bucket >= h
    for (; q < end; q += 3) {
      if (pending) {
        const c = cmp(s[q] as number, s[q + 1] as string, part!.bucket, d.key)
        if (c === 0) {
          out[o++] = s[q]!
          out[o++] = s[q + 1]!
          out[o++] = Math.max(s[q + 2] as number, part!.value)
          pending = false
          continue
        }
        if (c > 0) {
          out[o++] = part!.bucket
          out[o++] = d.key
          out[o++] = part!.value
          pending = false
        }
      }
      out[o++] = s[q]!
      out[o++] = s[q + 1]!
      out[o++] = s[q + 2]!
    }
    if (pending) {
      out[o++] = part!.bucket
      out[o++] = d.key
      out[o++] = part!.value
    }
    out[head + 1] = (o - head - 2) / 3
    if (h !== 0 || o - head > 2) keep = o
    p = end
  }
  if (keep === 0) return none()
  // Exact size: shrinking `length` by a little keeps the slack allocated for as long as
  // the state lives (V8 trims only when at least half is unused).
  return keep === out.length ? out : out.slice(0, keep)
}

/**
 * Apply a delta: in place when it only raises totals of entries already held (a writer
 * counting again in the current windows: the hot path); otherwise, a horizon bump or a
 * new entry, one rebuild. Raising some entries in place before rebuilding is harmless
 * (the join is idempotent).
 */
function apply (s: WindowedCounter, d: WindowedDelta): WindowedCounter {
  for (const part of d.parts) {
    const p = slotAt(s, part.slot)
    if (p < 0 || part.horizon > (s[p] as number)) return rebuild(s, d)
    if (part.value === 0 || part.bucket < (s[p] as number)) continue
    const q = findEntry(s, p, part.bucket, d.key)
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

/** The replica keys used anywhere in `s`, ascending, each once. */
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
  for (let p = 0; p < s.length; p += 2 + 3 * (s[p + 1] as number)) {
    const end = p + 2 + 3 * (s[p + 1] as number)
    const buckets: Record<string, { entries: Record<string, number>, total: number }> = {}
    for (let q = p + 2; q < end; q += 3) {
      const b = String(s[q])
      const row = buckets[b] ?? (buckets[b] = { entries: {}, total: 0 })
      Object.defineProperty(row.entries, s[q + 1] as string, { value: s[q + 2], enumerable: true, writable: true, configurable: true })
      row.total += s[q + 2] as number
    }
    slots.push({ horizon: s[p], buckets })
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
  equals: flatEquals,
  encodeState,
  decodeState,
  encodeDelta,
  decodeDelta,
  inspect,
}
