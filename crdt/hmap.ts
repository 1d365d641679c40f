/**
 * Horizon-bounded grow-only map: id → (time, immutable Value), plus a horizon, a max
 * register below which entries are dropped. For histories that only matter for a
 * retention period (API-key audit events, idempotency keys): the state is bounded by what
 * is written within the retention, not by everything ever written. The type knows nothing
 * of clocks: times and horizons are integers the caller derives (e.g. epoch ms, and
 * `now - retention` as the horizon).
 *
 * Join = max of horizons, then the union of both entry sets restricted to entries with
 * time ≥ the horizon; two entries for one id resolve to the one with the larger time, on
 * a tie the smaller canonical value encoding. Because that order ranks by time first,
 * restricting to `time ≥ h` commutes with picking the winner (if the winner is below `h`
 * so is the loser), and two restrictions compose as one at the larger horizon, so the
 * join is commutative, associative and idempotent (property-tested in
 * test/crdt/hmap.test.ts). An entry below the horizon is gone everywhere: a late put for
 * it is a no-op on every replica alike, so replicas converge.
 *
 * A delta is a small state (a put carries the writer's horizon), so pruning needs no ops
 * of its own: it rides on the next put.
 */
import type { Reader, Writer } from './codec.ts'
import { CrdtError } from './errors.ts'
import { none } from './flat.ts'
import type { CrdtType } from './types.ts'
import { checkValue, compareValues, decodeValue, encodeValue, type Value, valueEquals, valueToJSON } from './value-codec.ts'

/**
 * `[horizon, id0, time0, value0, id1, time1, value1, …]`, ids strictly ascending, every
 * time ≥ horizon; the empty state (horizon 0, no entries) is the shared empty array.
 * Opaque outside crdt/.
 */
export type HorizonMap = Array<string | number | Value>

function checkTime (n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new CrdtError('invalid_delta', `${what} must be a non-negative safe integer, got ${n}`)
}

/**
 * Delta recording `value` under `id` at `time`, raising the horizon to `horizon` (0: no
 * raise). A put with `time` below `horizon` only raises the horizon.
 */
export function hmapPut (id: string, time: number, value: Value, horizon = 0): HorizonMap {
  if (typeof id !== 'string') throw new CrdtError('invalid_delta', 'map ids are strings')
  checkTime(time, 'time')
  checkTime(horizon, 'horizon')
  checkValue(value)
  if (time < horizon) return horizon === 0 ? none() : [horizon]
  return [horizon, id, time, value]
}

/** Delta raising the horizon to `horizon` (dropping every entry older). */
export function hmapRaise (horizon: number): HorizonMap {
  checkTime(horizon, 'horizon')
  return horizon === 0 ? none() : [horizon]
}

/** The map's horizon (0 when nothing was ever dropped). */
export function hmapHorizon (s: HorizonMap): number {
  return s.length === 0 ? 0 : s[0] as number
}

/** Index of `id`'s entry, or `~insertion point` (entries start at 1, stride 3). */
function find (s: HorizonMap, id: string): number {
  let lo = 0
  let hi = (s.length - 1) / 3
  if (s.length === 0) hi = 0
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    const k = s[1 + 3 * mid] as string
    if (k === id) return 1 + 3 * mid
    if (k < id) lo = mid + 1
    else hi = mid
  }
  return ~(1 + 3 * lo)
}

/** The value under `id` (undefined when absent or dropped). */
export function hmapGet (s: HorizonMap, id: string): Value | undefined {
  const i = find(s, id)
  return i >= 0 ? s[i + 2] as Value : undefined
}

/** The time of `id`'s entry (undefined when absent or dropped). */
export function hmapTime (s: HorizonMap, id: string): number | undefined {
  const i = find(s, id)
  return i >= 0 ? s[i + 1] as number : undefined
}

/** Number of entries held (what the horizon bounds). */
export function hmapSize (s: HorizonMap): number {
  return s.length === 0 ? 0 : (s.length - 1) / 3
}

/** True when entry (ta, va) wins over (tb, vb): larger time, then smaller encoding. */
function wins (ta: number, va: Value, tb: number, vb: Value): boolean {
  return ta > tb || (ta === tb && va !== vb && compareValues(va, vb) < 0)
}

/**
 * Join into a new exact-size array: larger horizon, merge of both sorted entry lists with
 * entries below it skipped, the winner on equal ids. O(size a + size b).
 */
function join (a: HorizonMap, b: HorizonMap): HorizonMap {
  if (b.length === 0) return a
  const h = Math.max(hmapHorizon(a), hmapHorizon(b))
  const out: HorizonMap = [h]
  let x = 1
  let y = 1
  while (x < a.length || y < b.length) {
    let c: number
    if (x >= a.length) c = 1
    else if (y >= b.length) c = -1
    else c = a[x] === b[y] ? 0 : (a[x] as string) < (b[y] as string) ? -1 : 1
    if (c < 0) {
      if ((a[x + 1] as number) >= h) out.push(a[x]!, a[x + 1]!, a[x + 2]!)
      x += 3
    } else if (c > 0) {
      if ((b[y + 1] as number) >= h) out.push(b[y]!, b[y + 1]!, b[y + 2]!)
      y += 3
    } else {
      const bw = wins(b[y + 1] as number, b[y + 2] as Value, a[x + 1] as number, a[x + 2] as Value)
      const src = bw ? b : a
      const i = bw ? y : x
      if ((src[i + 1] as number) >= h) out.push(src[i]!, src[i + 1]!, src[i + 2]!)
      x += 3
      y += 3
    }
  }
  return h === 0 && out.length === 1 ? none() : out
}

/**
 * Apply a delta: a put of a new id at or above the horizon, with no horizon raise, is an
 * insert (the hot path); a put already held is a no-op; anything else is one join.
 */
function apply (s: HorizonMap, d: HorizonMap): HorizonMap {
  if (d.length === 4 && (d[0] as number) <= hmapHorizon(s)) {
    if ((d[2] as number) < hmapHorizon(s)) return s
    const i = find(s, d[1] as string)
    if (i >= 0 && s[i + 1] === d[2] && s[i + 2] === d[3]) return s
  }
  return join(s, d)
}

function encode (w: Writer, s: HorizonMap): void {
  // Count first: a corrupt huge count is refused before anything is allocated.
  w.uint(hmapSize(s))
  w.uint(hmapHorizon(s))
  for (let i = 1; i < s.length; i += 3) {
    w.string(s[i] as string)
    w.uint(s[i + 1] as number)
    encodeValue(w, s[i + 2] as Value)
  }
}

function decode (r: Reader): HorizonMap {
  const n = r.count()
  const h = r.uint()
  if (h === 0 && n === 0) return none()
  const out: HorizonMap = [h]
  let prev: string | undefined
  for (let i = 0; i < n; i++) {
    const id = r.string()
    if (prev !== undefined && id <= prev) throw new CrdtError('decode_invalid', 'map ids not strictly ascending')
    const t = r.uint()
    if (t < h) throw new CrdtError('decode_invalid', `entry ${id} below the horizon`)
    out.push(id, t, decodeValue(r))
    prev = id
  }
  return out
}

function equals (a: HorizonMap, b: HorizonMap): boolean {
  if (a.length !== b.length || hmapHorizon(a) !== hmapHorizon(b)) return false
  for (let i = 1; i < a.length; i += 3) {
    if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || !valueEquals(a[i + 2] as Value, b[i + 2] as Value)) return false
  }
  return true
}

/** The horizon-bounded grow-only map type (kind `hmap.v1`); value = `[id, value]` pairs in id order. */
export const hmapType: CrdtType<HorizonMap, HorizonMap, Array<[string, Value]>> = {
  kind: 'hmap.v1',
  empty: none,
  // Values are immutable once stored (puts never modify them): a shallow copy is enough.
  clone: (s) => s.length === 0 ? none() : s.slice(),
  merge: join,
  apply,
  deltaState: (d) => d.length === 0 ? none() : d.slice(),
  value (s) {
    const out: Array<[string, Value]> = []
    for (let i = 1; i < s.length; i += 3) out.push([s[i] as string, s[i + 2] as Value])
    return out
  },
  equals,
  encodeState: encode,
  decodeState: decode,
  encodeDelta: encode,
  decodeDelta: decode,
  inspect (s) {
    const entries: Record<string, unknown> = {}
    for (let i = 1; i < s.length; i += 3) {
      Object.defineProperty(entries, s[i] as string, { value: { time: s[i + 1], value: valueToJSON(s[i + 2] as Value) }, enumerable: true, writable: true, configurable: true })
    }
    return { horizon: hmapHorizon(s), entries }
  },
}
