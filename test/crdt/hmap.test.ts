// Horizon-bounded grow-only map: the CRDT laws, and that the per-replica horizons really
// bound the state (entries below their owner's threshold are gone everywhere, late puts are
// no-ops on every replica) while no single replica, e.g. one with a clock days ahead, can
// drop another's entries.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { decodeWith, encodeWith } from '../../crdt/codec.ts'
import { CrdtError } from '../../crdt/errors.ts'
import { type HorizonMap, hmapGet, hmapGetShared, hmapHorizon, hmapPut, hmapRaise, hmapSize, hmapTime, hmapType } from '../../crdt/hmap.ts'
import { nameOf, ownerOf } from '../../crdt/horizons.ts'
import { encodeValue, type Value } from '../../crdt/value-codec.ts'
import { valueArb } from './arbitraries.ts'
import { assertDecodeError, checkLaws } from './laws.ts'

const t = hmapType

// Ids owned by replicas (`…@ra`: audit events, idempotency key copies) and ids that are their
// own owners; few, so one id gets two entries (same time with different values, or not).
const IDS = ['a', 'b', '', 'é', 'ev:1@ra', 'ev:2@rb', 'k@ra', 'k@rb', 'k@rc', 'k@x@ra']
const idArb = fc.constantFrom(...IDS)
const replicaArb = fc.constantFrom('ra', 'rb', 'rc', 'a')
// Few times and horizons so that puts land below, at and above each other's horizons.
const timeArb = fc.integer({ min: 0, max: 12 })
const horizonArb = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 10 }))
const deltaArb: fc.Arbitrary<HorizonMap> = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(idArb, timeArb, fc.oneof(valueArb, fc.constantFrom(1, 2)), horizonArb).map(([id, at, v, h]) => hmapPut(id, at, v, h)) },
  { weight: 1, arbitrary: fc.tuple(replicaArb, horizonArb).map(([r, h]) => hmapRaise(r, h)) },
)
const build = (ds: HorizonMap[]): HorizonMap => ds.reduce((s, d) => t.apply(s, d), t.empty())
const stateArb = fc.array(deltaArb, { maxLength: 8 }).map(build)

checkLaws(t, stateArb, deltaArb)

const enc = (s: HorizonMap): Uint8Array => encodeWith((w) => t.encodeState(w, s))
const dec = (b: Uint8Array): HorizonMap => decodeWith(b, (r) => t.decodeState(r))

/** The second highest of `hs` (ties count twice), 0 when fewer than two. */
function second (hs: number[]): number {
  const sorted = [...hs].sort((a, b) => b - a)
  return sorted.length < 2 ? 0 : sorted[1]!
}

test('hmap: each id is kept from max(its owner\'s horizon, the second highest) up, with its latest put; copies of a name resolve to the latest', () => {
  const putArb = fc.tuple(idArb, timeArb, fc.integer({ min: 0, max: 3 }), horizonArb)
  fc.assert(fc.property(fc.array(putArb, { maxLength: 20 }), (puts) => {
    const s = build(puts.map(([id, at, v, h]) => hmapPut(id, at, v, h)))
    const own = new Map<string, number>()
    for (const [id, , , h] of puts) own.set(ownerOf(id), Math.max(own.get(ownerOf(id)) ?? 0, h))
    const threshold = (id: string): number => Math.max(own.get(ownerOf(id)) ?? 0, second([...own.values()]))
    assert.equal(hmapHorizon(s), second([...own.values()]))
    const latest = (mine: typeof puts): [number, number] | undefined => {
      if (mine.length === 0) return undefined
      const at = Math.max(...mine.map((p) => p[1]))
      // On a tie in time, the smaller encoding (here: the smaller integer) wins.
      return [at, Math.min(...mine.filter((p) => p[1] === at).map((p) => p[2]))]
    }
    for (const id of IDS) {
      assert.equal(hmapHorizon(s, id), threshold(id))
      const want = latest(puts.filter((p) => p[0] === id && p[1] >= threshold(id)))
      assert.equal(hmapTime(s, id), want?.[0])
      assert.equal(hmapGet(s, id), want?.[1])
    }
    for (const name of ['a', 'k', 'k@x', 'ev:1']) {
      const want = latest(puts.filter((p) => nameOf(p[0]) === name && p[1] >= threshold(p[0])))
      assert.equal(hmapGetShared(s, name), want?.[1], `shared ${name}`)
    }
    assert.equal(hmapSize(s), IDS.filter((id) => hmapGet(s, id) !== undefined).length)
  }))
})

test('hmap: with one replica\'s clock arbitrarily ahead, no entry another replica put within its own retention is lost', () => {
  const R = 10 // retention, in time units
  const names = ['ra', 'rb', 'rc', 'fast']
  const stepArb = fc.record({
    writer: fc.integer({ min: 0, max: 3 }),
    advance: fc.integer({ min: 0, max: 4 }),
    // An audit event of its own, or its copy of a shared idempotency key.
    key: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    deliver: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 3 })), { maxLength: 3 }),
  })
  fc.assert(fc.property(fc.oneof(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 1e12 })), fc.array(stepArb, { minLength: 1, maxLength: 40 }), (ahead, steps) => {
    const states = names.map(() => t.empty())
    const sent: HorizonMap[] = []
    const honest = new Map<string, [number, Value]>() // id → (time, value) of honest puts
    let now = 100
    steps.forEach((step, i) => {
      now += step.advance
      const w = step.writer
      const clock = w === 3 ? now + ahead : now
      const id = step.key === undefined ? `ev${i}@${names[w]}` : `key${step.key}@${names[w]}`
      const d = hmapPut(id, clock, i, Math.max(0, clock - R))
      states[w] = t.apply(states[w]!, d)
      sent.push(d)
      // Same id and time: the smaller value (the earlier put here) wins.
      if (w !== 3 && !(honest.get(id)?.[0] === clock)) honest.set(id, [clock, i])
      for (const [k, to] of step.deliver) states[to] = t.apply(states[to]!, sent[k % sent.length]!)
    })
    for (let r = 0; r < names.length; r++) for (const d of sent) states[r] = t.apply(states[r]!, d)
    const all = states.reduce((acc, s) => t.merge(acc, s), t.empty())
    for (const s of states) assert.ok(t.equals(s, all))
    for (const [id, [at, v]] of honest) {
      if (at >= now - R) assert.equal(hmapGet(all, id), v, `${id} at ${at} (fast clock ${ahead} ahead)`)
    }
    assert.ok(hmapHorizon(all) <= Math.max(0, now - R))
  }))
})

test('hmap: a replica alone drops its own entries only; a stopped replica\'s entries go once two others pass them; late puts below are no-ops everywhere', () => {
  let a = t.empty()
  let b = t.empty()
  const early = hmapPut('e1@ra', 100, { type: 'created' })
  const late = hmapPut('e2@rb', 500, { type: 'revoked' }, 300)
  a = t.apply(t.apply(a, early), late)
  b = t.apply(t.apply(b, late), early)
  assert.ok(t.equals(a, b))
  // rb's horizon alone does not drop ra's event.
  assert.deepEqual(t.value(a), [['e1@ra', { type: 'created' }], ['e2@rb', { type: 'revoked' }]])
  assert.equal(hmapHorizon(a), 0)
  assert.equal(hmapHorizon(a, 'x@rb'), 300)
  // rc passes 100 too: the second highest horizon is now 200 and ra's event is gone.
  const third = hmapPut('e3@rc', 450, 'x', 200)
  a = t.apply(a, third)
  b = t.apply(b, third)
  b = t.apply(b, early) // late: dropped
  assert.ok(t.equals(a, b))
  assert.equal(hmapHorizon(a), 200)
  assert.equal(hmapGet(a, 'e1@ra'), undefined)
  // A put stamped below its threshold changes nothing.
  assert.ok(t.equals(t.apply(t.clone(a), hmapPut('e4@ra', 199, 'x')), a))
  assert.deepEqual(hmapPut('e3@ra', 299, 'x', 300), [1, 'ra', 300])
  // A single writer putting one entry per tick with horizon = tick - 10 keeps 11.
  let s = t.empty()
  for (let tick = 0; tick < 1000; tick++) s = t.apply(s, hmapPut(`k${tick}@r1`, tick, tick, Math.max(0, tick - 10)))
  assert.equal(hmapSize(s), 11)
  assert.equal(hmapGet(s, 'k989@r1'), 989)
  assert.equal(hmapGet(s, 'k988@r1'), undefined)
  // r2 writes alongside until tick 1100, then stops; r1 goes on alone: r2's last entries stay.
  for (let tick = 1000; tick < 1100; tick++) {
    for (const r of ['r1', 'r2']) s = t.apply(s, hmapPut(`k${tick}@${r}`, tick, tick, tick - 10))
  }
  for (let tick = 1100; tick < 1200; tick++) s = t.apply(s, hmapPut(`k${tick}@r1`, tick, tick, tick - 10))
  assert.equal(hmapSize(s), 11 + 11)
  // r3 starts writing: two replicas pass r2's entries, which go, with r2's horizon.
  for (let tick = 1200; tick < 1202; tick++) s = t.apply(s, hmapPut(`k${tick}@r3`, tick, tick, tick - 10))
  assert.equal(hmapGet(s, 'k1099@r2'), undefined)
  assert.deepEqual(Object.keys((t.inspect(s) as { horizons: object }).horizons), ['r1', 'r3'])
})

test('hmap: invalid puts and non-canonical encodings are refused with codes', () => {
  for (const bad of [() => hmapPut('x', -1, 1), () => hmapPut('x', 1.5, 1), () => hmapPut('x', 1, Number.NaN), () => hmapRaise('r', -3), () => hmapRaise('a@b', 3)]) {
    assert.throws(bad, (e: unknown) => e instanceof CrdtError && e.code === 'invalid_delta')
  }
  // entries, horizons, (replica, horizon)…, (id as 0 + id or 1 + its replica's position + name, time, value)…
  const one = (h: number, time: number, tag = 1, id = 'e'): Uint8Array => encodeWith((w) => { w.uint(1).uint(1).string('a').uint(h).uint(tag).string(id).uint(time); encodeValue(w, 1) })
  assert.equal(hmapGet(dec(one(5, 5)), 'e@a'), 1) // the well-formed baseline
  assert.deepEqual([...enc(dec(one(5, 5)))], [...one(5, 5)])
  assertDecodeError(() => dec(one(5, 5, 0, 'e@a')), new Set(['decode_invalid'])) // spelt out, though its replica has a horizon here
  assertDecodeError(() => dec(one(5, 5, 2)), new Set(['decode_invalid'])) // no replica at position 1
  assert.equal(hmapGet(dec(one(5, 5, 0, 'e@b')), 'e@b'), 1) // b has no horizon here: spelt out
  assertDecodeError(() => dec(one(5, 4)), new Set(['decode_invalid'])) // an entry below its owner's horizon
  assertDecodeError(() => dec(one(0, 4)), new Set(['decode_invalid'])) // a zero horizon
  const pairs = (hs: Array<[string, number]>): Uint8Array => encodeWith((w) => { w.uint(0).uint(hs.length); for (const [r, h] of hs) w.string(r).uint(h) })
  assert.equal(hmapHorizon(dec(pairs([['a', 5], ['b', 9], ['c', 5]]))), 5)
  assertDecodeError(() => dec(pairs([['a', 5], ['b', 9], ['c', 3]])), new Set(['decode_invalid'])) // c below the shared 5
  assertDecodeError(() => dec(pairs([['b', 5], ['a', 9]])), new Set(['decode_invalid'])) // replicas out of order
  assertDecodeError(() => dec(pairs([['a@b', 5]])), new Set(['decode_invalid'])) // not a replica id
  const two = enc(build([hmapPut('a', 1, 1), hmapPut('b', 1, 1)]))
  const swapped = encodeWith((w) => { w.uint(2).uint(0).uint(0).string('b').uint(1); encodeValue(w, 1); w.uint(0).string('a').uint(1); encodeValue(w, 1) })
  assertDecodeError(() => dec(swapped), new Set(['decode_invalid']))
  assert.ok(t.equals(dec(two), build([hmapPut('b', 1, 1), hmapPut('a', 1, 1)])))
})
