// Reader.bound/unbound reads a length-prefixed part in place: it must decode, and fail, exactly
// as a fresh reader over the part's bytes would (`new Reader(r.raw(n))` + `end()`).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Reader } from '../../crdt/codec.ts'
import { CrdtError } from '../../crdt/errors.ts'
import { testSeed } from '../support/seed.ts'

const seed = testSeed('codec-bound')

/** Reads by a script: 0 uint, 1 string, 2 bytes, 3 u8, 4 int. */
function readScript (r: Reader, script: number[]): unknown[] {
  const out: unknown[] = []
  for (const s of script) out.push(s === 0 ? r.uint() : s === 1 ? r.string() : s === 2 ? [...r.bytes()] : s === 3 ? r.u8() : r.int())
  return out
}

function outcome (fn: () => unknown): unknown {
  try { return { ok: fn() } } catch (err) {
    assert.ok(err instanceof CrdtError, String(err))
    return { code: err.code }
  }
}

test('a bounded part decodes and fails as a reader over its own bytes, and the rest reads on', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat({ max: 45 }), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 6 }), (buf, n, script) => {
    const viaView = outcome(() => {
      const r = new Reader(buf)
      const part = new Reader(r.raw(n))
      const v = readScript(part, script)
      part.end()
      return [v, r.pos, r.remaining]
    })
    const viaBound = outcome(() => {
      const r = new Reader(buf)
      const outer = r.bound(n)
      const v = readScript(r, script)
      r.unbound(outer)
      return [v, r.pos, r.remaining]
    })
    assert.deepEqual(viaBound, viaView)
  }), { seed, numRuns: 2000 })
})
