import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { decodeWith, encodeWith } from '../../crdt/codec.ts'
import { type AwSet, awsetAdd, awsetHas, awsetRemove, awsetSize, awsetType } from '../../crdt/awset.ts'
import { ccAdd, ccContains, ccEmpty, ccJoin, ccMax } from '../../crdt/dots.ts'
import { assertDecodeError, checkLaws } from './laws.ts'

const R = ['ra', 'rb', 'rc']
const elArb = fc.constantFrom('x', 'y', 'z', 'agent:1')
type Step = { op: 'add' | 'rm'; at: number; el: string } | { op: 'deliver'; at: number; pick: number } | { op: 'merge'; at: number; from: number }
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constantFrom('add' as const, 'rm' as const), at: fc.nat(2), el: elArb }),
  fc.record({ op: fc.constant('deliver' as const), at: fc.nat(2), pick: fc.nat() }),
  fc.record({ op: fc.constant('merge' as const), at: fc.nat(2), from: fc.nat(2) }),
)

/** 3 replicas; deltas delivered late, twice, out of order or never; full-state merges. */
function run (steps: Step[]): { reps: AwSet[]; sent: AwSet[] } {
  const reps = R.map(() => awsetType.empty())
  const sent: AwSet[] = []
  for (const st of steps) {
    const s = reps[st.at]!
    if (st.op === 'add' || st.op === 'rm') {
      const d = st.op === 'add' ? awsetAdd(s, R[st.at]!, st.el) : awsetRemove(s, st.el)
      awsetType.apply(s, d)
      sent.push(d)
    } else if (st.op === 'deliver') {
      if (sent.length > 0) awsetType.apply(s, sent[st.pick % sent.length]!)
    } else if (st.op === 'merge') awsetType.merge(s, reps[st.from]!)
  }
  return { reps, sent }
}

const stateArb = fc.tuple(fc.array(stepArb, { maxLength: 20 }), fc.nat(2)).map(([steps, who]) => run(steps).reps[who]!)
const deltaArb = fc.tuple(stateArb, fc.nat(2), elArb, fc.boolean()).map(([s, at, el, add]) => (add ? awsetAdd(s, R[at]!, el) : awsetRemove(s, el)))
checkLaws(awsetType, stateArb, deltaArb)

test('awset: concurrent add and remove of the same element → present (add wins)', () => {
  const a = awsetType.empty()
  const b = awsetType.empty()
  const add0 = awsetAdd(a, 'ra', 'x')
  awsetType.apply(a, add0)
  awsetType.apply(b, add0)
  const rm = awsetRemove(a, 'x') // a removes what it saw …
  awsetType.apply(a, rm)
  const readd = awsetAdd(b, 'rb', 'x') // … while b re-adds concurrently
  awsetType.apply(b, readd)
  awsetType.apply(a, readd)
  awsetType.apply(b, rm)
  assert.ok(awsetHas(a, 'x') && awsetHas(b, 'x'))
  assert.ok(awsetType.equals(a, b))
  // a remove that has seen the re-add does remove it
  const rm2 = awsetRemove(a, 'x')
  awsetType.apply(a, rm2)
  awsetType.apply(b, rm2)
  assert.ok(!awsetHas(a, 'x') && !awsetHas(b, 'x'))
  assert.deepEqual(awsetType.value(a), [])
})

test('awset: re-adding an element replaces its dots (state does not grow)', () => {
  const a = awsetType.empty()
  const b = awsetType.empty()
  awsetType.apply(a, awsetAdd(a, 'ra', 'x'))
  awsetType.apply(b, awsetType.clone(a))
  const size = () => encodeWith((w) => awsetType.encodeState(w, a)).length
  const sizes: number[] = []
  for (let i = 0; i < 200; i++) {
    // alternate replicas re-adding, exchanging deltas both ways
    const [s, o, r] = i % 2 ? [a, b, 'ra'] : [b, a, 'rb']
    const d = awsetAdd(s, r, 'x')
    awsetType.apply(s, d)
    awsetType.apply(o, d)
    sizes.push(size())
  }
  assert.equal(awsetSize(a), 1)
  assert.equal((a.e[1] as unknown[]).length, 2, 'exactly one dot left')
  assert.ok(sizes[199]! <= sizes[1]! + 2, `state grew: ${sizes[1]} → ${sizes[199]} bytes`)
  assert.ok(awsetType.equals(a, b))
})

test('awset: with sequential delivery the set matches a plain Set model', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(2), elArb), { maxLength: 30 }), (ops) => {
    const s = awsetType.empty()
    const model = new Set<string>()
    for (const [add, at, el] of ops) {
      awsetType.apply(s, add ? awsetAdd(s, R[at]!, el) : awsetRemove(s, el))
      if (add) model.add(el)
      else model.delete(el)
    }
    assert.deepEqual(awsetType.value(s), [...model].sort())
  }))
})

test('awset: after healing, all replicas agree (lossy delivery then full merges)', () => {
  fc.assert(fc.property(fc.array(stepArb, { maxLength: 40 }), (steps) => {
    const { reps } = run(steps)
    for (const a of reps) for (const b of reps) awsetType.merge(a, b)
    for (const a of reps) assert.ok(awsetType.equals(a, reps[0]!))
  }))
})

test('causal context: cloud folds into the vector when gaps fill', () => {
  const cc = ccEmpty()
  ccAdd(cc, 'ra', 3)
  ccAdd(cc, 'ra', 2)
  assert.equal(ccMax(cc, 'ra'), 3)
  assert.ok(!ccContains(cc, 'ra', 1) && ccContains(cc, 'ra', 2))
  ccAdd(cc, 'ra', 1)
  assert.deepEqual(cc, { vv: ['ra', 3], cloud: [] })
  const other = ccEmpty()
  ccAdd(other, 'ra', 5)
  ccJoin(cc, other)
  assert.deepEqual(cc, { vv: ['ra', 3], cloud: ['ra', [5]] })
})

test('awset: decoding refuses dots outside the context and non-canonical clouds', () => {
  const dec = (b: Uint8Array) => decodeWith(b, (r) => awsetType.decodeState(r))
  const codes = new Set(['decode_invalid'])
  // vv {ra:1}, no cloud, element x with dot ra:2 (never seen)
  assertDecodeError(() => dec(encodeWith((w) => w.uint(1).string('ra').uint(1).uint(0).uint(1).string('x').uint(1).string('ra').uint(2))), codes)
  // cloud dot contiguous with vv (should have been folded)
  assertDecodeError(() => dec(encodeWith((w) => w.uint(1).string('ra').uint(1).uint(1).string('ra').uint(1).uint(2).uint(0))), codes)
  // element with no dots
  assertDecodeError(() => dec(encodeWith((w) => w.uint(0).uint(0).uint(1).string('x').uint(0))), codes)
})
