import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { decodeWith, encodeWith } from '../../crdt/codec.ts'
import { CrdtError } from '../../crdt/errors.ts'
import { compareHlc, decodeHlc, encodeHlc, type Hlc, HlcClock } from '../../crdt/hlc.ts'
import { decodeVv, encodeVv, type VersionVector, vvDominates, vvEquals, vvFromJSON, vvMeet, vvMerge, vvMissing, vvToJSON } from '../../crdt/version-vector.ts'

test('hlc: now() is strictly monotonic even when the wall clock stalls or goes back', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 1, maxLength: 50 }), (steps) => {
    let wall = 1_000
    const clock = new HlcClock(() => wall)
    let prev: Hlc = clock.now()
    for (const s of steps) {
      wall += s
      const t = clock.now()
      assert.ok(compareHlc(t, prev) > 0, `${JSON.stringify(t)} after ${JSON.stringify(prev)}`)
      prev = t
    }
  }))
})

test('hlc: observe() orders later local events after every remote timestamp seen', () => {
  fc.assert(fc.property(fc.array(fc.record({ wall: fc.integer({ min: 0, max: 2_000 }), logical: fc.nat(5) }), { maxLength: 20 }), (remotes) => {
    const clock = new HlcClock(() => 1_000, 60_000)
    for (const r of remotes) {
      const seen = clock.observe(r)
      assert.ok(compareHlc(seen, r) > 0)
      assert.ok(compareHlc(clock.now(), seen) > 0)
      assert.ok(compareHlc(clock.peek(), r) > 0)
    }
  }))
})

test('hlc: a remote clock too far ahead is refused and not adopted', () => {
  const clock = new HlcClock(() => 1_000, 500)
  const before = clock.now()
  assert.throws(() => clock.observe({ wall: 1_501, logical: 0 }), (e: unknown) => e instanceof CrdtError && e.code === 'invalid_delta')
  assert.deepEqual(clock.peek(), before)
  assert.equal(clock.observe({ wall: 1_500, logical: 7 }).wall, 1_500) // at the limit: adopted
})

test('hlc: encoding round-trips', () => {
  fc.assert(fc.property(fc.record({ wall: fc.maxSafeNat(), logical: fc.maxSafeNat() }), (t) => {
    const back = decodeWith(encodeWith((w) => encodeHlc(w, t)), decodeHlc)
    assert.equal(compareHlc(back, t), 0)
  }))
})

const vvArb: fc.Arbitrary<VersionVector> = fc.dictionary(fc.constantFrom('ra', 'rb', 'rc', 'rd'), fc.integer({ min: 1, max: 20 })).map((o) => new Map(Object.entries(o)))

test('version vector: merge is a join, meet is what all have seen', () => {
  fc.assert(fc.property(vvArb, vvArb, vvArb, (a, b, c) => {
    const ab = vvMerge(new Map(a), b)
    assert.ok(vvDominates(ab, a) && vvDominates(ab, b))
    assert.ok(vvEquals(ab, vvMerge(new Map(b), a)))
    assert.ok(vvEquals(vvMerge(new Map(ab), c), vvMerge(new Map(a), vvMerge(new Map(b), c))))
    const m = vvMeet([a, b, c])
    for (const v of [a, b, c]) assert.ok(vvDominates(v, m))
    assert.equal(vvMissing(ab, a), [...ab].reduce((n, [r, s]) => n + s - (a.get(r) ?? 0), 0))
    assert.equal(vvMissing(a, ab), 0)
  }))
})

test('version vector: canonical encoding and JSON round-trip', () => {
  fc.assert(fc.property(vvArb, (a) => {
    const bytes = encodeWith((w) => encodeVv(w, a))
    assert.ok(vvEquals(decodeWith(bytes, decodeVv), a))
    const reversed = new Map([...a].reverse())
    assert.deepEqual(encodeWith((w) => encodeVv(w, reversed)), bytes)
    assert.ok(vvEquals(vvFromJSON(vvToJSON(a)), a))
  }))
})
