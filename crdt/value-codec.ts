/**
 * JSON-like values (null, boolean, finite number, string, bytes, array, object with string
 * keys) with a compact, canonical, tagged binary encoding: integers as zigzag varints,
 * other numbers as f64, object keys in ascending order. Equal values have equal bytes,
 * which is what LWW tie-breaks and grow-only maps compare. Values are immutable once
 * written into a CRDT: never mutate a value you read from a state.
 */
import { MAX_COUNT, type Reader, Writer } from './codec.ts'
import { CrdtError } from './errors.ts'

export type Value = null | boolean | number | string | Uint8Array | readonly Value[] | { readonly [key: string]: Value }

/** Nesting deeper than this is refused (encode: invalid_delta, decode: decode_oversized). */
export const MAX_VALUE_DEPTH = 32

const enum Tag { Null = 0, False = 1, True = 2, Int = 3, F64 = 4, Str = 5, Bytes = 6, Arr = 7, Obj = 8 }

/** Integers whose zigzag form stays a safe varint; larger ones are encoded as f64. */
function isVarint (n: number): boolean {
  return Number.isInteger(n) && n >= -(2 ** 52) && n < 2 ** 52 && !Object.is(n, -0)
}

function isPlainObject (v: object): v is Record<string, Value> {
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

function byCodeUnit (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function enc (w: Writer, v: unknown, depth: number): void {
  if (depth > MAX_VALUE_DEPTH) throw new CrdtError('invalid_delta', `value nested deeper than ${MAX_VALUE_DEPTH}`)
  switch (typeof v) {
    case 'boolean': w.u8(v ? Tag.True : Tag.False); return
    case 'string': w.u8(Tag.Str).string(v); return
    case 'number':
      if (!Number.isFinite(v)) throw new CrdtError('invalid_delta', `non-finite number ${v}`)
      // -0 keeps its sign through f64; integers of magnitude < 2^52 are varints.
      if (isVarint(v)) w.u8(Tag.Int).int(v)
      else w.u8(Tag.F64).f64(v)
      return
    case 'object': {
      if (v === null) { w.u8(Tag.Null); return }
      if (v instanceof Uint8Array) { w.u8(Tag.Bytes).bytes(v); return }
      if (Array.isArray(v)) {
        w.u8(Tag.Arr).uint(v.length)
        for (const x of v) enc(w, x, depth + 1)
        return
      }
      if (!isPlainObject(v)) throw new CrdtError('invalid_delta', `not a JSON-like value: ${Object.prototype.toString.call(v)}`)
      const keys = Object.keys(v).sort(byCodeUnit)
      w.u8(Tag.Obj).uint(keys.length)
      for (const k of keys) {
        const x = v[k]
        if (x === undefined) throw new CrdtError('invalid_delta', `undefined member ${JSON.stringify(k)}`)
        w.string(k)
        enc(w, x, depth + 1)
      }
      return
    }
    default:
      throw new CrdtError('invalid_delta', `not a JSON-like value: ${typeof v}`)
  }
}

/** Append the canonical encoding of `v`; throws invalid_delta when `v` is not a Value. */
export function encodeValue (w: Writer, v: Value): void {
  enc(w, v, 0)
}

function setMember (o: Record<string, Value>, k: string, v: Value): void {
  // defineProperty, so a key named __proto__ is a member and not a prototype change.
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true })
}

/**
 * Decoded small arrays of primitives (API key scopes like `['read', 'write']`, tags) are
 * shared: one frozen array per distinct content instead of 64+ bytes per value held.
 * Values are immutable once decoded (see above); freezing makes a stray write throw
 * rather than change every state holding the array. Bounded (oldest entry dropped).
 */
const SHARED_MAX_LENGTH = 8
const SHARED_MAX_STRING = 64
const SHARED_MAX_ENTRIES = 1024
const sharedArrays = new Map<string, readonly Value[]>()
const EMPTY_ARRAY: readonly Value[] = Object.freeze([])

function shared (a: Value[]): readonly Value[] {
  if (a.length === 0) return EMPTY_ARRAY
  let key = ''
  for (const v of a) {
    if (typeof v === 'string') {
      if (v.length > SHARED_MAX_STRING) return a.slice()
      key += `s${v.length}:${v}`
    } else if (typeof v === 'boolean' || v === null || (typeof v === 'number' && !Object.is(v, -0))) {
      key += `${typeof v}${String(v)};` // String(number) round-trips exactly; -0 would print as 0
    } else return a.slice() // -0, nested arrays, objects, bytes: not shared
  }
  const hit = sharedArrays.get(key)
  if (hit !== undefined) return hit
  const frozen = Object.freeze(a.slice())
  if (sharedArrays.size >= SHARED_MAX_ENTRIES) sharedArrays.delete(sharedArrays.keys().next().value!)
  sharedArrays.set(key, frozen)
  return frozen
}

function dec (r: Reader, depth: number): Value {
  if (depth > MAX_VALUE_DEPTH) throw new CrdtError('decode_oversized', `value nested deeper than ${MAX_VALUE_DEPTH}`)
  const tag = r.u8()
  switch (tag) {
    case Tag.Null: return null
    case Tag.False: return false
    case Tag.True: return true
    case Tag.Int: return r.int()
    case Tag.F64: {
      const n = r.f64()
      if (!Number.isFinite(n)) throw new CrdtError('decode_invalid', 'non-finite number')
      if (isVarint(n)) throw new CrdtError('decode_invalid', 'integer encoded as f64')
      return n
    }
    case Tag.Str: return r.string()
    case Tag.Bytes: return r.bytes()
    case Tag.Arr: {
      const n = r.count(MAX_COUNT)
      const out: Value[] = []
      for (let i = 0; i < n; i++) out.push(dec(r, depth + 1))
      return n <= SHARED_MAX_LENGTH ? shared(out) : out.slice() // exact size
    }
    case Tag.Obj: {
      const n = r.count(MAX_COUNT)
      const out: Record<string, Value> = {}
      let prev: string | undefined
      for (let i = 0; i < n; i++) {
        const k = r.string()
        if (prev !== undefined && k <= prev) throw new CrdtError('decode_invalid', 'object keys not strictly ascending')
        setMember(out, k, dec(r, depth + 1))
        prev = k
      }
      return out
    }
    default:
      throw new CrdtError('decode_invalid', `unknown value tag ${tag}`)
  }
}

/** Read one value; refuses non-canonical encodings (unsorted keys, integers as f64). */
export function decodeValue (r: Reader): Value {
  return dec(r, 0)
}

/** Canonical bytes of a value (throws invalid_delta when `v` is not a Value). */
export function valueBytes (v: Value): Uint8Array {
  const w = new Writer(32)
  enc(w, v, 0)
  return w.finish()
}

/** Throws CrdtError('invalid_delta') unless `v` is a Value (finite numbers, plain objects, depth ≤ 32). */
export function checkValue (v: unknown): asserts v is Value {
  enc(new Writer(32), v, 0)
}

/** Total order on values: their canonical bytes compared lexicographically. */
export function compareValues (a: Value, b: Value): number {
  if (a === b) return 0
  const x = valueBytes(a)
  const y = valueBytes(b)
  const n = Math.min(x.length, y.length)
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! - y[i]!
  return x.length - y.length
}

/** Structural equality (same canonical bytes). */
export function valueEquals (a: Value, b: Value): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return Object.is(a, b)
  return compareValues(a, b) === 0
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** Plain-JSON rendering for `inspect`: bytes become `{ $hex: "…" }`. */
export function valueToJSON (v: Value): unknown {
  if (v instanceof Uint8Array) {
    let s = ''
    for (const b of v) s += HEX[b]
    return { $hex: s }
  }
  if (Array.isArray(v)) return v.map(valueToJSON)
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {}
    for (const k of Object.keys(v)) setMember(o as Record<string, Value>, k, valueToJSON((v as Record<string, Value>)[k]!) as Value)
    return o
  }
  return v
}
