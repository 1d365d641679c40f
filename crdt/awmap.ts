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
import { type CausalContext, ccEquals, ccFromDots, ccJoin, ccMax, ccToJSON, cloudClone, decodeCc, decodeDots, type Dots, dotsToJSON, encodeCc, encodeDots, joinDots, pair } from './dots.ts'
import { exact, type Flat, none } from './flat.ts'
import type { CrdtType, ReplicaId } from './types.ts'

/**
 * `[vv, cloud, key0, dots0, value0, key1, …]`: the causal context's vector and cloud in
 * slots 0 and 1, then one triple per key, keys ascending. Empty dots = removed (value
 * kept hidden). One flat array rather than `{ cc: { vv, cloud }, e: [...] }`: a state
 * object, a context object and an array header less per map (~72 bytes for a one-key
 * map). `merge`/`apply` return a new array: always use their result. Opaque outside crdt/.
 */
export type AwMap<S> = Array<string | Dots | Flat<number[]> | S>

/** Header slots before the first triple. */
const H = 2

/** The state's causal context, as a temporary view (`ccJoin` on it writes the view only). */
function ccOf<S> (s: AwMap<S>): CausalContext {
  return { vv: s[0] as Flat<number>, cloud: s[1] as Flat<number[]> }
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
  const find = (s: AwMap<S>, key: string): number => {
    let lo = 0
    let hi = (s.length - H) / 3
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const k = s[H + mid * 3] as string
      if (k === key) return H + mid * 3
      if (k < key) lo = mid + 1
      else hi = mid
    }
    return -1
  }
  const dotsOf = (s: AwMap<S>, key: string): Dots => {
    const i = find(s, key)
    return i >= 0 ? (s[i + 1] as Dots) : []
  }

  const join = (a: AwMap<S>, b: AwMap<S>): AwMap<S> => {
    const ca = ccOf(a)
    const cb = ccOf(b)
    const out: AwMap<S> = [none<string | number>(), none<string | number[]>()]
    let i = H
    let j = H
    while (i < a.length || j < b.length) {
      const ka = a[i] as string | undefined
      const kb = b[j] as string | undefined
      if (kb === undefined || (ka !== undefined && ka < kb)) {
        const d = joinDots(a[i + 1] as Dots, ca, [], cb)
        const v = a[i + 2] as S
        if (keep(d, v)) out.push(ka!, d, v) // a removed key keeps a non-empty value hidden
        i += 3
      } else if (ka === undefined || kb < ka) {
        const d = joinDots([], ca, b[j + 1] as Dots, cb)
        const v = b[j + 2] as S
        if (keep(d, v)) out.push(kb, d, vt.clone(v))
        j += 3
      } else {
        const d = joinDots(a[i + 1] as Dots, ca, b[j + 1] as Dots, cb)
        const v = vt.merge(a[i + 2] as S, b[j + 2] as S)
        if (keep(d, v)) out.push(ka, d, v)
        i += 3
        j += 3
      }
    }
    ccJoin(ca, cb)
    out[0] = ca.vv
    out[1] = ca.cloud
    return exact(out) // push over-allocates
  }

  // Dots and vectors are immutable (shared); clouds and values are copied.
  const clone = (s: AwMap<S>): AwMap<S> => s.map((x, i) => (i < H ? (i === 0 ? x : cloudClone(x as Flat<number[]>)) : (i - H) % 3 === 2 ? vt.clone(x as S) : x))

  const encode = (w: Writer, s: AwMap<S>): void => {
    encodeCc(w, ccOf(s))
    w.uint((s.length - H) / 3)
    for (let i = H; i < s.length; i += 3) {
      w.string(s[i] as string)
      encodeDots(w, s[i + 1] as Dots)
      vt.encodeState(w, s[i + 2] as S)
    }
  }

  const decode = (r: Reader): AwMap<S> => {
    const cc = decodeCc(r)
    const n = r.count()
    const out: AwMap<S> = [cc.vv, cc.cloud]
    let prev: string | undefined
    for (let i = 0; i < n; i++) {
      const key = r.string()
      if (prev !== undefined && key <= prev) throw new CrdtError('decode_invalid', 'map keys not strictly ascending')
      const d = decodeDots(r, cc)
      const v = vt.decodeState(r)
      if (!keep(d, v)) throw new CrdtError('decode_invalid', 'removed key with an empty value')
      out.push(key, d, v)
      prev = key
    }
    return exact(out)
  }

  return {
    kind,
    valueType,
    empty: () => [none<string | number>(), none<string | number[]>()],
    clone,
    merge: join,
    apply: join,
    deltaState: clone,
    put (s, replica, key, valueDelta) {
      if (typeof key !== 'string') throw new CrdtError('invalid_delta', 'map keys are strings')
      const dot: Dots = pair(replica, ccMax(ccOf(s), replica) + 1)
      const cc = ccFromDots(dotsOf(s, key))
      ccJoin(cc, ccFromDots(dot))
      return [cc.vv, cc.cloud, key, dot, vt.deltaState(valueDelta)]
    },
    remove (s, key) {
      const cc = ccFromDots(dotsOf(s, key))
      return [cc.vv, cc.cloud]
    },
    get (s, key) {
      const i = find(s, key)
      return i >= 0 && (s[i + 1] as Dots).length > 0 ? (s[i + 2] as S) : undefined
    },
    valueState (s, key) {
      const i = find(s, key)
      return i >= 0 ? (s[i + 2] as S) : vt.empty()
    },
    has: (s, key) => dotsOf(s, key).length > 0,
    keys (s) {
      const out: string[] = []
      for (let i = H; i < s.length; i += 3) if ((s[i + 1] as Dots).length > 0) out.push(s[i] as string)
      return out
    },
    value (s) {
      const out: Record<string, V> = {}
      for (let i = H; i < s.length; i += 3) {
        if ((s[i + 1] as Dots).length > 0) setMember(out, s[i] as string, vt.value(s[i + 2] as S))
      }
      return out
    },
    equals (a, b) {
      if (a.length !== b.length || !ccEquals(ccOf(a), ccOf(b))) return false
      for (let i = H; i < a.length; i += 3) {
        const x = a[i + 1] as Dots
        const y = b[i + 1] as Dots
        if (a[i] !== b[i] || x.length !== y.length || x.some((v, k) => v !== y[k]) || !vt.equals(a[i + 2] as S, b[i + 2] as S)) return false
      }
      return true
    },
    encodeState: encode,
    decodeState: decode,
    encodeDelta: encode,
    decodeDelta: decode,
    inspect (s) {
      const entries: Record<string, unknown> = {}
      for (let i = H; i < s.length; i += 3) {
        const d = s[i + 1] as Dots
        setMember(entries, s[i] as string, { present: d.length > 0, dots: dotsToJSON(d), value: vt.inspect(s[i + 2] as S) })
      }
      return { cc: ccToJSON(ccOf(s)), entries }
    },
  }
}
