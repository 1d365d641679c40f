// Shared property tests every crdt/ type must pass (imported by the per-type test files).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { decodeWith, encodeWith } from '../../crdt/codec.ts'
import { CrdtError } from '../../crdt/errors.ts'
import type { CrdtType } from '../../crdt/types.ts'

const DECODE_CODES = new Set(['decode_truncated', 'decode_invalid', 'decode_oversized'])

/** Asserts `fn` throws a CrdtError whose code is one of `codes` (default: any decode code). */
export function assertDecodeError (fn: () => unknown, codes: Set<string> = DECODE_CODES): void {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof CrdtError, `expected CrdtError, got ${String(err)}`)
    assert.ok(codes.has(err.code), `unexpected code ${err.code}`)
    return
  }
  assert.fail('expected a decode error, decoding succeeded')
}

export interface LawOptions {
  numRuns?: number
  /** The state encoding starts with a length/count (so a huge prefix must be refused). Default true. */
  lengthPrefixed?: boolean
}

/**
 * Registers the algebraic, delta and codec laws for `t` as node:test cases.
 * `states` must produce reachable states (built by the type's own operations).
 */
export function checkLaws<S, D> (t: CrdtType<S, D, unknown>, states: fc.Arbitrary<S>, deltas: fc.Arbitrary<D>, opts: LawOptions = {}): void {
  const numRuns = opts.numRuns ?? 150
  const m = (a: S, b: S): S => t.merge(t.clone(a), b)
  const eq = (a: S, b: S): void => assert.ok(t.equals(a, b), `not equal:\n${JSON.stringify(t.inspect(a))}\n${JSON.stringify(t.inspect(b))}`)
  const encS = (s: S): Uint8Array => encodeWith((w) => t.encodeState(w, s))
  const decS = (b: Uint8Array): S => decodeWith(b, (r) => t.decodeState(r))
  const encD = (d: D): Uint8Array => encodeWith((w) => t.encodeDelta(w, d))
  const decD = (b: Uint8Array): D => decodeWith(b, (r) => t.decodeDelta(r))

  test(`${t.kind}: merge is commutative`, () => {
    fc.assert(fc.property(states, states, (a, b) => eq(m(a, b), m(b, a))), { numRuns })
  })
  test(`${t.kind}: merge is associative`, () => {
    fc.assert(fc.property(states, states, states, (a, b, c) => eq(m(m(a, b), c), m(a, m(b, c)))), { numRuns })
  })
  test(`${t.kind}: merge is idempotent and empty is its identity`, () => {
    fc.assert(fc.property(states, (a) => {
      eq(m(a, a), a)
      eq(m(a, t.empty()), a)
      eq(m(t.empty(), a), a)
    }), { numRuns })
  })
  test(`${t.kind}: merge does not alias its second argument`, () => {
    fc.assert(fc.property(states, states, (a, b) => {
      const before = encS(b)
      const out = m(a, b)
      t.merge(out, t.empty())
      assert.deepEqual(encS(b), before)
    }), { numRuns })
  })
  test(`${t.kind}: apply(s, d) equals merge(s, deltaState(d)), and is idempotent`, () => {
    fc.assert(fc.property(states, deltas, (s, d) => {
      const applied = t.apply(t.clone(s), d)
      eq(applied, m(s, t.deltaState(d)))
      eq(t.apply(t.clone(applied), d), applied)
    }), { numRuns })
  })
  test(`${t.kind}: clone is deep (mutating the clone leaves the original)`, () => {
    fc.assert(fc.property(states, states, (a, b) => {
      const before = encS(a)
      t.merge(t.clone(a), b)
      assert.deepEqual(encS(a), before)
    }), { numRuns })
  })
  test(`${t.kind}: states and deltas round-trip through the codec`, () => {
    fc.assert(fc.property(states, deltas, (s, d) => {
      const bs = encS(s)
      eq(decS(bs), s)
      assert.deepEqual(encS(decS(bs)), bs, 'encoding is canonical')
      const bd = encD(d)
      eq(t.deltaState(decD(bd)), t.deltaState(d))
      assert.deepEqual(encD(decD(bd)), bd)
      assert.deepEqual(t.value(decS(bs)), t.value(s))
      JSON.stringify(t.inspect(s)) // inspect is plain JSON
    }), { numRuns })
  })
  test(`${t.kind}: equal states encode identically (canonical encoding)`, () => {
    fc.assert(fc.property(states, states, (a, b) => {
      assert.deepEqual(encS(m(a, b)), encS(m(b, a)))
    }), { numRuns })
  })
  test(`${t.kind}: truncated encodings are refused with a decode code`, () => {
    fc.assert(fc.property(states, deltas, fc.nat(), (s, d, cut) => {
      const bs = encS(s)
      if (bs.length > 0) assertDecodeError(() => decS(bs.subarray(0, cut % bs.length)))
      const bd = encD(d)
      if (bd.length > 0) assertDecodeError(() => decD(bd.subarray(0, cut % bd.length)))
      // and one extra byte is refused too
      assertDecodeError(() => decS(Uint8Array.of(...bs, 0)))
    }), { numRuns })
  })
  test(`${t.kind}: random bytes decode to a canonical value or a decode error`, () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      for (const [dec, enc] of [[decS, encS], [(b: Uint8Array) => t.deltaState(decD(b)), encS]] as const) {
        let v: S
        try {
          v = dec(bytes)
        } catch (err) {
          assert.ok(err instanceof CrdtError && DECODE_CODES.has(err.code), `bad error ${String(err)}`)
          continue
        }
        enc(v) // a decoded value is usable
      }
    }), { numRuns: numRuns * 4 })
  })
  if (t.applyInPlace === true) {
    // Stores apply such a type's decoded deltas to their live states (no clone): a throw
    // would leave an op half applied, and a held piece of a delta would later be written.
    test(`${t.kind}: applyInPlace: decoded deltas apply to a live state without a throw, and are not held`, () => {
      fc.assert(fc.property(states, deltas, deltas, (s, d1, d2) => {
        const first = deepFreeze(decD(encD(d1)))
        let live = decS(encS(s))
        live = t.apply(live, first)
        live = t.apply(live, decD(encD(d2))) // writing into a held part of `first` throws (frozen)
        eq(live, t.apply(t.apply(t.clone(s), decD(encD(d1))), decD(encD(d2))))
      }), { numRuns })
    })
  }
  test(`${t.kind}: huge length prefixes are refused before allocation`, () => {
    fc.assert(fc.property(states, fc.integer({ min: 1, max: 6 }), (s, at) => {
      const bs = encS(s)
      // overwrite a position with a 7-byte varint of ~2^48 (longer than any real length)
      const pos = Math.min(at, bs.length)
      const huge = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f)
      const bad = Uint8Array.of(...bs.subarray(0, pos), ...huge, ...bs.subarray(pos))
      try {
        decS(bad)
      } catch (err) {
        assert.ok(err instanceof CrdtError && DECODE_CODES.has(err.code), `bad error ${String(err)}`)
      }
      if (opts.lengthPrefixed !== false) assertDecodeError(() => decS(Uint8Array.of(...huge, ...bs)), new Set(['decode_oversized']))
    }), { numRuns })
  })
}

/** Freezes `v` and everything reachable from it (typed arrays cannot be frozen: left as is). */
function deepFreeze<T> (v: T): T {
  if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v) || Object.isFrozen(v)) return v
  for (const x of Object.values(v as object)) deepFreeze(x)
  return Object.freeze(v)
}

/** Replica ids used by generators: few, so entries collide and merges do real work. */
export const replicaArb = fc.constantFrom('ra', 'rb', 'rc', 'rd')
