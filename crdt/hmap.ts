/**
 * Horizon-bounded grow-only map: id → (time, immutable Value), plus per-replica horizons
 * below which entries are dropped. For histories that only matter for a retention period
 * (API-key audit events, idempotency keys): the state is bounded by what is written within
 * the retention, not by everything ever written. The type knows nothing of clocks: times
 * and horizons are integers the caller derives (e.g. epoch ms, and `now - retention` as
 * the horizon).
 *
 * Retention that one bad clock cannot break, by the rule of wcounter.ts (horizons.ts):
 * every id belongs to a replica (`ownerOf`: the `@replica` suffix of an id, e.g. an audit
 * event `<hlc>@<replica>` or an idempotency key's copy `<key>@<replica>`; an id without
 * one is its own owner). Each replica carries its own horizon `h_r` (a max register); the
 * shared horizon `g` is the second highest `h_r`; an entry is kept while its time ≥
 * `max(h_owner, g)`. So a writer alone prunes its own entries (a single node stays
 * bounded), while a node whose clock runs days ahead cannot drop anyone else's: it takes
 * two replicas past a time. A replica that stops writing keeps its last retention until
 * two others pass it (then its horizon goes too: horizons below `g` are not stored).
 *
 * Join = pointwise max of the horizons, then the union of both entry sets restricted to
 * entries with time ≥ their owner's threshold; two entries for one id resolve to the one
 * with the larger time, on a tie the smaller canonical value encoding. One id has one
 * owner, so both entries face the same threshold, and because the order ranks by time
 * first, restricting commutes with picking the winner (if the winner is below it so is
 * the loser). Every threshold is monotone in every horizon, so two restrictions compose
 * as one at the larger thresholds and the join is commutative, associative and idempotent
 * (property-tested in test/crdt/hmap.test.ts). An entry below its threshold is gone
 * everywhere: a late put for it is a no-op on every replica alike, so replicas converge.
 *
 * A delta is a small state (a put carries its owner's horizon), so pruning needs no ops
 * of its own: it rides on the next put.
 */
import type { Reader, Writer } from './codec.ts'
import { CrdtError } from './errors.ts'
import { none } from './flat.ts'
import { mergeHorizonPairs, nameOf, ownerOf, sharedHorizon } from './horizons.ts'
import type { CrdtType } from './types.ts'
import { checkValue, compareValues, decodeValue, encodeValue, type Value, valueEquals, valueToJSON } from './value-codec.ts'

/**
 * `[hn, replica0, h0, …, id0, time0, value0, id1, time1, value1, …]`: `hn` per-replica
 * horizons (replicas strictly ascending, each h > 0 and ≥ the shared horizon), then the
 * entries, ids strictly ascending, every time ≥ its owner's threshold; the empty state is
 * the shared empty array. Opaque outside crdt/.
 */
export type HorizonMap = Array<string | number | Value>

function checkTime (n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new CrdtError('invalid_delta', `${what} must be a non-negative safe integer, got ${n}`)
}

/**
 * Delta recording `value` under `id` at `time`, raising the horizon of `id`'s owner
 * replica to `horizon` (0: no raise). A put with `time` below `horizon` only raises it.
 * Writers name themselves in their ids (`…@<replica>`): an id without an owner is its own,
 * so a horizon put with it would bound nothing but that id.
 */
export function hmapPut (id: string, time: number, value: Value, horizon = 0): HorizonMap {
  if (typeof id !== 'string') throw new CrdtError('invalid_delta', 'map ids are strings')
  checkTime(time, 'time')
  checkTime(horizon, 'horizon')
  checkValue(value)
  if (time < horizon) return [1, ownerOf(id), horizon]
  return horizon === 0 ? [0, id, time, value] : [1, ownerOf(id), horizon, id, time, value]
}

/** Delta raising `replica`'s horizon to `horizon` (dropping its entries older). */
export function hmapRaise (replica: string, horizon: number): HorizonMap {
  if (typeof replica !== 'string' || replica.includes('@')) throw new CrdtError('invalid_delta', 'a replica id is a string without @')
  checkTime(horizon, 'horizon')
  return horizon === 0 ? none() : [1, replica, horizon]
}

/** Offset of the first entry. */
function base (s: HorizonMap): number {
  return s.length === 0 ? 0 : 1 + 2 * (s[0] as number)
}

/** `replica`'s stored horizon (0 when none). */
function own (s: HorizonMap, replica: string): number {
  const end = base(s)
  for (let i = 1; i < end; i += 2) if (s[i] === replica) return s[i + 1] as number
  return 0
}

function shared (s: HorizonMap): number {
  const hs: number[] = []
  for (let i = 1; i < base(s); i += 2) hs.push(s[i + 1] as number)
  return sharedHorizon(hs)
}

/**
 * The horizon in effect: without `id`, the shared one (the second highest per-replica
 * horizon) below which every entry is dropped; with `id` (an entry id, or a replica id:
 * its own owner), the one for that id's entries, max(its owner's horizon, the shared
 * one). 0 when nothing is dropped.
 */
export function hmapHorizon (s: HorizonMap, id?: string): number {
  const g = shared(s)
  if (id === undefined) return g
  const h = own(s, ownerOf(id))
  return h > g ? h : g
}

/** Index of `id`'s entry, or `~insertion point` (entries start at `base`, stride 3). */
function find (s: HorizonMap, id: string): number {
  const b = base(s)
  let lo = 0
  let hi = (s.length - b) / 3
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    const k = s[b + 3 * mid] as string
    if (k === id) return b + 3 * mid
    if (k < id) lo = mid + 1
    else hi = mid
  }
  return ~(b + 3 * lo)
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

/**
 * The value `name` stands for: the winner (larger time, then smaller encoding) among the
 * entry `name` and its copies `name@<replica>` (undefined when none is held).
 */
export function hmapGetShared (s: HorizonMap, name: string): Value | undefined {
  let best = -1
  const consider = (i: number): void => {
    if (best < 0 || wins(s[i + 1] as number, s[i + 2] as Value, s[best + 1] as number, s[best + 2] as Value)) best = i
  }
  const exact = find(s, name)
  if (exact >= 0) consider(exact)
  const prefix = name + '@'
  let i = find(s, prefix)
  for (i = i >= 0 ? i : ~i; i < s.length && (s[i] as string).startsWith(prefix); i += 3) {
    if (nameOf(s[i] as string) === name) consider(i)
  }
  return best < 0 ? undefined : s[best + 2] as Value
}

/** Number of entries held (what the horizons bound). */
export function hmapSize (s: HorizonMap): number {
  return (s.length - base(s)) / 3
}

/** True when entry (ta, va) wins over (tb, vb): larger time, then smaller encoding. */
function wins (ta: number, va: Value, tb: number, vb: Value): boolean {
  return ta > tb || (ta === tb && va !== vb && compareValues(va, vb) < 0)
}

/**
 * Join into a new exact-size array: pointwise max of the horizons (those below the new
 * shared one left out), merge of both sorted entry lists with entries below their
 * owner's threshold skipped, the winner on equal ids. O(size a + size b).
 */
function join (a: HorizonMap, b: HorizonMap): HorizonMap {
  if (b.length === 0) return a
  const keys: string[] = []
  const hs: number[] = []
  mergeHorizonPairs(a, 1, base(a), b, 1, base(b), keys, hs)
  const g = sharedHorizon(hs)
  const out: HorizonMap = [0]
  let top = g
  for (let j = 0; j < keys.length; j++) {
    if (hs[j]! < g) continue
    out.push(keys[j]!, hs[j]!)
    if (hs[j]! > top) top = hs[j]!
  }
  out[0] = (out.length - 1) / 2
  // Entries at or above every horizon need no owner lookup (the common case: recent ones).
  const keep = (id: string, t: number): boolean => {
    if (t >= top) return true
    if (t < g) return false
    const o = ownerOf(id)
    for (let j = 0; j < keys.length; j++) if (keys[j] === o) return t >= hs[j]!
    return true
  }
  let x = base(a)
  let y = base(b)
  while (x < a.length || y < b.length) {
    let c: number
    if (x >= a.length) c = 1
    else if (y >= b.length) c = -1
    else c = a[x] === b[y] ? 0 : (a[x] as string) < (b[y] as string) ? -1 : 1
    let src = a
    let i = x
    if (c > 0 || (c === 0 && wins(b[y + 1] as number, b[y + 2] as Value, a[x + 1] as number, a[x + 2] as Value))) { src = b; i = y }
    if (c <= 0) x += 3
    if (c >= 0) y += 3
    if (keep(src[i] as string, src[i + 1] as number)) out.push(src[i]!, src[i + 1]!, src[i + 2]!)
  }
  return out.length === 1 ? none() : out
}

/**
 * Apply a delta: a put already held, or below its owner's threshold, with no horizon
 * raise, is a no-op (the replay hot path); anything else is one join.
 */
function apply (s: HorizonMap, d: HorizonMap): HorizonMap {
  if (s.length === 0) return d.length === 0 ? s : d.slice()
  if (d.length === 0) return s
  const hn = d[0] as number
  // A horizon changes the state unless its replica holds one as high or it is below g (not stored).
  if (hn > 1 || (hn === 1 && (d[2] as number) > own(s, d[1] as string) && (d[2] as number) >= shared(s))) return join(s, d)
  const i0 = base(d)
  if (d.length === i0) return s
  if (d.length > i0 + 3) return join(s, d)
  const id = d[i0] as string
  if ((d[i0 + 1] as number) < hmapHorizon(s, id)) return s
  const i = find(s, id)
  if (i >= 0 && s[i + 1] === d[i0 + 1] && valueEquals(s[i + 2] as Value, d[i0 + 2] as Value)) return s
  return join(s, d)
}

/**
 * Entry count, horizon count, (replica, horizon)…, then per entry its id, time and value.
 * An id `name@replica` whose replica has a horizon here is written as `1 + its position`
 * then `name` (a 52-character peer id once, not once per entry), any other id as `0` then
 * the id.
 */
function encode (w: Writer, s: HorizonMap): void {
  // Count first: a corrupt huge count is refused before anything is allocated.
  w.uint(hmapSize(s))
  const b = base(s)
  w.uint(s.length === 0 ? 0 : s[0] as number)
  for (let i = 1; i < b; i += 2) w.string(s[i] as string).uint(s[i + 1] as number)
  for (let i = b; i < s.length; i += 3) {
    const id = s[i] as string
    const at = id.lastIndexOf('@')
    const j = at < 0 ? -1 : pairIndex(s, id.slice(at + 1))
    if (j < 0) w.uint(0).string(id)
    else w.uint(j + 1).string(id.slice(0, at))
    w.uint(s[i + 1] as number)
    encodeValue(w, s[i + 2] as Value)
  }
}

/** Position of `replica` among the horizon pairs, or -1. */
function pairIndex (s: HorizonMap, replica: string): number {
  for (let i = 1; i < base(s); i += 2) if (s[i] === replica) return (i - 1) / 2
  return -1
}

/**
 * Decodes a state or delta, refusing with `decode_invalid` what the type cannot produce:
 * replicas or ids out of order, a zero horizon, one below the shared horizon, an entry
 * below its owner's threshold, an id spelt out whose replica it could refer to.
 */
function decode (r: Reader): HorizonMap {
  const n = r.count()
  const hn = r.count()
  if (hn === 0 && n === 0) return none()
  const out: HorizonMap = [hn]
  const hs: number[] = []
  for (let i = 0; i < hn; i++) {
    const k = r.string()
    if (i > 0 && k <= (out[out.length - 2] as string)) throw new CrdtError('decode_invalid', 'horizon replicas not strictly ascending')
    if (k.includes('@')) throw new CrdtError('decode_invalid', 'a replica id holds no @')
    const h = r.uint()
    if (h === 0) throw new CrdtError('decode_invalid', 'zero replica horizon')
    out.push(k, h)
    hs.push(h)
  }
  const g = sharedHorizon(hs)
  if (hs.some((h) => h < g)) throw new CrdtError('decode_invalid', 'a replica horizon below the shared one')
  let prev: string | undefined
  for (let i = 0; i < n; i++) {
    const tag = r.uint()
    let id: string
    if (tag === 0) {
      id = r.string()
      if (id.includes('@') && pairIndex(out, ownerOf(id)) >= 0) throw new CrdtError('decode_invalid', `id ${id} spelt out instead of referring to its replica`)
    } else {
      if (tag > hn) throw new CrdtError('decode_invalid', `bad replica reference ${tag - 1}`)
      id = r.string() + '@' + (out[2 * tag - 1] as string)
    }
    if (prev !== undefined && id <= prev) throw new CrdtError('decode_invalid', 'map ids not strictly ascending')
    const t = r.uint()
    if (t < hmapHorizon(out, id)) throw new CrdtError('decode_invalid', `entry ${id} below its horizon`)
    out.push(id, t, decodeValue(r))
    prev = id
  }
  return out
}

function equals (a: HorizonMap, b: HorizonMap): boolean {
  if (a.length !== b.length) return false
  const bb = base(a)
  for (let i = 0; i < bb; i++) if (a[i] !== b[i]) return false
  for (let i = bb; i < a.length; i += 3) {
    if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || !valueEquals(a[i + 2] as Value, b[i + 2] as Value)) return false
  }
  return true
}

/**
 * The horizon-bounded grow-only map type (kind `hmap.v2`: v1 had one max-register
 * horizon, which one replica's fast clock could push; its states are not read); value =
 * `[id, value]` pairs in id order.
 */
export const hmapType: CrdtType<HorizonMap, HorizonMap, Array<[string, Value]>> = {
  kind: 'hmap.v2',
  empty: none,
  // Values are immutable once stored (puts never modify them): a shallow copy is enough.
  clone: (s) => s.length === 0 ? none() : s.slice(),
  merge: join,
  apply,
  deltaState: (d) => d.length === 0 ? none() : d.slice(),
  value (s) {
    const out: Array<[string, Value]> = []
    for (let i = base(s); i < s.length; i += 3) out.push([s[i] as string, s[i + 2] as Value])
    return out
  },
  equals,
  encodeState: encode,
  decodeState: decode,
  encodeDelta: encode,
  decodeDelta: decode,
  inspect (s) {
    const def = (o: Record<string, unknown>, k: string, v: unknown): void => {
      Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true })
    }
    const horizons: Record<string, number> = {}
    for (let i = 1; i < base(s); i += 2) def(horizons, s[i] as string, s[i + 1])
    const entries: Record<string, unknown> = {}
    for (let i = base(s); i < s.length; i += 3) def(entries, s[i] as string, { time: s[i + 1], value: valueToJSON(s[i + 2] as Value) })
    return { horizon: shared(s), horizons, entries }
  },
}
