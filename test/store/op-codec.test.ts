// Op codec: round trips, and every kind of bad input is a typed error.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeOp, decodeOps, encodeOp, encodeOps, isDecoded } from '../../src/store/op-codec.ts'
import { FormStateError } from '../../src/errors.ts'
import { Kinds } from '../../src/store/kinds.ts'
import { gcounterType } from '../../crdt/gcounter.ts'
import { gInc, kinds, op, pn } from './helpers.ts'

function code (fn: () => unknown): string {
  try { fn() } catch (err) {
    assert.ok(err instanceof FormStateError, `expected FormStateError, got ${String(err)}`)
    return err.code
  }
  assert.fail('expected a throw')
}

const sample = op('node-a', 7, 'acct/42', [gInc('usage:tok_in', 'node-a', 120), pn('credits', 'n', 'node-a', 5)])

test('one op round-trips, deltas decoded by their kind', () => {
  const bytes = encodeOp(sample, kinds)
  const back = decodeOp(bytes, kinds)
  assert.deepEqual(back, sample)
  assert.ok(isDecoded(back))
  assert.ok(bytes.length * 2 < JSON.stringify(sample).length, `compact: ${bytes.length} bytes`)
})

test('a list of ops round-trips, and re-encoding decoded ops gives the same bytes', () => {
  const ops = [sample, op('node-b', 1, 'acct/1', [gInc('x', 'node-b', 1)]), op('node-a', 8, 'model/é', [pn('c', 'p', 'grant:cs_1', 1000)])]
  const bytes = encodeOps(ops, kinds)
  const back = decodeOps(bytes, kinds)
  assert.deepEqual(back, ops)
  assert.deepEqual(encodeOps(back, kinds), bytes)
  assert.deepEqual(encodeOp(back[1]!, kinds), encodeOp(ops[1]!, kinds))
  assert.deepEqual(decodeOps(encodeOps([], kinds), kinds), [])
})

test('every truncation of a valid op is refused with decode_truncated', () => {
  const bytes = encodeOp(sample, kinds)
  for (let n = 0; n < bytes.length; n++) {
    const c = code(() => decodeOp(bytes.subarray(0, n), kinds))
    assert.ok(c === 'decode_truncated' || c === 'invalid_op', `cut at ${n}: ${c}`)
  }
  const list = encodeOps([sample, sample], kinds)
  assert.equal(code(() => decodeOps(list.subarray(0, list.length - 1), kinds)), 'decode_truncated')
})

test('trailing bytes, a bad version and garbage are refused with decode codes', () => {
  const bytes = encodeOp(sample, kinds)
  const trailing = new Uint8Array([...bytes, 0])
  assert.equal(code(() => decodeOp(trailing, kinds)), 'decode_invalid')
  const v2 = bytes.slice(); v2[0] = 2
  assert.equal(code(() => decodeOp(v2, kinds)), 'decode_invalid')
  let seed = 12345
  for (let i = 0; i < 300; i++) {
    const junk = new Uint8Array(1 + (i % 40))
    for (let j = 0; j < junk.length; j++) { seed = (seed * 1103515245 + 12345) >>> 0; junk[j] = seed >>> 24 }
    junk[0] = 1
    const c = code(() => decodeOps(junk, kinds))
    assert.ok(['decode_truncated', 'decode_invalid', 'decode_oversized', 'invalid_op'].includes(c), c)
  }
})

test('an unknown kind is invalid_op on encode and on decode', () => {
  const bad = op('a', 1, 't', [{ field: 'f', kind: 'nope.v1', delta: 1 }])
  assert.equal(code(() => encodeOp(bad, kinds)), 'invalid_op')
  // Encode with a registry that knows a stand-in kind, decode with one that does not.
  const other = new Kinds([{ ...gcounterType, kind: 'nope.v1' }])
  const bytes = encodeOp(op('a', 1, 't', [{ field: 'f', kind: 'nope.v1', delta: { key: 'a', value: 1 } }]), other)
  assert.equal(code(() => decodeOp(bytes, kinds)), 'invalid_op')
})

test('a malformed delta is refused: invalid_op on encode, a decode code on decode', () => {
  assert.equal(code(() => encodeOp(op('a', 1, 't', [{ field: 'f', kind: 'gcounter.v1', delta: { key: 'a', value: -1 } }]), kinds)), 'invalid_delta')
  assert.equal(code(() => encodeOp(op('a', 1, 't', [{ field: 'f', kind: 'gcounter.v1', delta: 'x' }]), kinds)), 'invalid_op')
  // A gcounter delta of value 0 encodes but no encoder of real increments makes it: decode refuses.
  const zero = encodeOp(op('a', 1, 't', [{ field: 'f', kind: 'gcounter.v1', delta: { key: 'a', value: 0 } }]), kinds)
  assert.equal(code(() => decodeOp(zero, kinds)), 'decode_invalid')
  // A delta with a trailing byte inside its length prefix.
  const good = encodeOp(op('a', 1, 't', [gInc('f', 'a', 3)]), kinds)
  const grown = new Uint8Array([...good.subarray(0, good.length - 4), 4, ...good.subarray(good.length - 3), 9])
  assert.equal(code(() => decodeOp(grown, kinds)), 'decode_invalid')
})

test('op shape is checked: seq ≥ 1, non-empty target, NUL-free origin, 1..1024 changes', () => {
  assert.equal(code(() => encodeOp(op('a', 0, 't', [gInc('f', 'a', 1)]), kinds)), 'invalid_op')
  assert.equal(code(() => encodeOp(op('a', 1, '', [gInc('f', 'a', 1)]), kinds)), 'invalid_op')
  assert.equal(code(() => encodeOp(op('a\0b', 1, 't', [gInc('f', 'a', 1)]), kinds)), 'invalid_op')
  assert.equal(code(() => encodeOp(op('a', 1, 't', []), kinds)), 'invalid_op')
  assert.equal(code(() => encodeOp(op('a', 1.5, 't', [gInc('f', 'a', 1)]), kinds)), 'invalid_op')
})
