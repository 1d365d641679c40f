import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { awMapType, type AwMap } from '../../crdt/awmap.ts'
import { decodeWith, encodeWith } from '../../crdt/codec.ts'
import { CrdtError } from '../../crdt/errors.ts'
import { gcounterIncrement, gcounterType } from '../../crdt/gcounter.ts'
import { statusLatticeType } from '../../crdt/lattice.ts'
import { lwwSet, lwwType } from '../../crdt/lww.ts'
import { recordType, type RecordDelta, type RecordState } from '../../crdt/record.ts'
import { hlcArb, valueArb } from './arbitraries.ts'
import { assertDecodeError, checkLaws } from './laws.ts'

const status = statusLatticeType('test.keystatus.v1', ['active', 'revoked'] as const)
const fields = { name: lwwType, scopes: lwwType, status, uses: gcounterType }
const apiKey = recordType('test.apikey.v1', fields)
const keys = awMapType('test.apikeys.v1', apiKey)
type KeyState = RecordState<typeof fields>
type KeyDelta = RecordDelta<typeof fields>

const R = ['ra', 'rb', 'rc']
const idArb = fc.constantFrom('k1', 'k2', 'k3')

const recStateArb = fc.array(fc.tuple(fc.nat(2), fc.nat(3), valueArb, hlcArb, fc.integer({ min: 1, max: 5 })), { maxLength: 5 }).map((ops) => {
  let s = apiKey.empty()
  for (const [at, kind, v, t, n] of ops) {
    const d: KeyDelta = kind === 0 ? { name: lwwSet(v, t, R[at]!) } : kind === 1 ? { status: status.raise(s.status, 'revoked') } : { uses: gcounterIncrement(s.uses, R[at]!, n) }
    s = apiKey.apply(s, d)
  }
  return s
})
checkLaws(apiKey, recStateArb, fc.tuple(recStateArb, valueArb, hlcArb).map(([s, v, t]): KeyDelta => ({ name: lwwSet(v, t, 'ra'), uses: gcounterIncrement(s.uses, 'rb', 1) })), { lengthPrefixed: false })

type Step = { op: 'put'; at: number; id: string; seed: number } | { op: 'rm'; at: number; id: string } | { op: 'deliver'; at: number; pick: number } | { op: 'merge'; at: number; from: number }
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), at: fc.nat(2), id: idArb, seed: fc.nat() }),
  fc.record({ op: fc.constant('rm' as const), at: fc.nat(2), id: idArb }),
  fc.record({ op: fc.constant('deliver' as const), at: fc.nat(2), pick: fc.nat() }),
  fc.record({ op: fc.constant('merge' as const), at: fc.nat(2), from: fc.nat(2) }),
)

function run (steps: Step[]): AwMap<KeyState>[] {
  const reps = R.map(() => keys.empty())
  const sent: AwMap<KeyState>[] = []
  let clock = 1
  for (const st of steps) {
    const s = reps[st.at]!
    let d: AwMap<KeyState> | undefined
    if (st.op === 'put') {
      const base = keys.valueState(s, st.id)
      const r = R[st.at]!
      const nested: KeyDelta = [
        { name: lwwSet(`n${st.seed % 5}`, { wall: clock++, logical: 0 }, r) },
        { status: status.raise(base.status, 'revoked') },
        { uses: gcounterIncrement(base.uses, r, 1 + (st.seed % 3)) },
      ][st.seed % 3]!
      d = keys.put(s, r, st.id, nested)
    } else if (st.op === 'rm') d = keys.remove(s, st.id)
    else if (st.op === 'deliver') { if (sent.length > 0) reps[st.at] = keys.apply(s, sent[st.pick % sent.length]!) }
    else reps[st.at] = keys.merge(s, reps[st.from]!)
    // apply/merge return the state to keep using (a map is one flat array, rebuilt when keys change)
    if (d !== undefined) { reps[st.at] = keys.apply(s, d); sent.push(d) }
  }
  return reps
}
const mapStateArb = fc.tuple(fc.array(stepArb, { maxLength: 16 }), fc.nat(2)).map(([steps, who]) => run(steps)[who]!)
const mapDeltaArb = fc.tuple(mapStateArb, fc.nat(2), idArb, fc.boolean(), fc.integer({ min: 1, max: 3 })).map(([s, at, id, put, n]) =>
  put ? keys.put(s, R[at]!, id, { uses: gcounterIncrement(keys.valueState(s, id).uses, R[at]!, n) }) : keys.remove(s, id))
checkLaws(keys, mapStateArb, mapDeltaArb, { numRuns: 100 })

test('awmap: a revoke always wins over a concurrent edit of the same key', () => {
  let a = keys.empty()
  let b = keys.empty()
  const create = keys.put(a, 'ra', 'k1', { name: lwwSet('ci', { wall: 1, logical: 0 }, 'ra'), scopes: lwwSet(['read'], { wall: 1, logical: 0 }, 'ra') })
  a = keys.apply(a, create)
  b = keys.apply(b, create)
  const revoke = keys.put(a, 'ra', 'k1', { status: status.raise(keys.valueState(a, 'k1').status, 'revoked') })
  a = keys.apply(a, revoke)
  const edit = keys.put(b, 'rb', 'k1', { scopes: lwwSet(['read', 'write'], { wall: 2, logical: 0 }, 'rb') }) // later timestamp, concurrent
  b = keys.apply(b, edit)
  a = keys.apply(a, edit)
  b = keys.apply(b, revoke)
  assert.ok(keys.equals(a, b))
  assert.deepEqual(keys.value(a), { k1: { name: 'ci', scopes: ['read', 'write'], status: 'revoked', uses: 0 } })
})

test('awmap: concurrent put and remove keeps the key; a remove that saw the put removes it', () => {
  let a = keys.empty()
  let b = keys.empty()
  const put1 = keys.put(a, 'ra', 'k1', { name: lwwSet('x', { wall: 1, logical: 0 }, 'ra') })
  a = keys.apply(a, put1)
  b = keys.apply(b, put1)
  const rm = keys.remove(a, 'k1')
  a = keys.apply(a, rm)
  assert.ok(!keys.has(a, 'k1'))
  assert.equal(keys.get(a, 'k1'), undefined)
  const put2 = keys.put(b, 'rb', 'k1', { uses: gcounterIncrement(keys.valueState(b, 'k1').uses, 'rb', 2) })
  b = keys.apply(b, put2)
  a = keys.apply(a, put2)
  b = keys.apply(b, rm)
  assert.deepEqual(keys.keys(a), ['k1'])
  assert.ok(keys.equals(a, b))
  // the hidden value was kept, so the key's name survives the remove/put race
  assert.equal(keys.value(a).k1!.name, 'x')
  const rm2 = keys.remove(b, 'k1')
  a = keys.apply(a, rm2)
  b = keys.apply(b, rm2)
  assert.deepEqual(keys.value(a), {})
  assert.deepEqual(keys.value(b), {})
})

test('awmap: deltas alone converge even when a remove races a put (no full-state exchange)', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(2), idArb, fc.boolean(), fc.integer({ min: 1, max: 4 })), { maxLength: 20 }), fc.array(fc.nat(), { minLength: 1 }), (ops, order) => {
    const reps = R.map(() => keys.empty())
    const sent: AwMap<KeyState>[][] = R.map(() => [])
    for (const [at, id, put, n] of ops) {
      const s = reps[at]!
      const d = put ? keys.put(s, R[at]!, id, { uses: gcounterIncrement(keys.valueState(s, id).uses, R[at]!, n) }) : keys.remove(s, id)
      reps[at] = keys.apply(s, d)
      sent[at]!.push(d)
    }
    // every replica receives every other replica's deltas, in a shuffled order
    for (let i = 0; i < R.length; i++) {
      const inbox = sent.flatMap((ds, j) => (j === i ? [] : ds))
      for (let k = inbox.length - 1; k > 0; k--) {
        const x = order[k % order.length]! % (k + 1)
        ;[inbox[k], inbox[x]] = [inbox[x]!, inbox[k]!]
      }
      for (const d of inbox) reps[i] = keys.apply(reps[i]!, d)
    }
    for (const s of reps) assert.ok(keys.equals(s, reps[0]!), JSON.stringify(reps.map((x) => keys.inspect(x))))
  }), { numRuns: 150 })
})

test('awmap/record: malformed encodings are refused', () => {
  // record delta naming a field index past the end
  assertDecodeError(() => decodeWith(encodeWith((w) => w.uint(1).uint(7).uint(0)), (r) => apiKey.decodeDelta(r)), new Set(['decode_invalid']))
  // record delta with more fields than the record has
  assertDecodeError(() => decodeWith(encodeWith((w) => w.uint(9)), (r) => apiKey.decodeDelta(r)), new Set(['decode_oversized']))
  // a removed key (no dots) with an empty value is not canonical
  const bad = encodeWith((w) => { w.uint(0).uint(0).uint(1).string('k1').uint(0); apiKey.encodeState(w, apiKey.empty()) })
  assertDecodeError(() => decodeWith(bad, (r) => keys.decodeState(r)), new Set(['decode_invalid']))
  assert.throws(() => recordType('x', Object.defineProperty({}, '__proto__', { value: lwwType, enumerable: true })), (e: unknown) => e instanceof CrdtError && e.code === 'invalid_delta')
  assert.throws(() => recordType('x', {}), (e: unknown) => e instanceof CrdtError && e.code === 'invalid_delta')
})
