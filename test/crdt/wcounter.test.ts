import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { decodeWith, encodeWith } from '../../crdt/codec.ts'
import { CrdtError } from '../../crdt/errors.ts'
import {
  type WindowedCounter, type WindowedDelta, type WindowedIncrement, windowedEach, windowedEntry, windowedHorizon,
  ownerOf, windowedHorizons, windowedIncrement, windowedSize, wcounterType,
} from '../../crdt/wcounter.ts'
import { assertDecodeError, checkLaws } from './laws.ts'

const t = wcounterType

// Few buckets and horizons so that writes land below, at and above each other's horizons.
const incArb: fc.Arbitrary<WindowedIncrement> = fc.record({
  slot: fc.integer({ min: 0, max: 2 }),
  bucket: fc.integer({ min: 0, max: 12 }),
  n: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 1_000_000 })),
  horizon: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 10 })),
})
// Few replicas, and copies `name@replica` of shared names, so that entries and horizons collide.
const KEYS = ['ra', 'rb', 'rc', 'rd', 'x@ra', 'x@rb', 'y@rc']
const keyArb = fc.constantFrom(...KEYS)
const opArb = fc.tuple(keyArb, fc.uniqueArray(incArb, { selector: (i) => i.slot, minLength: 1, maxLength: 3 }))

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

/** The second highest of `hs` (ties count twice), 0 when fewer than two: the model of the shared horizon. */
function second (hs: number[]): number {
  const sorted = [...hs].sort((a, b) => b - a)
  return sorted.length < 2 ? 0 : sorted[1]!
}

test('wcounter: each replica\'s entries (and its copies) are kept from max(its own horizon, the second highest) up; totals add up per replica, each copied name once', () => {
  fc.assert(fc.property(fc.array(opArb, { maxLength: 20 }), (ops) => {
    const s = build(ops)
    for (let slot = 0; slot < 3; slot++) {
      // Model: every replica's largest horizon (a copy's horizon is its replica's), and every
      // increment that was not already below its key's threshold when written (replayed in order).
      const own = new Map<string, number>()
      const threshold = (k: string): number => Math.max(own.get(ownerOf(k)) ?? 0, second([...own.values()]))
      const counted = new Map<string, number>()
      for (const [k, incs] of ops) {
        const i = incs.find((x) => x.slot === slot)
        if (i === undefined) continue
        if (i.bucket >= Math.max(threshold(k), i.horizon)) counted.set(`${i.bucket}/${k}`, (counted.get(`${i.bucket}/${k}`) ?? 0) + i.n)
        own.set(ownerOf(k), Math.max(own.get(ownerOf(k)) ?? 0, i.horizon))
      }
      assert.equal(windowedHorizon(s, slot), second([...own.values()]))
      const totals = new Map<number, number>()
      for (let bucket = 0; bucket <= 12; bucket++) {
        const names = new Map<string, number>()
        for (const k of KEYS) {
          assert.equal(windowedHorizon(s, slot, k), threshold(k))
          const want = bucket >= threshold(k) ? counted.get(`${bucket}/${k}`) ?? 0 : 0
          assert.equal(windowedEntry(s, slot, bucket, k), want, `slot ${slot} bucket ${bucket} key ${k}`)
          const name = k.includes('@') ? k.slice(0, k.indexOf('@')) : k
          names.set(name, k.includes('@') ? Math.max(names.get(name) ?? 0, want) : want)
        }
        const total = [...names.values()].reduce((a, b) => a + b, 0)
        if (total > 0) totals.set(bucket, total)
      }
      const seen = new Map<number, number>()
      windowedEach(s, slot, 0, 100, (b, total) => seen.set(b, total))
      assert.deepEqual(seen, totals)
      // Horizons below the shared one are not stored (they can no longer change a threshold).
      for (const [, h] of windowedHorizons(s, slot)) assert.ok(h >= windowedHorizon(s, slot))
    }
  }))
})

test('wcounter: with one replica\'s clock arbitrarily ahead, no bucket another replica incremented within its own retention is lost', () => {
  const R = 5 // buckets retained
  const names = ['ra', 'rb', 'rc', 'fast']
  const stepArb = fc.record({
    writer: fc.integer({ min: 0, max: 3 }),
    advance: fc.integer({ min: 0, max: 3 }),
    n: fc.integer({ min: 1, max: 9 }),
    // A copy `ev<k>@<writer>` (a keyed record: several replicas may post the same name) or the writer's own entry.
    copy: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    // Deliveries after the write: (which delta sent so far, to which replica); late, repeated, reordered.
    deliver: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 3 })), { maxLength: 3 }),
  })
  fc.assert(fc.property(fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 1e9 })), fc.array(stepArb, { minLength: 1, maxLength: 40 }), (ahead, steps) => {
    const states = names.map(() => t.empty())
    const sent: WindowedDelta[] = []
    const written = new Map<string, number>() // `${key}/${bucket}` → sum, honest replicas' keys only
    let now = 10 // the honest clock, in buckets
    for (const step of steps) {
      now += step.advance
      const w = step.writer
      const clock = w === 3 ? now + ahead : now
      const key = step.copy === undefined ? names[w]! : `ev${step.copy}@${names[w]}`
      const d = windowedIncrement(states[w]!, key, [{ slot: 0, bucket: clock, n: step.n, horizon: Math.max(0, clock - R + 1) }])!
      states[w] = t.apply(states[w]!, d)
      sent.push(d)
      if (w !== 3) written.set(`${key}/${clock}`, (written.get(`${key}/${clock}`) ?? 0) + step.n)
      for (const [i, to] of step.deliver) states[to] = t.apply(states[to]!, sent[i % sent.length]!)
    }
    // Heal: every replica gets every delta, then the states are merged pairwise.
    for (let r = 0; r < names.length; r++) for (const d of sent) states[r] = t.apply(states[r]!, d)
    const all = states.reduce((acc, s) => t.merge(acc, s), t.empty())
    for (const s of states) assert.ok(t.equals(s, all), JSON.stringify([t.inspect(s), t.inspect(all)]))
    for (const [k, n] of written) {
      const [r, b] = k.split('/') as [string, string]
      if (Number(b) > now - R) assert.equal(windowedEntry(all, 0, Number(b), r), n, `${k} (fast clock ${ahead} ahead)`)
    }
    // The shared horizon never passes the honest clock's: only the fast replica's own entries may go further.
    assert.ok(windowedHorizon(all, 0) <= Math.max(0, now - R + 1))
  }))
})

test('wcounter: a replica that stops writing keeps its last retention until two others move past it; a single writer prunes on its own', () => {
  const R = 5
  const write = (s: WindowedCounter, r: string, bucket: number): WindowedCounter =>
    t.apply(s, windowedIncrement(s, r, [{ slot: 0, bucket, n: 1, horizon: Math.max(0, bucket - R + 1) }])!)
  const held = (s: WindowedCounter, r: string): number[] => {
    const out: number[] = []
    for (let b = 0; b < 200; b++) if (windowedEntry(s, 0, b, r) > 0) out.push(b)
    return out
  }
  // A single writer (the devnet) prunes its own buckets: R of them at most.
  let s = t.empty()
  for (let b = 0; b < 50; b++) s = write(s, 'ra', b)
  assert.deepEqual(held(s, 'ra'), [45, 46, 47, 48, 49])
  // rb writes alongside, then stops at bucket 59; ra goes on alone to 120.
  for (let b = 50; b < 60; b++) s = write(write(s, 'ra', b), 'rb', b)
  for (let b = 60; b < 120; b++) s = write(s, 'ra', b)
  assert.deepEqual(held(s, 'ra'), [115, 116, 117, 118, 119])
  assert.deepEqual(held(s, 'rb'), [55, 56, 57, 58, 59], 'frozen: one writer alone cannot drop another\'s buckets')
  assert.ok(windowedSize(s) <= 2 * R)
  // A second active writer: rb's buckets and its horizon go, and the state is one retention again.
  for (let b = 120; b < 125; b++) s = write(write(s, 'rc', b), 'ra', b)
  assert.deepEqual(held(s, 'rb'), [])
  assert.deepEqual(windowedHorizons(s, 0).map(([r]) => r), ['ra', 'rc'])
  assert.equal(windowedSize(s), R)
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

test('wcounter: horizon bumps drop old buckets (a replica\'s own at once, others\' once two replicas passed them) and late increments for them are no-ops everywhere', () => {
  let a = t.empty()
  const old = windowedIncrement(a, 'ra', [{ slot: 0, bucket: 3, n: 4, horizon: 0 }])!
  a = t.apply(a, old)
  // rb has not seen `old` yet and moves its horizon past bucket 3 while writing bucket 9:
  // alone it drops only its own older buckets, so ra's bucket 3 survives.
  let b = t.empty()
  const bump = windowedIncrement(b, 'rb', [{ slot: 0, bucket: 9, n: 1, horizon: 5 }])!
  assert.equal(bump.parts[0]!.horizon, 5)
  b = t.apply(b, bump)
  b = t.apply(b, old)
  a = t.apply(a, bump)
  assert.ok(t.equals(a, b), JSON.stringify([t.inspect(a), t.inspect(b)]))
  assert.equal(windowedEntry(a, 0, 3, 'ra'), 4)
  assert.equal(windowedHorizon(a, 0), 0)
  // rc passes bucket 3 too: now the second highest horizon is 4 and bucket 3 is gone.
  const bump2 = windowedIncrement(a, 'rc', [{ slot: 0, bucket: 9, n: 1, horizon: 4 }])!
  a = t.apply(a, bump2)
  b = t.apply(b, bump2)
  const late = windowedIncrement(t.empty(), 'ra', [{ slot: 0, bucket: 3, n: 2, horizon: 0 }])!
  b = t.apply(b, late) // late: dropped
  assert.ok(t.equals(a, b), JSON.stringify([t.inspect(a), t.inspect(b)]))
  assert.equal(windowedHorizon(a, 0), 4)
  assert.equal(windowedHorizon(a, 0, 'rb'), 5)
  assert.equal(windowedEntry(a, 0, 3, 'ra'), 0)
  assert.equal(windowedSize(a), 1)
  // A writer asked to add to an expired bucket produces no increment; with no new horizon, no delta.
  assert.equal(windowedIncrement(a, 'ra', [{ slot: 0, bucket: 3, n: 1, horizon: 4 }]), undefined)
  // The horizon is only carried when it raises the writer's own (and the shared one).
  const d = windowedIncrement(a, 'rb', [{ slot: 0, bucket: 9, n: 1, horizon: 5 }])!
  assert.deepEqual(d.parts, [{ slot: 0, bucket: 9, value: 2, horizon: 0 }])
  assert.equal(windowedIncrement(a, 'ra', [{ slot: 0, bucket: 9, n: 1, horizon: 4 }])!.parts[0]!.horizon, 0)
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
  s = t.apply(s, windowedIncrement(s, 'rc', [{ slot: 1, bucket: 41, n: 1, horizon: 20 }])!)
  assert.deepEqual(t.inspect(s), {
    slots: [
      { horizon: 0, horizons: {}, buckets: {} },
      { horizon: 20, horizons: { ra: 30, rc: 20 }, buckets: { 40: { entries: { ra: 2, rb: 5 }, total: 7 }, 41: { entries: { rc: 1 }, total: 1 } } },
    ],
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
  // slots, key table (0 = spelt out, or 1 + the position of a copy's replica; then a string), then per slot: horizon count, (key index, horizon)…, bucket count, (first: zigzag distance from the lowest horizon, then gap; entry count, (key index, total)…)…
  assert.deepEqual(t.value(dec(Uint8Array.of(1, 1, 0, 1, 97, 0, 1, 6, 1, 0, 5))), [[[3, 5]]]) // the well-formed baseline
  assertDecodeError(() => dec(Uint8Array.of(1, 0, 0, 0)), new Set(['decode_invalid'])) // one empty slot
  assertDecodeError(() => dec(Uint8Array.of(1, 1, 0, 1, 97, 0, 1, 0, 0)), new Set(['decode_invalid'])) // bucket 0 with an empty counter
  assertDecodeError(() => dec(Uint8Array.of(1, 2, 0, 1, 97, 0, 1, 98, 0, 1, 6, 1, 0, 5)), new Set(['decode_invalid'])) // key "b" never used
  assertDecodeError(() => dec(Uint8Array.of(1, 2, 0, 1, 98, 0, 1, 97, 0, 1, 6, 2, 0, 5, 1, 5)), new Set(['decode_invalid'])) // keys not ascending
  assertDecodeError(() => dec(Uint8Array.of(1, 1, 0, 1, 97, 0, 1, 6, 1, 0, 0)), new Set(['decode_invalid'])) // a zero total
  assert.deepEqual(t.inspect(dec(Uint8Array.of(1, 1, 0, 1, 97, 1, 0, 5, 1, 0, 1, 0, 5))), { slots: [{ horizon: 0, horizons: { a: 5 }, buckets: { 5: { entries: { a: 5 }, total: 5 } } }] })
  assertDecodeError(() => dec(Uint8Array.of(1, 1, 0, 1, 97, 1, 0, 5, 1, 3, 1, 0, 5)), new Set(['decode_invalid'])) // a's entry below a's horizon (5 - 2)
  assertDecodeError(() => dec(Uint8Array.of(1, 1, 0, 1, 97, 1, 0, 0, 0)), new Set(['decode_invalid'])) // a zero horizon
  assertDecodeError(() => dec(Uint8Array.of(1, 2, 0, 1, 97, 0, 1, 98, 2, 1, 5, 0, 6, 0)), new Set(['decode_invalid'])) // horizon keys out of order
  // a: 5, b: 9, c: 3 → shared horizon 5; c's 3 below it is never stored
  assertDecodeError(() => dec(Uint8Array.of(1, 3, 0, 1, 97, 0, 1, 98, 0, 1, 99, 3, 0, 5, 1, 9, 2, 3, 0)), new Set(['decode_invalid']))
  assert.equal(windowedHorizon(dec(Uint8Array.of(1, 3, 0, 1, 97, 0, 1, 98, 0, 1, 99, 3, 0, 5, 1, 9, 2, 5, 0)), 0), 5)
  // a (horizon 5) and c's entry at 3: c has no horizon, so that is kept, a negative first distance (zigzag 3 = -2).
  assert.deepEqual(t.value(dec(Uint8Array.of(1, 2, 0, 1, 97, 0, 1, 99, 1, 0, 5, 1, 3, 1, 1, 4))), [[[3, 4]]])
  // ...but with b at 9 too the shared horizon is 5, and c's entry at 3 is below it.
  assertDecodeError(() => dec(Uint8Array.of(1, 3, 0, 1, 97, 0, 1, 98, 0, 1, 99, 2, 0, 5, 1, 9, 1, 3, 1, 2, 4)), new Set(['decode_invalid']))
  // A copy `x@a` refers to its replica `a` earlier in the table; spelt out, or referring forward, it is refused.
  assert.deepEqual(t.value(dec(Uint8Array.of(1, 2, 0, 1, 97, 1, 1, 120, 0, 1, 6, 2, 0, 5, 1, 7))), [[[3, 12]]])
  assert.deepEqual(Object.keys((t.inspect(dec(Uint8Array.of(1, 2, 0, 1, 97, 1, 1, 120, 0, 1, 6, 2, 0, 5, 1, 7))) as { slots: Array<{ buckets: Record<string, { entries: object }> }> }).slots[0]!.buckets['3']!.entries), ['a', 'x@a'])
  assertDecodeError(() => dec(Uint8Array.of(1, 2, 0, 1, 97, 0, 3, 120, 64, 97, 0, 1, 6, 2, 0, 5, 1, 7)), new Set(['decode_invalid']))
  assertDecodeError(() => dec(Uint8Array.of(1, 2, 0, 1, 97, 2, 1, 120, 0, 1, 6, 2, 0, 5, 1, 7)), new Set(['decode_invalid']))
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
