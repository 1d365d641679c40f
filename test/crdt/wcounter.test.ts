import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { decodeWith, encodeWith } from '../../crdt/codec.ts'
import { CrdtError } from '../../crdt/errors.ts'
import {
  type WindowedCounter, type WindowedDelta, type WindowedIncrement, windowedEach, windowedEntry, windowedHorizon,
  windowedIncrement, windowedSize, wcounterType,
} from '../../crdt/wcounter.ts'
import { assertDecodeError, checkLaws, replicaArb } from './laws.ts'

const t = wcounterType

// Few buckets and horizons so that writes land below, at and above each other's horizons.
const incArb: fc.Arbitrary<WindowedIncrement> = fc.record({
  slot: fc.integer({ min: 0, max: 2 }),
  bucket: fc.integer({ min: 0, max: 12 }),
  n: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 1_000_000 })),
  horizon: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 10 })),
})
const opArb = fc.tuple(replicaArb, fc.uniqueArray(incArb, { selector: (i) => i.slot, minLength: 1, maxLength: 3 }))

function build (ops: Array<[string, WindowedIncrement[]]>): WindowedCounter {
  let s = t.empty()
  for (const [r, incs] of ops) {
    const d = windowedIncrement(s, r, incs)
    if (d !== undefined) s = t.apply(s, d)
  }
  return s
}

const stateArb = fc.array(opArb, { maxLength: 10 }).map(build)
const deltaArb: fc.Arbitrary<WindowedDelta> = fc.tuple(stateArb, opArb)
  .map(([s, [r, incs]]) => windowedIncrement(s, r, incs))
  .filter((d): d is WindowedDelta => d !== undefined)

checkLaws(t, stateArb, deltaArb)

const enc = (s: WindowedCounter): Uint8Array => encodeWith((w) => t.encodeState(w, s))
const dec = (b: Uint8Array): WindowedCounter => decodeWith(b, (r) => t.decodeState(r))

test('wcounter: every bucket kept is at or above its slot horizon, and totals add up per replica', () => {
  fc.assert(fc.property(fc.array(opArb, { maxLength: 20 }), (ops) => {
    const s = build(ops)
    for (let slot = 0; slot < 3; slot++) {
      const h = windowedHorizon(s, slot)
      assert.equal(h, Math.max(0, ...ops.flatMap(([, incs]) => incs.filter((i) => i.slot === slot).map((i) => i.horizon))))
      windowedEach(s, slot, 0, 100, (bucket, total) => {
        assert.ok(bucket >= h)
        // Every increment to a kept bucket counted, except those written while the bucket
        // was already below the horizon then in force (replayed in order here).
        let expected = 0
        let hNow = 0
        for (const [, incs] of ops) {
          for (const i of incs) {
            if (i.slot !== slot) continue
            hNow = Math.max(hNow, i.horizon)
            if (i.bucket === bucket && bucket >= hNow) expected += i.n
          }
        }
        assert.equal(total, expected)
      })
    }
  }))
})

test('wcounter: two replicas exchanging deltas twice and out of order count each increment once', () => {
  let a = t.empty()
  let b = t.empty()
  const da: WindowedDelta[] = []
  for (const n of [5, 7]) {
    const d = windowedIncrement(a, 'ra', [{ slot: 0, bucket: 100, n, horizon: 0 }, { slot: 2, bucket: 1, n, horizon: 0 }])!
    a = t.apply(a, d)
    da.push(d)
  }
  const db = windowedIncrement(b, 'rb', [{ slot: 0, bucket: 100, n: 3, horizon: 0 }])!
  b = t.apply(b, db)
  b = t.apply(t.apply(t.apply(b, da[1]!), da[0]!), da[1]!)
  a = t.apply(t.apply(a, db), db)
  assert.ok(t.equals(a, b))
  assert.equal(windowedEntry(a, 0, 100, 'ra'), 12)
  assert.deepEqual(t.value(a), [[[100, 15]], [], [[1, 12]]])
})

test('wcounter: a horizon bump drops old buckets and makes late increments for them no-ops everywhere', () => {
  let a = t.empty()
  const old = windowedIncrement(a, 'ra', [{ slot: 0, bucket: 3, n: 4, horizon: 0 }])!
  a = t.apply(a, old)
  // rb has not seen `old` yet and moves the horizon past bucket 3 while writing bucket 9.
  let b = t.empty()
  const bump = windowedIncrement(b, 'rb', [{ slot: 0, bucket: 9, n: 1, horizon: 5 }])!
  assert.equal(bump.parts[0]!.horizon, 5)
  b = t.apply(b, bump)
  b = t.apply(b, old) // late: dropped
  a = t.apply(a, bump) // drops bucket 3
  assert.ok(t.equals(a, b), JSON.stringify([t.inspect(a), t.inspect(b)]))
  assert.equal(windowedEntry(a, 0, 3, 'ra'), 0)
  assert.equal(windowedSize(a), 1)
  // A writer asked to add to an expired bucket produces no increment; with no new horizon, no delta.
  assert.equal(windowedIncrement(a, 'ra', [{ slot: 0, bucket: 4, n: 1, horizon: 5 }]), undefined)
  // The horizon is only carried when it raises the state's.
  const d = windowedIncrement(a, 'ra', [{ slot: 0, bucket: 9, n: 1, horizon: 5 }])!
  assert.deepEqual(d.parts, [{ slot: 0, bucket: 9, value: 1, horizon: 0 }])
})

test('wcounter: writing across many windows keeps at most the retained buckets (state stays bounded)', () => {
  const retention = [120, 168, 90]
  const size = [1, 60, 1440] // minutes per bucket
  let s = t.empty()
  let maxBytes = 0
  for (let minute = 0; minute < 20 * 1440; minute += 7) {
    const incs = [0, 1, 2].map((slot) => {
      const bucket = Math.floor(minute / size[slot]!)
      return { slot, bucket, n: 3, horizon: Math.max(0, bucket - retention[slot]! + 1) }
    })
    s = t.apply(s, windowedIncrement(s, minute % 2 === 0 ? 'ra' : 'rb', incs)!)
    maxBytes = Math.max(maxBytes, enc(s).length)
  }
  for (let slot = 0; slot < 3; slot++) {
    let n = 0
    windowedEach(s, slot, 0, Number.MAX_SAFE_INTEGER, () => { n++ })
    assert.ok(n <= retention[slot]!, `slot ${slot} holds ${n} buckets`)
  }
  // 20 days of writes every 7 minutes: the minute slot holds its last ~2 hours only.
  assert.ok(windowedSize(s) <= 120 / 7 + 1 + 168 + 20, `size ${windowedSize(s)}`)
  assert.ok(maxBytes < 8_000, `encoded state reached ${maxBytes} bytes`)
})

test('wcounter: inspect shows each replica\'s contribution per bucket and the horizons', () => {
  let s = t.empty()
  s = t.apply(s, windowedIncrement(s, 'ra', [{ slot: 1, bucket: 40, n: 2, horizon: 30 }])!)
  s = t.apply(s, windowedIncrement(s, 'rb', [{ slot: 1, bucket: 40, n: 5, horizon: 0 }])!)
  assert.deepEqual(t.inspect(s), {
    slots: [{ horizon: 0, buckets: {} }, { horizon: 30, buckets: { 40: { entries: { ra: 2, rb: 5 }, total: 7 } } }],
  })
})

test('wcounter: bad increments are refused with invalid_delta', () => {
  const bad: WindowedIncrement[][] = [
    [{ slot: 0, bucket: 1, n: 0, horizon: 0 }],
    [{ slot: 0, bucket: 1, n: 1.5, horizon: 0 }],
    [{ slot: 0, bucket: -1, n: 1, horizon: 0 }],
    [{ slot: 8, bucket: 1, n: 1, horizon: 0 }],
    [{ slot: 0, bucket: 1, n: 1, horizon: 0 }, { slot: 0, bucket: 2, n: 1, horizon: 0 }],
  ]
  for (const incs of bad) {
    assert.throws(() => windowedIncrement(t.empty(), 'ra', incs), (e: unknown) => e instanceof CrdtError && e.code === 'invalid_delta')
  }
})

test('wcounter: non-canonical encodings are refused (trailing empty slot, empty counter, unused or unordered keys, delta slots out of order)', () => {
  // slots, key table, then per slot: horizon, bucket count, (gap, entry count, (key index, total)…)…
  assert.deepEqual(t.value(dec(Uint8Array.of(1, 1, 1, 97, 0, 1, 3, 1, 0, 5))), [[[3, 5]]]) // the well-formed baseline
  assertDecodeError(() => dec(Uint8Array.of(1, 0, 0, 0)), new Set(['decode_invalid'])) // one empty slot
  assertDecodeError(() => dec(Uint8Array.of(1, 1, 1, 97, 0, 1, 0, 0)), new Set(['decode_invalid'])) // bucket 0 with an empty counter
  assertDecodeError(() => dec(Uint8Array.of(1, 2, 1, 97, 1, 98, 0, 1, 3, 1, 0, 5)), new Set(['decode_invalid'])) // key "b" never used
  assertDecodeError(() => dec(Uint8Array.of(1, 2, 1, 98, 1, 97, 0, 1, 3, 2, 0, 5, 1, 5)), new Set(['decode_invalid'])) // keys not ascending
  assertDecodeError(() => dec(Uint8Array.of(1, 1, 1, 97, 0, 1, 3, 1, 0, 0)), new Set(['decode_invalid'])) // a zero total
  const decD = (b: Uint8Array): WindowedDelta => decodeWith(b, (r) => t.decodeDelta(r))
  // key "a", parts: (slot << 2 | horizon? << 1 | value?), [value, bucket], [horizon: bucket - it, or as is]
  assert.deepEqual(decD(Uint8Array.of(1, 97, 2, 3, 5, 9, 4, 6, 7)), { key: 'a', parts: [{ slot: 0, bucket: 9, value: 5, horizon: 7 }, { slot: 1, bucket: 0, value: 0, horizon: 7 }] })
  // slot 1 then slot 0
  assertDecodeError(() => decD(Uint8Array.of(1, 97, 2, 5, 5, 9, 1, 5, 9)), new Set(['decode_invalid']))
  // a part that adds nothing and raises nothing
  assertDecodeError(() => decD(Uint8Array.of(1, 97, 1, 0)), new Set(['decode_invalid']))
  // a horizon at or below 0
  assertDecodeError(() => decD(Uint8Array.of(1, 97, 1, 3, 5, 9, 18)), new Set(['decode_invalid']))
})
