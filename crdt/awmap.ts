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
import { type CausalContext, ccClone, ccEmpty, ccEquals, ccFromDots, ccJoin, ccMax, ccToJSON, decodeCc, decodeDots, type Dots, dotsToJSON, encodeCc, encodeDots, joinDots } from './dots.ts'
import { type Flat, flatFind } from './flat.ts'
import type { CrdtType, ReplicaId } from './types.ts'

export interface AwMapEntry<S> {
  /** Dots of the puts that make the key present; empty = removed (value kept hidden). */
  d: Dots
  v: S
}

export interface AwMap<S> {
  cc: CausalContext
  /** key → entry, keys ascending. */
  e: Flat<AwMapEntry<S>>
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

  const entry = (s: AwMap<S>, key: string): AwMapEntry<S> | undefined => {
    const i = flatFind(s.e, key)
    return i >= 0 ? (s.e[i + 1] as AwMapEntry<S>) : undefined
  }

  const join = (a: AwMap<S>, b: AwMap<S>): AwMap<S> => {
    const out: Flat<AwMapEntry<S>> = []
    const ae = a.e
    const be = b.e
    let i = 0
    let j = 0
    while (i < ae.length || j < be.length) {
      const ka = ae[i] as string | undefined
      const kb = be[j] as string | undefined
      if (kb === undefined || (ka !== undefined && ka < kb)) {
        const x = ae[i + 1] as AwMapEntry<S>
        x.d = joinDots(x.d, a.cc, [], b.cc)
        if (keep(x.d, x.v)) out.push(ka!, x) // a removed key keeps a non-empty value hidden
        i += 2
      } else if (ka === undefined || kb < ka) {
        const y = be[j + 1] as AwMapEntry<S>
        const d = joinDots([], a.cc, y.d, b.cc)
        if (keep(d, y.v)) out.push(kb, { d, v: vt.clone(y.v) })
        j += 2
      } else {
        const x = ae[i + 1] as AwMapEntry<S>
        const y = be[j + 1] as AwMapEntry<S>
        x.d = joinDots(x.d, a.cc, y.d, b.cc)
        x.v = vt.merge(x.v, y.v)
        if (keep(x.d, x.v)) out.push(ka, x)
        i += 2
        j += 2
      }
    }
    a.e = out
    ccJoin(a.cc, b.cc)
    return a
  }

  const clone = (s: AwMap<S>): AwMap<S> => {
    const e: Flat<AwMapEntry<S>> = []
    for (let i = 0; i < s.e.length; i += 2) {
      const x = s.e[i + 1] as AwMapEntry<S>
      e.push(s.e[i] as string, { d: x.d.slice(), v: vt.clone(x.v) })
    }
    return { cc: ccClone(s.cc), e }
  }

  const encode = (w: Writer, s: AwMap<S>): void => {
    encodeCc(w, s.cc)
    w.uint(s.e.length >> 1)
    for (let i = 0; i < s.e.length; i += 2) {
      const x = s.e[i + 1] as AwMapEntry<S>
      w.string(s.e[i] as string)
      encodeDots(w, x.d)
      vt.encodeState(w, x.v)
    }
  }

  const decode = (r: Reader): AwMap<S> => {
    const cc = decodeCc(r)
    const n = r.count()
    const e: Flat<AwMapEntry<S>> = []
    let prev: string | undefined
    for (let i = 0; i < n; i++) {
      const key = r.string()
      if (prev !== undefined && key <= prev) throw new CrdtError('decode_invalid', 'map keys not strictly ascending')
      const d = decodeDots(r, cc)
      const v = vt.decodeState(r)
      if (!keep(d, v)) throw new CrdtError('decode_invalid', 'removed key with an empty value')
      e.push(key, { d, v })
      prev = key
    }
    return { cc, e }
  }

  return {
    kind,
    valueType,
    empty: () => ({ cc: ccEmpty(), e: [] }),
    clone,
    merge: join,
    apply: join,
    deltaState: clone,
    put (s, replica, key, valueDelta) {
      if (typeof key !== 'string') throw new CrdtError('invalid_delta', 'map keys are strings')
      const dot: Dots = [replica, ccMax(s.cc, replica) + 1]
      const old = entry(s, key)
      const cc = ccFromDots(old?.d ?? [])
      ccJoin(cc, ccFromDots(dot))
      return { cc, e: [key, { d: dot, v: vt.deltaState(valueDelta) }] }
    },
    remove: (s, key) => ({ cc: ccFromDots(entry(s, key)?.d ?? []), e: [] }),
    get (s, key) {
      const x = entry(s, key)
      return x !== undefined && x.d.length > 0 ? x.v : undefined
    },
    valueState: (s, key) => entry(s, key)?.v ?? vt.empty(),
    has: (s, key) => (entry(s, key)?.d.length ?? 0) > 0,
    keys (s) {
      const out: string[] = []
      for (let i = 0; i < s.e.length; i += 2) if ((s.e[i + 1] as AwMapEntry<S>).d.length > 0) out.push(s.e[i] as string)
      return out
    },
    value (s) {
      const out: Record<string, V> = {}
      for (let i = 0; i < s.e.length; i += 2) {
        const x = s.e[i + 1] as AwMapEntry<S>
        if (x.d.length > 0) setMember(out, s.e[i] as string, vt.value(x.v))
      }
      return out
    },
    equals (a, b) {
      if (a.e.length !== b.e.length || !ccEquals(a.cc, b.cc)) return false
      for (let i = 0; i < a.e.length; i += 2) {
        const x = a.e[i + 1] as AwMapEntry<S>
        const y = b.e[i + 1] as AwMapEntry<S>
        if (a.e[i] !== b.e[i] || x.d.length !== y.d.length || x.d.some((v, k) => v !== y.d[k]) || !vt.equals(x.v, y.v)) return false
      }
      return true
    },
    encodeState: encode,
    decodeState: decode,
    encodeDelta: encode,
    decodeDelta: decode,
    inspect (s) {
      const entries: Record<string, unknown> = {}
      for (let i = 0; i < s.e.length; i += 2) {
        const x = s.e[i + 1] as AwMapEntry<S>
        setMember(entries, s.e[i] as string, { present: x.d.length > 0, dots: dotsToJSON(x.d), value: vt.inspect(x.v) })
      }
      return { cc: ccToJSON(s.cc), entries }
    },
  }
}
