import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { decodeWith, encodeWith } from '../../crdt/codec.ts'
import { CrdtError } from '../../crdt/errors.ts'
import { type Bounded, boundedCounterType, boundedDecrement, boundedIncrement, boundedRights, boundedTransfer, boundedType } from '../../crdt/bounded.ts'
import type { CrdtType } from '../../crdt/types.ts'
import { assertDecodeError, checkLaws } from './laws.ts'

const R = ['ra', 'rb', 'rc']
type Step =
  | { op: 'inc' | 'dec'; at: number; n: number }
  | { op: 'xfer'; at: number; to: number; n: number }
  | { op: 'merge' | 'deliver'; at: number; from: number }

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constantFrom('inc' as const, 'dec' as const), at: fc.nat(2), n: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ op: fc.constant('xfer' as const), at: fc.nat(2), to: fc.nat(2), n: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ op: fc.constantFrom('merge' as const, 'deliver' as const), at: fc.nat(2), from: fc.nat(2) }),
)

/**
 * Runs steps on 3 replicas. Ops that lack rights are refused (and must be refused with
 * insufficient_rights); `deliver` hands over one random earlier delta (so deltas arrive
 * late, twice, out of order or never); `merge` ships a whole state. Calls `check` on
 * every state after every step.
 */
function simulate (t: CrdtType<Bounded, Bounded, number>, steps: Step[], pick: number[], check: (s: Bounded) => void): Bounded[] {
  const reps = R.map(() => t.empty())
  const sent: Bounded[] = []
  let k = 0
  for (const st of steps) {
    const s = reps[st.at]!
    let d: Bounded | undefined
    try {
      if (st.op === 'inc') d = boundedIncrement(s, R[st.at]!, st.n)
      else if (st.op === 'dec') d = boundedDecrement(s, R[st.at]!, st.n)
      else if (st.op === 'xfer' && st.to !== st.at) d = boundedTransfer(s, R[st.at]!, R[st.to]!, st.n)
      else if (st.op === 'merge') t.merge(s, t.clone(reps[st.from]!))
      else if (st.op === 'deliver' && sent.length > 0) t.apply(s, sent[(pick[k++ % pick.length] ?? 0) % sent.length]!)
    } catch (err) {
      assert.ok(err instanceof CrdtError && err.code === 'insufficient_rights', String(err))
      assert.ok(boundedRights(s, R[st.at]!) < (st as { n: number }).n, 'refused only when rights are short')
    }
    if (d !== undefined) {
      t.apply(s, d)
      sent.push(d)
    }
    for (const x of reps) check(x)
  }
  return reps
}

const stateArb = fc.tuple(fc.array(stepArb, { maxLength: 25 }), fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), fc.nat(2))
  .map(([steps, pick, who]) => simulate(boundedType, steps, pick, () => {})[who]!)
const deltaArb = fc.tuple(stateArb, fc.nat(2), fc.nat(2), fc.integer({ min: 1, max: 5 }), fc.nat(2)).map(([s, i, j, n, op]) => {
  if (op === 0 || boundedRights(s, R[i]!) < n) return boundedIncrement(s, R[i]!, n)
  if (op === 1 || i === j) return boundedDecrement(s, R[i]!, n)
  return boundedTransfer(s, R[i]!, R[j]!, n)
})
checkLaws(boundedType, stateArb, deltaArb, { numRuns: 100 })

test('bounded: random ops, merges and lossy delta delivery never show a value below the bound', () => {
  for (const bound of [0, -50, 1000]) {
    const t = boundedCounterType(`bounded.test.${bound}`, bound)
    fc.assert(fc.property(fc.array(stepArb, { maxLength: 60 }), fc.array(fc.nat(), { minLength: 1, maxLength: 16 }), (steps, pick) => {
      const reps = simulate(t, steps, pick, (s) => {
        assert.ok(t.value(s) >= bound, `value ${t.value(s)} below bound ${bound}`)
        for (const r of R) assert.ok(boundedRights(s, r) >= 0)
      })
      // heal: everyone merges everyone, then all agree
      for (const a of reps) for (const b of reps) t.merge(a, t.clone(b))
      for (const a of reps) assert.ok(t.equals(a, reps[0]!))
    }), { numRuns: 150 })
  }
})

test('bounded: rights move with transfers; spending beyond them is insufficient_rights', () => {
  let a = boundedType.empty()
  const b = boundedType.empty()
  a = boundedType.apply(a, boundedIncrement(a, 'ra', 10))
  assert.throws(() => boundedDecrement(b, 'rb', 1), (e: unknown) => e instanceof CrdtError && e.code === 'insufficient_rights')
  const x = boundedTransfer(a, 'ra', 'rb', 4)
  boundedType.apply(a, x)
  boundedType.apply(b, x)
  assert.equal(boundedRights(a, 'ra'), 6)
  assert.equal(boundedRights(b, 'rb'), 4)
  boundedType.apply(b, boundedDecrement(b, 'rb', 4))
  assert.throws(() => boundedDecrement(b, 'rb', 1), (e: unknown) => e instanceof CrdtError && e.code === 'insufficient_rights')
  assert.throws(() => boundedTransfer(a, 'ra', 'rb', 7), (e: unknown) => e instanceof CrdtError && e.code === 'insufficient_rights')
  assert.throws(() => boundedTransfer(a, 'ra', 'ra', 1), (e: unknown) => e instanceof CrdtError && e.code === 'invalid_delta')
  boundedType.merge(a, b)
  assert.equal(boundedType.value(a), 6)
})

test('bounded: a forged state spending rights nobody granted is refused on decode', () => {
  const forged = encodeWith((w) => w.uint(0).uint(1).string('ra').uint(5).uint(0))
  assertDecodeError(() => decodeWith(forged, (r) => boundedType.decodeState(r)), new Set(['decode_invalid']))
  const selfXfer = encodeWith((w) => w.uint(1).string('ra').uint(5).uint(0).uint(1).string('ra').uint(1).string('ra').uint(1))
  assertDecodeError(() => decodeWith(selfXfer, (r) => boundedType.decodeState(r)), new Set(['decode_invalid']))
})
