// The decoder shares what it can (short strings through a bounded cache, runs of equal
// timestamps as one frozen object) to keep decoded states small. Sharing must never
// change a decoded value: these tests hammer the cache with colliding and evicting
// strings and check every decode still equals its input.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Reader, Writer } from '../../crdt/codec.ts'
import { CrdtError } from '../../crdt/errors.ts'
import { decodeHlc, encodeHlc } from '../../crdt/hlc.ts'
import { decodeValue, encodeValue, type Value } from '../../crdt/value-codec.ts'
import { testSeed } from '../support/seed.ts'

const seed = testSeed('codec-sharing')

/** Strings the cache handles (short ASCII, up to 64 bytes) mixed with ones it does not. */
const str = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', 'b', 'c', '-', '1'), maxLength: 4 }), // few values: many repeats
  fc.string({ maxLength: 70 }), // ASCII, some past the cached length
  fc.string({ unit: 'grapheme', maxLength: 12 }), // non-ASCII
)

test('codec: strings decode to their input through cache hits, misses and evictions', () => {
  fc.assert(fc.property(fc.array(str, { maxLength: 300 }), (input) => {
    const w = new Writer()
    for (const s of input) w.string(s)
    const r = new Reader(w.finish())
    // Decode twice: the second pass is mostly cache hits, the first mostly misses.
    const first = input.map(() => r.string())
    const again = new Reader(w.finish())
    const second = input.map(() => again.string())
    assert.deepEqual(first, input)
    assert.deepEqual(second, input)
  }), { seed, numRuns: 200 })
})

test('codec: more distinct short strings than cache slots all decode correctly', () => {
  const w = new Writer()
  const input: string[] = []
  for (let i = 0; i < 20_000; i++) input.push(`k${(i * 7919).toString(36)}`)
  for (const s of input) w.string(s)
  const r = new Reader(w.finish())
  for (const s of input) assert.equal(r.string(), s)
  r.end()
})

test('codec: a string longer than the given maximum is refused before it is read', () => {
  const w = new Writer().string('node-1')
  assert.throws(() => new Reader(w.finish()).string(5), (e: unknown) => e instanceof CrdtError && e.code === 'decode_oversized')
  assert.equal(new Reader(w.finish()).string(6), 'node-1')
})

test('codec: invalid UTF-8 is still refused (short and long)', () => {
  for (const n of [3, 40, 80]) {
    const bytes = new Uint8Array(n + 1)
    bytes[0] = n
    bytes.fill(0x61, 1)
    bytes[n] = 0xff
    assert.throws(() => new Reader(bytes).string(), (e: unknown) => e instanceof CrdtError && e.code === 'decode_invalid')
  }
})

test('hlc: equal timestamps decoded in a row are one frozen object; others are their own values', () => {
  const w = new Writer()
  const ts = [{ wall: 5, logical: 1 }, { wall: 5, logical: 1 }, { wall: 5, logical: 2 }, { wall: 6, logical: 0 }, { wall: 6, logical: 0 }]
  for (const t of ts) encodeHlc(w, t)
  const r = new Reader(w.finish())
  const back = ts.map(() => decodeHlc(r))
  assert.deepEqual(back, ts)
  assert.equal(back[0], back[1])
  assert.notEqual(back[1], back[2])
  assert.equal(back[3], back[4])
  for (const t of back) assert.ok(Object.isFrozen(t), 'a shared timestamp cannot be changed through one of its holders')
})

test('values: small arrays of primitives decode to one shared frozen array per content, always equal to their input', () => {
  const prim = fc.oneof(fc.constantFrom<Value>('read', 'write', '1', 1, 0, -0, true, 'true', null, 'null', 1.5, '', 'a'.repeat(70)), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }))
  const arr = fc.array(prim, { maxLength: 10 })
  fc.assert(fc.property(fc.array(arr, { maxLength: 40 }), (input) => {
    const w = new Writer()
    for (const a of input) encodeValue(w, a)
    const bytes = w.finish()
    const r = new Reader(bytes)
    const back = input.map(() => decodeValue(r) as readonly Value[])
    r.end()
    for (let i = 0; i < input.length; i++) {
      // Exact equality, -0 included: a shared array must re-encode to the same bytes.
      assert.equal(back[i]!.length, input[i]!.length)
      for (let k = 0; k < input[i]!.length; k++) assert.ok(Object.is(back[i]![k], input[i]![k]), `element ${k} of ${JSON.stringify(input[i])}`)
    }
    const w2 = new Writer()
    for (const a of back) encodeValue(w2, a)
    assert.deepEqual(w2.finish(), bytes)
  }), { seed, numRuns: 200 })
  const enc = (v: Value): Uint8Array => { const w = new Writer(); encodeValue(w, v); return w.finish() }
  const a = decodeValue(new Reader(enc(['read', 'write'])))
  const b = decodeValue(new Reader(enc(['read', 'write'])))
  assert.equal(a, b, 'equal small arrays are one object')
  assert.ok(Object.isFrozen(a), 'a shared array cannot be changed through one of its holders')
  assert.notEqual(decodeValue(new Reader(enc(['1']))), decodeValue(new Reader(enc([1]))))
  const nested = [['read']]
  assert.deepEqual(decodeValue(new Reader(enc(nested))), nested)
})
