import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { decodeWith, encodeWith } from '../../crdt/codec.ts'
import { CrdtError } from '../../crdt/errors.ts'
import { type GCounter, gcounterEntry, gcounterIncrement, gcounterType } from '../../crdt/gcounter.ts'
import { type PnCounter, pnDecrementKey, pnEntry, pnGrant, pnIncrementKey, pncounterType, pnTotals } from '../../crdt/pncounter.ts'
import { assertDecodeError, checkLaws, replicaArb } from './laws.ts'

const amount = fc.integer({ min: 1, max: 1_000_000 })

// Small amounts too: one-entry counters at small totals are shared frozen arrays.
const gOps = fc.array(fc.tuple(replicaArb, fc.oneof(fc.integer({ min: 1, max: 20 }), amount)), { maxLength: 12 })
const gState: fc.Arbitrary<GCounter> = gOps.map((ops) => {
  let s = gcounterType.empty()
  for (const [r, n] of ops) s = gcounterType.apply(s, gcounterIncrement(s, r, n))
  return s
})
const gDelta = fc.tuple(gState, replicaArb, amount).map(([s, r, n]) => gcounterIncrement(s, r, n))
checkLaws(gcounterType, gState, gDelta)

const keyArb = fc.oneof(replicaArb, fc.constantFrom('grant:cs_1', 'grant:cs_2', 'grant:evt_9'))
const pnOps = fc.array(fc.tuple(fc.boolean(), keyArb, amount), { maxLength: 12 })
const pnState: fc.Arbitrary<PnCounter> = pnOps.map((ops) => {
  const s = pncounterType.empty()
  for (const [inc, k, n] of ops) pncounterType.apply(s, inc ? pnIncrementKey(s, k, n) : pnDecrementKey(s, k, n))
  return s
})
const pnDelta = fc.tuple(pnState, fc.boolean(), keyArb, amount).map(([s, inc, k, n]) => (inc ? pnIncrementKey(s, k, n) : pnDecrementKey(s, k, n)))
checkLaws(pncounterType, pnState, pnDelta)

test('gcounter: value is the sum of every increment, per-key entries readable', () => {
  fc.assert(fc.property(gOps, (ops) => {
    let s = gcounterType.empty()
    for (const [r, n] of ops) s = gcounterType.apply(s, gcounterIncrement(s, r, n))
    assert.equal(gcounterType.value(s), ops.reduce((a, [, n]) => a + n, 0))
    for (const r of ['ra', 'rb']) assert.equal(gcounterEntry(s, r), ops.filter(([x]) => x === r).reduce((a, [, n]) => a + n, 0))
  }))
})

test('gcounter: increments at two replicas, exchanged as deltas twice and out of order, sum once', () => {
  // apply returns the state to keep (a new array when a key is added)
  let a = gcounterType.empty()
  let b = gcounterType.empty()
  const da = [gcounterIncrement(a, 'ra', 5)]
  a = gcounterType.apply(a, da[0]!)
  da.push(gcounterIncrement(a, 'ra', 7))
  a = gcounterType.apply(a, da[1]!)
  const db = gcounterIncrement(b, 'rb', 3)
  b = gcounterType.apply(b, db)
  for (const d of [da[1]!, da[0]!, da[1]!]) b = gcounterType.apply(b, d)
  a = gcounterType.apply(a, db)
  a = gcounterType.apply(a, db)
  assert.equal(gcounterType.value(a), 15)
  assert.ok(gcounterType.equals(a, b))
})

test('gcounter: non-positive, fractional or overflowing amounts are invalid_delta', () => {
  let s = gcounterType.empty()
  for (const n of [0, -1, 1.5, Number.NaN, 2 ** 53]) {
    assert.throws(() => gcounterIncrement(s, 'ra', n), (e: unknown) => e instanceof CrdtError && e.code === 'invalid_delta')
  }
  s = gcounterType.apply(s, gcounterIncrement(s, 'ra', 2 ** 53 - 2))
  assert.throws(() => gcounterIncrement(s, 'ra', 5), (e: unknown) => e instanceof CrdtError && e.code === 'invalid_delta')
})

test('pncounter: a grant received by two nodes counts once; spends per replica', () => {
  const a = pncounterType.empty()
  const b = pncounterType.empty()
  const grant = pnGrant('cs_test_123', 1000)
  pncounterType.apply(a, grant)
  pncounterType.apply(b, pnGrant('cs_test_123', 1000)) // the same webhook delivered to b too
  const sa = pnDecrementKey(a, 'ra', 300)
  pncounterType.apply(a, sa)
  const sb = pnDecrementKey(b, 'rb', 200)
  pncounterType.apply(b, sb)
  pncounterType.apply(a, sb)
  pncounterType.apply(b, sa)
  pncounterType.apply(b, grant)
  assert.equal(pncounterType.value(a), 500)
  assert.ok(pncounterType.equals(a, b))
  assert.equal(pnEntry(a, 'p', 'cs_test_123'), 1000)
  assert.equal(pnEntry(a, 'n', 'ra'), 300)
  assert.equal(pnEntry(a, 'n', 'nobody'), 0)
  assert.deepEqual(pnTotals(a), { p: 1000, n: 500 })
})

test('pncounter: value = Σincrements − Σdecrements, can go negative', () => {
  fc.assert(fc.property(pnOps, (ops) => {
    const s = pncounterType.empty()
    let expect = 0
    for (const [inc, k, n] of ops) {
      pncounterType.apply(s, inc ? pnIncrementKey(s, k, n) : pnDecrementKey(s, k, n))
      expect += inc ? n : -n
    }
    assert.equal(pncounterType.value(s), expect)
  }))
})

test('counters: non-canonical encodings are refused (unsorted keys, zero entries, bad side)', () => {
  const dupKeys = encodeWith((w) => w.uint(2).string('b').uint(1).string('a').uint(1))
  assertDecodeError(() => decodeWith(dupKeys, (r) => gcounterType.decodeState(r)), new Set(['decode_invalid']))
  const zero = encodeWith((w) => w.uint(1).string('a').uint(0))
  assertDecodeError(() => decodeWith(zero, (r) => gcounterType.decodeState(r)), new Set(['decode_invalid']))
  const side = encodeWith((w) => w.u8(2).string('a').uint(1))
  assertDecodeError(() => decodeWith(side, (r) => pncounterType.decodeDelta(r)), new Set(['decode_invalid']))
  const huge = encodeWith((w) => w.uint(2 ** 40))
  assertDecodeError(() => decodeWith(huge, (r) => gcounterType.decodeState(r)), new Set(['decode_oversized']))
})

test('gcounter: one-entry counters at small totals are shared frozen arrays; changing one never changes another holder', () => {
  const a = gcounterType.apply(gcounterType.empty(), { key: 'ra', value: 3 })
  const b = gcounterType.apply(gcounterType.clone(gcounterType.empty()), decodeWith(encodeWith((w) => gcounterType.encodeDelta(w, { key: 'ra', value: 3 })), (r) => gcounterType.decodeDelta(r)))
  assert.equal(a, b, 'equal small counters are one array')
  assert.ok(Object.isFrozen(a))
  // Raising a shared counter (through clone, merge or apply in place) copies it.
  const up = gcounterType.apply(gcounterType.clone(a), { key: 'ra', value: 5 })
  const merged = gcounterType.merge(a, gcounterType.deltaState({ key: 'rb', value: 1 }))
  const big = gcounterType.apply(b, { key: 'ra', value: 1000 })
  assert.equal(gcounterType.value(up), 5)
  assert.equal(gcounterType.value(merged), 4)
  assert.equal(gcounterType.value(big), 1000)
  assert.equal(gcounterType.value(a), 3)
  assert.equal(gcounterType.value(b), 3)
  assert.ok(!Object.isFrozen(big), 'large totals are not shared')
  assert.deepEqual(encodeWith((w) => gcounterType.encodeState(w, a)), encodeWith((w) => gcounterType.encodeState(w, ['ra', 3])))
})
