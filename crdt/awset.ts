/**
 * Add-wins observed-remove set of strings, delta-state and optimized (no tombstones):
 * each present element carries the dots of the adds that put it there; the causal context
 * records every dot seen. An add mints one new dot and its delta's context covers the
 * element's old dots, so re-adding replaces dots instead of piling them up. A remove is
 * just the context of the element's dots. A concurrent add's new dot is not in the
 * remover's context, so it survives: add wins.
 *
 * Mutators return a delta without touching the state; apply each delta before minting
 * the next one from the same state (the next dot is read from the state).
 */
import type { Reader, Writer } from './codec.ts'
import { CrdtError } from './errors.ts'
import { type CausalContext, cloudClone, pair, ccEquals, ccFromDots, ccJoin, ccMax, ccToJSON, decodeCc, decodeDots, type Dots, dotsToJSON, encodeCc, encodeDots, joinDots } from './dots.ts'
import { exact, type Flat, flatFind, flatToObject, none } from './flat.ts'
import type { CrdtType, ReplicaId } from './types.ts'

/** The causal context's fields live on the state itself (one object less per set). */
export interface AwSet extends CausalContext {
  /** element → its dots (never empty), elements ascending. */
  e: Flat<Dots>
}

function dotsOf (s: AwSet, el: string): Dots {
  const i = flatFind(s.e, el)
  return i >= 0 ? (s.e[i + 1] as Dots) : []
}

/** Delta adding `el` at `replica`. */
export function awsetAdd (s: AwSet, replica: ReplicaId, el: string): AwSet {
  if (typeof el !== 'string') throw new CrdtError('invalid_delta', 'set elements are strings')
  const dot: Dots = pair(replica, ccMax(s, replica) + 1)
  const cc = ccFromDots(dotsOf(s, el))
  ccJoin(cc, ccFromDots(dot))
  return { vv: cc.vv, cloud: cc.cloud, e: [el, dot] }
}

/** Delta removing `el` (the adds observed here); a no-op delta if absent. */
export function awsetRemove (s: AwSet, el: string): AwSet {
  const cc = ccFromDots(dotsOf(s, el))
  return { vv: cc.vv, cloud: cc.cloud, e: none() }
}

export function awsetHas (s: AwSet, el: string): boolean {
  return flatFind(s.e, el) >= 0
}

/** Number of elements present. */
export function awsetSize (s: AwSet): number {
  return s.e.length >> 1
}

function join (a: AwSet, b: AwSet): AwSet {
  const out: Flat<Dots> = []
  const ae = a.e
  const be = b.e
  let i = 0
  let j = 0
  while (i < ae.length || j < be.length) {
    const ka = ae[i] as string | undefined
    const kb = be[j] as string | undefined
    let key: string
    let dots: Dots
    if (kb === undefined || (ka !== undefined && ka < kb)) {
      key = ka!
      dots = joinDots(ae[i + 1] as Dots, a, [], b)
      i += 2
    } else if (ka === undefined || kb < ka) {
      key = kb
      dots = joinDots([], a, be[j + 1] as Dots, b)
      j += 2
    } else {
      key = ka
      dots = joinDots(ae[i + 1] as Dots, a, be[j + 1] as Dots, b)
      i += 2
      j += 2
    }
    if (dots.length > 0) out.push(key, dots)
  }
  a.e = exact(out) // push over-allocates
  ccJoin(a, b)
  return a
}

function clone (s: AwSet): AwSet {
  const e = s.e.length === 0 ? none<string | Dots>() : s.e.map((x, i) => (i % 2 === 0 ? x : x))
  return { vv: s.vv, cloud: cloudClone(s.cloud), e }
}

function encode (w: Writer, s: AwSet): void {
  encodeCc(w, s)
  w.uint(s.e.length >> 1)
  for (let i = 0; i < s.e.length; i += 2) {
    w.string(s.e[i] as string)
    encodeDots(w, s.e[i + 1] as Dots)
  }
}

function decode (r: Reader): AwSet {
  const cc = decodeCc(r)
  const n = r.count()
  const e: Flat<Dots> = []
  let prev: string | undefined
  for (let i = 0; i < n; i++) {
    const el = r.string()
    if (prev !== undefined && el <= prev) throw new CrdtError('decode_invalid', 'elements not strictly ascending')
    const dots = decodeDots(r, cc)
    if (dots.length === 0) throw new CrdtError('decode_invalid', 'element without dots')
    e.push(el, dots)
    prev = el
  }
  return { vv: cc.vv, cloud: cc.cloud, e: exact(e) }
}

/** The add-wins set type (kind `awset.v1`); value = elements in ascending order. */
export const awsetType: CrdtType<AwSet, AwSet, string[]> = {
  kind: 'awset.v1',
  empty: () => ({ vv: none(), cloud: none(), e: none() }),
  clone,
  merge: join,
  apply: join,
  deltaState: clone,
  value (s) {
    const out: string[] = []
    for (let i = 0; i < s.e.length; i += 2) out.push(s.e[i] as string)
    return out
  },
  equals (a, b) {
    if (a.e.length !== b.e.length || !ccEquals(a, b)) return false
    for (let i = 0; i < a.e.length; i += 2) {
      const x = a.e[i + 1] as Dots
      const y = b.e[i + 1] as Dots
      if (a.e[i] !== b.e[i] || x.length !== y.length || x.some((v, k) => v !== y[k])) return false
    }
    return true
  },
  encodeState: encode,
  decodeState: decode,
  encodeDelta: encode,
  decodeDelta: decode,
  inspect: (s) => ({ cc: ccToJSON(s), elements: flatToObject(s.e, dotsToJSON) }),
}
