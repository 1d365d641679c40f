/**
 * Add-wins map from string keys to a nested CRDT (`awMapType(kind, valueType)`). A key's
 * presence follows add-wins dots exactly like `awset`: a put mints a dot, a remove is the
 * context of the key's dots, and a put concurrent with a remove keeps the key.
 *
 * Values merge with the nested type's own join, independently of presence. A removed key
 * keeps its value hidden rather than dropping it: ops travel as deltas and anti-entropy
 * re-sends ops, never whole states, so a replica that dropped a value on remove could
 * never get back the parts a concurrent put's delta does not carry, and replicas would
 * diverge. The price: re-putting a removed key continues from its old value (fine for
 * records of LWW fields and lattices; counters resume their totals), and removed values
 * stay in the state. Keys are meant to be unique ids (API key ids), not recycled.
 */
import type { Reader, Writer } from './codec.ts'
import { CrdtError } from './errors.ts'
import { type CausalContext, cloudClone, pair, ccEquals, ccFromDots, ccJoin, ccMax, ccToJSON, decodeCc, decodeDots, type Dots, dotsToJSON, encodeCc, encodeDots, joinDots } from './dots.ts'
import { exact, none } from './flat.ts'
import type { CrdtType, ReplicaId } from './types.ts'

/**
 * The causal context's fields live on the state itself (one object less per map).
 */
export interface AwMap<S> extends CausalContext {
  /**
   * Triples `[key, dots, value, …]`, keys ascending. Empty dots = removed (value kept
   * hidden). Triples rather than entry objects: one object less per key.
   */
  e: Array<string | Dots | S>
}

export interface AwMapType<S, D, V> extends CrdtType<AwMap<S>, AwMap<S>, Record<string, V>> {
  readonly valueType: CrdtType<S, D, V>
  /**
   * Delta making `key` present at `replica` and applying `valueDelta` (made by the nested
   * type's mutators from `valueState(s, key)`) to its value.
   */
  put (s: AwMap<S>, replica: ReplicaId, key: string, valueDelta: D): AwMap<S>
  /** Delta removing `key` (the puts observed here); a no-op delta if absent. */
  remove (s: AwMap<S>, key: string): AwMap<S>
  /** The value state of a present key, or undefined. Do not mutate it. */
  get (s: AwMap<S>, key: string): S | undefined
  /**
   * The nested state to base the next nested mutation on: the key's value even when it is
   * removed (hidden), else empty. Counters must continue from it or increments get lost.
   */
  valueState (s: AwMap<S>, key: string): S
  has (s: AwMap<S>, key: string): boolean
  /** Present keys, ascending. */
  keys (s: AwMap<S>): string[]
}

function setMember<T> (o: Record<string, T>, k: string, v: T): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true })
}

/** An add-wins map type with kind tag `kind` over values of `valueType`. */
export function awMapType<S, D, V> (kind: string, valueType: CrdtType<S, D, V>): AwMapType<S, D, V> {
  const vt = valueType
  const EMPTY = vt.empty() // compared against only, never mutated
  const keep = (d: Dots, v: S): boolean => d.length > 0 || !vt.equals(v, EMPTY)

  /** Index of `key`'s triple, or -1. */
  const find = (e: AwMap<S>['e'], key: string): number => {
    let lo = 0
    let hi = e.length / 3
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const k = e[mid * 3] as string
      if (k === key) return mid * 3
      if (k < key) lo = mid + 1
      else hi = mid
    }
    return -1
  }
  const dotsOf = (s: AwMap<S>, key: string): Dots => {
    const i = find(s.e, key)
    return i >= 0 ? (s.e[i + 1] as Dots) : []
  }

  const join = (a: AwMap<S>, b: AwMap<S>): AwMap<S> => {
    const out: AwMap<S>['e'] = []
    const ae = a.e
    const be = b.e
    let i = 0
    let j = 0
    while (i < ae.length || j < be.length) {
      const ka = ae[i] as string | undefined
      const kb = be[j] as string | undefined
      if (kb === undefined || (ka !== undefined && ka < kb)) {
        const d = joinDots(ae[i + 1] as Dots, a, [], b)
        const v = ae[i + 2] as S
        if (keep(d, v)) out.push(ka!, d, v) // a removed key keeps a non-empty value hidden
        i += 3
      } else if (ka === undefined || kb < ka) {
        const d = joinDots([], a, be[j + 1] as Dots, b)
        const v = be[j + 2] as S
        if (keep(d, v)) out.push(kb, d, vt.clone(v))
        j += 3
      } else {
        const d = joinDots(ae[i + 1] as Dots, a, be[j + 1] as Dots, b)
        const v = vt.merge(ae[i + 2] as S, be[j + 2] as S)
        if (keep(d, v)) out.push(ka, d, v)
        i += 3
        j += 3
      }
    }
    a.e = exact(out) // push over-allocates
    ccJoin(a, b)
    return a
  }

  const clone = (s: AwMap<S>): AwMap<S> => {
    const e = s.e.length === 0 ? none<string | Dots | S>() : s.e.map((x, i) => (i % 3 === 0 ? x : i % 3 === 1 ? x : vt.clone(x as S)))
    return { vv: s.vv, cloud: cloudClone(s.cloud), e }
  }

  const encode = (w: Writer, s: AwMap<S>): void => {
    encodeCc(w, s)
    w.uint(s.e.length / 3)
    for (let i = 0; i < s.e.length; i += 3) {
      w.string(s.e[i] as string)
      encodeDots(w, s.e[i + 1] as Dots)
      vt.encodeState(w, s.e[i + 2] as S)
    }
  }

  const decode = (r: Reader): AwMap<S> => {
    const cc = decodeCc(r)
    const n = r.count()
    const e: AwMap<S>['e'] = []
    let prev: string | undefined
    for (let i = 0; i < n; i++) {
      const key = r.string()
      if (prev !== undefined && key <= prev) throw new CrdtError('decode_invalid', 'map keys not strictly ascending')
      const d = decodeDots(r, cc)
      const v = vt.decodeState(r)
      if (!keep(d, v)) throw new CrdtError('decode_invalid', 'removed key with an empty value')
      e.push(key, d, v)
      prev = key
    }
    return { vv: cc.vv, cloud: cc.cloud, e: exact(e) }
  }

  return {
    kind,
    valueType,
    empty: () => ({ vv: none(), cloud: none(), e: none() }),
    clone,
    merge: join,
    apply: join,
    deltaState: clone,
    put (s, replica, key, valueDelta) {
      if (typeof key !== 'string') throw new CrdtError('invalid_delta', 'map keys are strings')
      const dot: Dots = pair(replica, ccMax(s, replica) + 1)
      const cc = ccFromDots(dotsOf(s, key))
      ccJoin(cc, ccFromDots(dot))
      return { vv: cc.vv, cloud: cc.cloud, e: [key, dot, vt.deltaState(valueDelta)] }
    },
    remove (s, key) {
      const cc = ccFromDots(dotsOf(s, key))
      return { vv: cc.vv, cloud: cc.cloud, e: none() }
    },
    get (s, key) {
      const i = find(s.e, key)
      return i >= 0 && (s.e[i + 1] as Dots).length > 0 ? (s.e[i + 2] as S) : undefined
    },
    valueState (s, key) {
      const i = find(s.e, key)
      return i >= 0 ? (s.e[i + 2] as S) : vt.empty()
    },
    has: (s, key) => dotsOf(s, key).length > 0,
    keys (s) {
      const out: string[] = []
      for (let i = 0; i < s.e.length; i += 3) if ((s.e[i + 1] as Dots).length > 0) out.push(s.e[i] as string)
      return out
    },
    value (s) {
      const out: Record<string, V> = {}
      for (let i = 0; i < s.e.length; i += 3) {
        if ((s.e[i + 1] as Dots).length > 0) setMember(out, s.e[i] as string, vt.value(s.e[i + 2] as S))
      }
      return out
    },
    equals (a, b) {
      if (a.e.length !== b.e.length || !ccEquals(a, b)) return false
      for (let i = 0; i < a.e.length; i += 3) {
        const x = a.e[i + 1] as Dots
        const y = b.e[i + 1] as Dots
        if (a.e[i] !== b.e[i] || x.length !== y.length || x.some((v, k) => v !== y[k]) || !vt.equals(a.e[i + 2] as S, b.e[i + 2] as S)) return false
      }
      return true
    },
    encodeState: encode,
    decodeState: decode,
    encodeDelta: encode,
    decodeDelta: decode,
    inspect (s) {
      const entries: Record<string, unknown> = {}
      for (let i = 0; i < s.e.length; i += 3) {
        const d = s.e[i + 1] as Dots
        setMember(entries, s.e[i] as string, { present: d.length > 0, dots: dotsToJSON(d), value: vt.inspect(s.e[i + 2] as S) })
      }
      return { cc: ccToJSON(s), entries }
    },
  }
}
