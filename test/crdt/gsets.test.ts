import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { decodeWith, encodeWith } from '../../crdt/codec.ts'
import { CrdtError } from '../../crdt/errors.ts'
import { type GMap, gmapGet, gmapPut, gmapSize, gmapType } from '../../crdt/gmap.ts'
import { type GSet, gsetAdd, gsetHas, gsetType } from '../../crdt/gset.ts'
import { valueBytes } from '../../crdt/value-codec.ts'
import { valueArb } from './arbitraries.ts'
import { assertDecodeError, checkLaws } from './laws.ts'

const elemArb = fc.constantFrom('a', 'b', 'c', 'grant:1', 'grant:2', 'é', '')
const gsetState: fc.Arbitrary<GSet> = fc.array(elemArb, { maxLength: 6 }).map((xs) => xs.reduce((s, e) => gsetType.apply(s, gsetAdd(e)), gsetType.empty()))
checkLaws(gsetType, gsetState, elemArb.map(gsetAdd))

const gmapDelta = fc.tuple(elemArb, valueArb).map(([id, v]) => gmapPut(id, v))
const gmapState: fc.Arbitrary<GMap> = fc.array(gmapDelta, { maxLength: 5 }).map((ds) => ds.reduce((s, d) => gmapType.apply(s, d), gmapType.empty()))
checkLaws(gmapType, gmapState, gmapDelta)

test('gset: union of everything added, in sorted order, whatever the order of adds', () => {
  fc.assert(fc.property(fc.array(elemArb, { maxLength: 10 }), (xs) => {
    const s = xs.reduce((acc, e) => gsetType.apply(acc, gsetAdd(e)), gsetType.empty())
    assert.deepEqual([...gsetType.value(s)], [...new Set(xs)].sort())
    for (const e of xs) assert.ok(gsetHas(s, e))
    assert.ok(!gsetHas(s, 'zzz'))
  }))
  assertDecodeError(() => decodeWith(encodeWith((w) => w.uint(2).string('b').string('a')), (r) => gsetType.decodeState(r)), new Set(['decode_invalid']))
})

test('gmap: an id keeps one value; a conflicting second value resolves to the smaller encoding everywhere', () => {
  const x = gmapPut('grant:1', { amount: 100, source: 'checkout' })
  const y = gmapPut('grant:1', { amount: 100, source: 'admin' })
  const a = gmapType.apply(gmapType.apply(gmapType.empty(), x), y)
  const b = gmapType.apply(gmapType.apply(gmapType.empty(), y), x)
  assert.ok(gmapType.equals(a, b))
  assert.equal(gmapSize(a), 1)
  const winner = Buffer.compare(valueBytes({ amount: 100, source: 'checkout' }), valueBytes({ amount: 100, source: 'admin' })) < 0 ? 'checkout' : 'admin'
  assert.deepEqual(gmapGet(a, 'grant:1'), { amount: 100, source: winner })
  assert.equal(gmapGet(a, 'grant:2'), undefined)
  assert.throws(() => gmapPut('x', Number.NaN), (e: unknown) => e instanceof CrdtError && e.code === 'invalid_delta')
})
