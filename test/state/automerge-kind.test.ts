// The automerge.v1 adapter obeys the CrdtType laws on docs edited concurrently by three
// actors (with states holding changes that wait for their dependencies), and turns
// garbage into typed decode errors. Replay the universe with FORMSTATE_SEED=<seed>.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import * as Automerge from '@automerge/automerge'
import { decodeWith, encodeWith } from '../../crdt/codec.ts'
import { CrdtError } from '../../crdt/errors.ts'
import { actorFor, automergeType as T, canonicalSave, makeChange, MAX_DELTA_CHANGES, rebuildSave, type AmState } from '../../src/state/automerge-kind.ts'
import { assertDecodeError, checkLaws } from '../crdt/laws.ts'

const seed = process.env.FORMSTATE_SEED !== undefined ? Number(process.env.FORMSTATE_SEED) : Math.floor(Math.random() * 2 ** 31)
console.log(`automerge-kind: universe seed ${seed} (replay: FORMSTATE_SEED=${seed})`)

function prng (s: number): () => number {
  let a = s >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type D = Record<string, any>
const ACTORS = ['r1', 'r2', 'r3'].map(actorFor)

/**
 * Three actors edit one catalog-like doc concurrently (own edits, occasional syncs), so
 * the change graph has real forks and joins. Returns every change made, in creation order.
 */
function universe (rand: () => number, steps: number): Uint8Array[] {
  const root = makeChange<D>(Automerge.init(), ACTORS[0]!, 'root', (d) => { d.name = 'm'; d.pricing = { in: 1, out: 2 }; d.config = {} }, 1_000)!
  const all = [root]
  const docs = ACTORS.map(() => T.apply(T.empty(), [root]))
  for (let i = 0; i < steps; i++) {
    const a = Math.floor(rand() * 3)
    if (rand() < 0.25) {
      const b = Math.floor(rand() * 3)
      docs[a] = T.merge(docs[a]!, docs[b]!)
      continue
    }
    const key = ['name', 'in', 'out', 'tag'][Math.floor(rand() * 4)]!
    const v = Math.floor(rand() * 100)
    const c = makeChange<D>(docs[a]!.doc as Automerge.Doc<D>, ACTORS[a]!, `e${i}`, (d) => {
      if (key === 'in' || key === 'out') d.pricing[key] = v
      else if (key === 'tag') d.config[`t${v % 3}`] = v
      else d.name = `n${v}`
    }, 1_000 + i * 1000)
    if (c === undefined) continue // the edit wrote a value the doc already held: no change
    all.push(c)
    docs[a] = T.apply(docs[a]!, [c])
  }
  return all
}

const ALL = universe(prng(seed), 24)
// Any subset of the changes, in any order: out-of-order subsets leave changes pending.
const deltaArb = fc.shuffledSubarray(ALL, { maxLength: 8 })
const stateArb: fc.Arbitrary<AmState> = fc.array(deltaArb, { maxLength: 3 }).map((ds) => ds.reduce((s, d) => T.apply(s, d), T.empty()))

checkLaws(T, stateArb, deltaArb, { numRuns: 20, lengthPrefixed: false })

const enc = (s: AmState): Uint8Array => encodeWith((w) => T.encodeState(w, s))
const dec = (b: Uint8Array): AmState => decodeWith(b, (r) => T.decodeState(r))

test('automerge.v1: every order of delivery ends in the same doc, value and bytes', () => {
  const inOrder = T.apply(T.empty(), ALL)
  assert.equal(inOrder.pending.size, 0)
  fc.assert(fc.property(fc.shuffledSubarray(ALL, { minLength: ALL.length }), (order) => {
    // Delivered one change per delta, reversed or shuffled: deps arrive after dependants.
    let s = T.empty()
    for (const c of order) s = T.apply(s, [c])
    assert.equal(s.pending.size, 0)
    assert.ok(T.equals(s, inOrder))
    assert.deepEqual(T.value(s), T.value(inOrder))
    assert.deepEqual(enc(s), enc(inOrder))
    // Fast path (history already canonical: save as is) and rebuild agree byte for byte.
    assert.deepEqual(canonicalSave(s.doc), rebuildSave(s.doc))
  }), { numRuns: 15 })
  assert.deepEqual(canonicalSave(inOrder.doc), rebuildSave(inOrder.doc))
})

test('automerge.v1: a linear history is saved as is (the fast path is plain save)', () => {
  let s = T.apply(T.empty(), [ALL[0]!])
  for (let i = 0; i < 5; i++) {
    const c = makeChange<D>(s.doc as Automerge.Doc<D>, ACTORS[i % 3]!, `l${i}`, (d) => { d.name = `l${i}` }, 5_000)!
    s = T.apply(s, [c])
  }
  assert.deepEqual(canonicalSave(s.doc), Automerge.save(s.doc))
})

test('automerge.v1: a change waiting for its dependency survives encode/decode, then applies', () => {
  const [root, ...rest] = ALL
  const s = T.apply(T.empty(), rest.slice(0, 1))
  assert.equal(s.pending.size, 1, 'the change is held, not dropped')
  assert.deepEqual(T.value(s), {})
  const restored = dec(enc(s))
  assert.equal(restored.pending.size, 1)
  T.apply(restored, [root!])
  assert.equal(restored.pending.size, 0)
  assert.ok(T.equals(restored, T.apply(T.empty(), [root!, rest[0]!])))
})

test('automerge.v1: apply is idempotent and leaves a cloned original untouched', () => {
  const s = T.apply(T.empty(), ALL.slice(0, 5))
  const before = enc(s)
  const c = T.clone(s)
  T.apply(c, ALL.slice(5))
  assert.deepEqual(enc(s), before)
  assert.ok(T.equals(T.apply(T.clone(c), ALL), c))
})

test('automerge.v1: makeChange does not touch the doc it starts from', () => {
  const s = T.apply(T.empty(), ALL)
  const heads = Automerge.getHeads(s.doc)
  const c = makeChange<D>(s.doc as Automerge.Doc<D>, actorFor('r9'), 'x', (d) => { d.name = 'changed' })!
  assert.deepEqual(Automerge.getHeads(s.doc), heads)
  assert.notEqual((T.value(s) as D).name, 'changed')
  assert.equal((T.value(T.apply(s, [c])) as D).name, 'changed')
  assert.equal(makeChange<D>(s.doc as Automerge.Doc<D>, actorFor('r9'), 'noop', () => {}), undefined, 'no edit, no change')
})

test('automerge.v1: garbage is a typed decode error, and Automerge still works after it', () => {
  const garbage = [Uint8Array.of(1, 2, 3), new Uint8Array(100).fill(0x85), Uint8Array.of(0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4, 5, 6)]
  for (const g of garbage) {
    // A well-framed state whose saved doc is garbage.
    assertDecodeError(() => dec(encodeWith((w) => { w.u8(1); w.bytes(g); w.uint(0) })), new Set(['decode_invalid']))
    // A well-framed delta whose change is garbage.
    assertDecodeError(() => decodeWith(encodeWith((w) => { w.uint(1); w.bytes(g) }), (r) => T.decodeDelta(r)), new Set(['decode_invalid']))
  }
  assertDecodeError(() => dec(encodeWith((w) => { w.u8(9) })), new Set(['decode_invalid']))
  const s = T.apply(T.empty(), ALL)
  assert.ok(T.equals(dec(enc(s)), s))
})

test('automerge.v1: a delta over the limits is refused', () => {
  const many = encodeWith((w) => { w.uint(MAX_DELTA_CHANGES + 1) })
  assertDecodeError(() => decodeWith(many, (r) => T.decodeDelta(r)), new Set(['decode_oversized']))
  assert.throws(() => encodeWith((w) => T.encodeDelta(w, new Array(MAX_DELTA_CHANGES + 1).fill(ALL[0]))), (e: unknown) => e instanceof CrdtError && e.code === 'invalid_delta')
})

test('automerge.v1: a second change with the same actor and seq is refused as invalid_delta', () => {
  const base = T.apply(T.empty(), [ALL[0]!])
  const a = makeChange<D>(base.doc as Automerge.Doc<D>, actorFor('rx'), 'a', (d) => { d.name = 'a' })!
  const b = makeChange<D>(base.doc as Automerge.Doc<D>, actorFor('rx'), 'b', (d) => { d.name = 'b' })!
  const s = T.apply(T.clone(base), [a])
  assert.throws(() => T.apply(s, [b]), (e: unknown) => e instanceof CrdtError && e.code === 'invalid_delta')
})

test('automerge.v1: inspect lists heads, history length and the last changes', () => {
  const s = T.apply(T.empty(), ALL)
  const info = T.inspect(s) as { heads: string[], history: number, pending: string[], last: Array<{ actor: string, seq: number, message: string }> }
  assert.equal(info.history, ALL.length)
  assert.deepEqual(info.heads, [...Automerge.getHeads(s.doc)].sort())
  assert.equal(info.last.length, 5)
  assert.ok(info.last.every((c) => ACTORS.includes(c.actor) && c.seq >= 1))
  assert.deepEqual(info.pending, [])
})

test('actorFor is stable per replica, distinct across replicas, and a valid actor', () => {
  assert.equal(actorFor('node-a'), actorFor('node-a'))
  assert.notEqual(actorFor('node-a'), actorFor('node-b'))
  assert.match(actorFor('node-a'), /^[0-9a-f]{32}$/)
  assert.equal(Automerge.getActorId(Automerge.init({ actor: actorFor('node-a') })), actorFor('node-a'))
})
