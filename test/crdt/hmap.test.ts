// Horizon-bounded grow-only map: the CRDT laws, and that the horizon really bounds the
// state (entries below it are gone everywhere, late puts are no-ops on every replica).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { decodeWith, encodeWith } from '../../crdt/codec.ts'
import { CrdtError } from '../../crdt/errors.ts'
import { type HorizonMap, hmapGet, hmapHorizon, hmapPut, hmapRaise, hmapSize, hmapTime, hmapType } from '../../crdt/hmap.ts'
import { valueArb } from './arbitraries.ts'
import { assertDecodeError, checkLaws } from './laws.ts'

const t = hmapType

const idArb = fc.constantFrom('a', 'b', 'c', 'ev:1', 'ev:2', 'é', '')
// Few times and horizons so that puts land below, at and above each other's horizons, and
// one id gets two entries (same time with different values, or different times).
const timeArb = fc.integer({ min: 0, max: 12 })
const horizonArb = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 10 }))
const deltaArb: fc.Arbitrary<HorizonMap> = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(idArb, timeArb, fc.oneof(valueArb, fc.constantFrom(1, 2)), horizonArb).map(([id, at, v, h]) => hmapPut(id, at, v, h)) },
  { weight: 1, arbitrary: horizonArb.map(hmapRaise) },
)
const build = (ds: HorizonMap[]): HorizonMap => ds.reduce((s, d) => t.apply(s, d), t.empty())
const stateArb = fc.array(deltaArb, { maxLength: 8 }).map(build)

checkLaws(t, stateArb, deltaArb)

const enc = (s: HorizonMap): Uint8Array => encodeWith((w) => t.encodeState(w, s))
const dec = (b: Uint8Array): HorizonMap => decodeWith(b, (r) => t.decodeState(r))

test('hmap: the horizon is the largest raised; every kept entry is at or above it; each id keeps its latest put', () => {
  const putArb = fc.tuple(idArb, timeArb, fc.integer({ min: 0, max: 3 }), horizonArb)
  fc.assert(fc.property(fc.array(putArb, { maxLength: 20 }), (puts) => {
    const s = build(puts.map(([id, at, v, h]) => hmapPut(id, at, v, h)))
    const h = Math.max(0, ...puts.map((p) => p[3]))
    assert.equal(hmapHorizon(s), h)
    for (const id of new Set(puts.map((p) => p[0]))) {
      const mine = puts.filter((p) => p[0] === id && p[1] >= h)
      if (mine.length === 0) { assert.equal(hmapGet(s, id), undefined); continue }
      const at = Math.max(...mine.map((p) => p[1]))
      assert.equal(hmapTime(s, id), at)
      // On a tie in time, the smaller encoding (here: the smaller integer) wins.
      assert.equal(hmapGet(s, id), Math.min(...mine.filter((p) => p[1] === at).map((p) => p[2])))
    }
    assert.equal(hmapSize(s), new Set(puts.filter((p) => hmapGet(s, p[0]) !== undefined).map((p) => p[0])).size)
  }))
})

test('hmap: raising the horizon drops older entries; a late put below it is a no-op on every replica, whatever the order', () => {
  let a = t.empty()
  let b = t.empty()
  const early = hmapPut('e1', 100, { type: 'created' })
  const late = hmapPut('e2', 500, { type: 'revoked' }, 300)
  a = t.apply(t.apply(a, early), late)
  b = t.apply(t.apply(b, late), early) // the old entry arrives after the horizon: dropped
  assert.ok(t.equals(a, b))
  assert.deepEqual(t.value(a), [['e2', { type: 'revoked' }]])
  assert.equal(hmapHorizon(a), 300)
  // A put stamped below the horizon changes nothing.
  const stale = hmapPut('e3', 299, 'x')
  assert.ok(t.equals(t.apply(t.clone(a), stale), a))
  assert.deepEqual(hmapPut('e3', 299, 'x', 300), [300])
  // Bounded: a writer putting one entry per tick with horizon = tick - 10 keeps ≤ 11.
  let s = t.empty()
  for (let tick = 0; tick < 1000; tick++) s = t.apply(s, hmapPut(`k${tick}`, tick, tick, Math.max(0, tick - 10)))
  assert.equal(hmapSize(s), 11)
  assert.equal(hmapGet(s, 'k989'), 989)
  assert.equal(hmapGet(s, 'k988'), undefined)
})

test('hmap: invalid puts and non-canonical encodings are refused with codes', () => {
  for (const bad of [() => hmapPut('x', -1, 1), () => hmapPut('x', 1.5, 1), () => hmapPut('x', 1, Number.NaN), () => hmapRaise(-3)]) {
    assert.throws(bad, (e: unknown) => e instanceof CrdtError && e.code === 'invalid_delta')
  }
  // An entry below the horizon, or ids out of order, is not a state this type produces.
  assertDecodeError(() => dec(encodeWith((w) => { w.uint(1).uint(5).string('a').uint(4); w.uint(0) })), new Set(['decode_invalid']))
  const two = enc(build([hmapPut('a', 1, 1), hmapPut('b', 1, 1)]))
  const swapped = encodeWith((w) => { w.uint(2).uint(0).string('b').uint(1); w.raw(two.subarray(-2)); w.string('a').uint(1); w.raw(two.subarray(-2)) })
  assertDecodeError(() => dec(swapped), new Set(['decode_invalid']))
  assert.ok(t.equals(dec(two), build([hmapPut('b', 1, 1), hmapPut('a', 1, 1)])))
})
