// Writer.prefixed writes a length-prefixed body in place (one byte reserved, the body moved
// when the length needs a longer varint): it must produce exactly what `bytes` produces,
// at every length around the varint boundaries and after any preceding content.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Reader, Writer } from '../../crdt/codec.ts'
import { testSeed } from '../support/seed.ts'

const seed = testSeed('codec-prefixed')

function viaBytes (head: Uint8Array, body: Uint8Array, tail: number): Uint8Array {
  return new Writer(8).raw(head).bytes(body).uint(tail).finish()
}

function viaPrefixed (head: Uint8Array, body: Uint8Array, tail: number, initial: number): Uint8Array {
  return new Writer(initial).raw(head).prefixed((w) => { w.raw(body) }).uint(tail).finish()
}

test('prefixed equals bytes at the varint boundaries', () => {
  for (const n of [0, 1, 127, 128, 129, 300, 16_383, 16_384, 16_385, 70_000]) {
    const body = new Uint8Array(n).map((_, i) => (i * 31 + 7) & 0xff)
    const head = Uint8Array.of(1, 2, 3)
    for (const initial of [1, 64, 1 << 20]) {
      const got = viaPrefixed(head, body, 42, initial)
      assert.deepEqual(got, viaBytes(head, body, 42), `length ${n}, initial buffer ${initial}`)
      const r = new Reader(got)
      r.raw(3)
      assert.deepEqual(r.raw(r.length()), body)
      assert.equal(r.uint(), 42)
      r.end()
    }
  }
})

test('prefixed equals bytes for arbitrary bodies and prefixes', () => {
  fc.assert(fc.property(
    fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 600 }), fc.nat(), fc.integer({ min: 1, max: 256 }),
    (head, body, tail, initial) => {
      assert.deepEqual(viaPrefixed(head, body, tail, initial), viaBytes(head, body, tail))
    },
  ), { seed, numRuns: 300 })
})

test('a body that writes through the writer (not raw) is prefixed the same way', () => {
  const w = new Writer(4).prefixed((dw) => { for (let i = 0; i < 200; i++) dw.uint(i * 1000) })
  const ref = new Writer(4)
  for (let i = 0; i < 200; i++) ref.uint(i * 1000)
  assert.deepEqual(w.finish(), new Writer(4).bytes(ref.finish()).finish())
})
