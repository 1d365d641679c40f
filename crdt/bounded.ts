/**
 * Bounded (escrow) counter, after Balegas et al., "Extending Eventually Consistent Cloud
 * Databases for Enforcing Numeric Invariants": a counter that never goes below its bound,
 * whatever the interleaving, without coordination on the decrement path. Each replica
 * holds *rights*: rights(i) = p[i] + Σ t[*→i] − Σ t[i→*] − d[i]. A replica may decrement
 * or transfer only within its own rights, and only it writes p[i], d[i] and t[i→*].
 *
 * value = bound + Σp − Σd = bound + Σ rights, so it stays ≥ bound as long as every
 * replica's rights are ≥ 0 in every state anyone holds. That needs causality: a decrement
 * whose rights came from a transfer must never be seen without that transfer and the
 * increments behind it. Deltas arrive dropped, duplicated and reordered, so the delta of
 * a decrement or transfer is the replica's whole state (its causal past; small — a few
 * entries per replica). Increments only add rights and ship as a one-entry delta.
 * Decoding refuses states in which some replica's rights are negative.
 */
import type { Reader, Writer } from './codec.ts'
import { CrdtError } from './errors.ts'
import { decodeFlatNum, encodeFlatNum, type Flat, flatEquals, flatFind, flatGet, flatMax, flatSet, flatSum, flatToObject, exact, none } from './flat.ts'
import { checkAmount } from './gcounter.ts'
import type { CrdtType, ReplicaId } from './types.ts'

export interface Bounded {
  /** Increments by replica. */
  p: Flat<number>
  /** Decrements by replica. */
  d: Flat<number>
  /** Transfers: from → (to → total). */
  t: Flat<Flat<number>>
}

function empty (): Bounded {
  return { p: none(), d: none(), t: none() }
}

function clone (s: Bounded): Bounded {
  const t = s.t.length === 0 ? none<string | Flat<number>>() : s.t.map((x, i) => (i % 2 === 0 ? x : (x as Flat<number>).slice()))
  return { p: exact(s.p), d: exact(s.d), t }
}

function merge (a: Bounded, b: Bounded): Bounded {
  for (let i = 0; i < b.p.length; i += 2) a.p = flatMax(a.p, b.p[i] as string, b.p[i + 1] as number)
  for (let i = 0; i < b.d.length; i += 2) a.d = flatMax(a.d, b.d[i] as string, b.d[i + 1] as number)
  for (let i = 0; i < b.t.length; i += 2) {
    const from = b.t[i] as string
    const row = b.t[i + 1] as Flat<number>
    const mine = flatGet(a.t, from)
    if (mine === undefined) {
      a.t = flatSet(a.t, from, row.slice())
    } else {
      let next = mine
      for (let j = 0; j < row.length; j += 2) next = flatMax(next, row[j] as string, row[j + 1] as number)
      if (next !== mine) a.t = flatSet(a.t, from, next)
    }
  }
  return a
}

/** Rights replica `i` holds: what it may still decrement or transfer. */
export function boundedRights (s: Bounded, i: ReplicaId): number {
  let r = (flatGet(s.p, i) ?? 0) - (flatGet(s.d, i) ?? 0)
  for (let k = 0; k < s.t.length; k += 2) {
    const row = s.t[k + 1] as Flat<number>
    if (s.t[k] === i) r -= flatSum(row)
    else r += flatGet(row, i) ?? 0
  }
  return r
}

function replicas (s: Bounded): Set<string> {
  const out = new Set<string>()
  for (let i = 0; i < s.p.length; i += 2) out.add(s.p[i] as string)
  for (let i = 0; i < s.d.length; i += 2) out.add(s.d[i] as string)
  for (let i = 0; i < s.t.length; i += 2) out.add(s.t[i] as string)
  return out
}

function total (n: number): number {
  if (!Number.isSafeInteger(n)) throw new CrdtError('invalid_delta', `counter entry overflows 2^53: ${n}`)
  return n
}

/** Delta adding `n` rights (and value) at replica `i`. Never fails for a valid amount. */
export function boundedIncrement (s: Bounded, i: ReplicaId, n: number): Bounded {
  checkAmount(n)
  return { p: [i, total((flatGet(s.p, i) ?? 0) + n)], d: none(), t: none() }
}

function spend (s: Bounded, i: ReplicaId, n: number): void {
  checkAmount(n)
  const rights = boundedRights(s, i)
  if (rights < n) throw new CrdtError('insufficient_rights', `replica ${i} holds ${rights} right(s), needs ${n}`)
}

/** Delta decrementing `n` at replica `i`; throws insufficient_rights beyond `i`'s rights. */
export function boundedDecrement (s: Bounded, i: ReplicaId, n: number): Bounded {
  spend(s, i, n)
  const out = clone(s)
  out.d = flatSet(out.d, i, total((flatGet(s.d, i) ?? 0) + n))
  return out
}

/** Delta moving `n` rights from `from` to `to`; throws insufficient_rights beyond `from`'s rights. */
export function boundedTransfer (s: Bounded, from: ReplicaId, to: ReplicaId, n: number): Bounded {
  if (from === to) throw new CrdtError('invalid_delta', 'transfer to self')
  spend(s, from, n)
  const out = clone(s)
  const row = flatGet(out.t, from) ?? []
  out.t = flatSet(out.t, from, flatSet(row, to, total((flatGet(row, to) ?? 0) + n)))
  return out
}

function encode (w: Writer, s: Bounded): void {
  encodeFlatNum(w, s.p)
  encodeFlatNum(w, s.d)
  w.uint(s.t.length >> 1)
  for (let i = 0; i < s.t.length; i += 2) {
    w.string(s.t[i] as string)
    encodeFlatNum(w, s.t[i + 1] as Flat<number>)
  }
}

function decode (r: Reader): Bounded {
  const p = decodeFlatNum(r)
  const d = decodeFlatNum(r)
  const n = r.count()
  const t: Flat<Flat<number>> = []
  let prev: string | undefined
  for (let i = 0; i < n; i++) {
    const from = r.string()
    if (prev !== undefined && from <= prev) throw new CrdtError('decode_invalid', 'transfer rows not strictly ascending')
    const row = decodeFlatNum(r)
    if (row.length === 0 || flatFind(row, from) >= 0) throw new CrdtError('decode_invalid', 'empty transfer row or transfer to self')
    t.push(from, row)
    prev = from
  }
  const s = { p, d, t: exact(t) }
  for (const i of replicas(s)) {
    if (boundedRights(s, i) < 0) throw new CrdtError('decode_invalid', `replica ${i} would hold negative rights`)
  }
  if (!Number.isSafeInteger(flatSum(p) - flatSum(d))) throw new CrdtError('decode_invalid', 'counter overflows 2^53')
  return s
}

/**
 * A bounded counter type whose value never goes below `bound` (the empty counter's value).
 * The builtin `boundedType` has bound 0.
 */
export function boundedCounterType (kind: string, bound = 0): CrdtType<Bounded, Bounded, number> {
  return {
    kind,
    empty,
    clone,
    merge,
    apply: merge,
    deltaState: clone,
    value: (s) => bound + flatSum(s.p) - flatSum(s.d),
    equals (a, b) {
      if (!flatEquals(a.p, b.p) || !flatEquals(a.d, b.d) || a.t.length !== b.t.length) return false
      for (let i = 0; i < a.t.length; i += 2) {
        if (a.t[i] !== b.t[i] || !flatEquals(a.t[i + 1] as Flat<number>, b.t[i + 1] as Flat<number>)) return false
      }
      return true
    },
    encodeState: encode,
    decodeState: decode,
    encodeDelta: encode,
    decodeDelta: decode,
    inspect: (s) => ({
      bound,
      value: bound + flatSum(s.p) - flatSum(s.d),
      p: flatToObject(s.p, (v) => v),
      d: flatToObject(s.d, (v) => v),
      t: flatToObject(s.t, (row) => flatToObject(row, (v) => v)),
      rights: Object.fromEntries([...replicas(s)].sort().map((i) => [i, boundedRights(s, i)])),
    }),
  }
}

/** The bounded counter with bound 0 (kind `bounded.v1`). */
export const boundedType = boundedCounterType('bounded.v1', 0)
