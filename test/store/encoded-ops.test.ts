// Serving sync without decoding: the log's own bytes, joined into an ops frame, decode to
// exactly the ops `opsAfter` returns.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FormStateError } from '../../src/errors.ts'
import { decodeOps, encodeOp, encodeOps, joinEncodedOps } from '../../src/store/op-codec.ts'
import { defaultKinds } from '../../src/store/kinds.ts'
import { gInc, memReplica, op, pn } from './helpers.ts'

const kinds = defaultKinds()

test('encodedOpsAfter matches opsAfter (order, limit, bytes) and joins into the encodeOps frame', async () => {
  const r = memReplica('a')
  await r.start()
  for (let i = 1; i <= 3; i++) await r.commit('t', [gInc('n', 'a', i), pn('c', 'p', `k${i}`, i)])
  await r.applyRemote([1, 2, 3, 4].map((s) => op('b', s, 't', [gInc('n', 'b', s)])))
  for (const [vv, limit] of [[new Map(), 100], [new Map([['a', 2], ['b', 1]]), 100], [new Map([['a', 1]]), 3], [new Map([['a', 3], ['b', 4]]), 10]] as const) {
    const ops = await r.opsAfter(new Map(vv), limit)
    const enc = await r.encodedOpsAfter(new Map(vv), limit)
    assert.deepEqual(enc.map((e) => [e.origin, e.seq]), ops.map((o) => [o.origin, o.seq]))
    assert.deepEqual(enc.map((e) => Buffer.from(e.bytes)), ops.map((o) => Buffer.from(encodeOp(o, kinds))))
    const joined = joinEncodedOps(enc.map((e) => e.bytes))
    assert.deepEqual(Buffer.from(joined), Buffer.from(encodeOps(ops, kinds)))
    assert.deepEqual(decodeOps(joined, kinds), ops)
  }
  await r.stop()
})

test('joinEncodedOps refuses an op of an unknown encoding version', () => {
  const bytes = encodeOp(op('b', 1, 't', [gInc('n', 'b', 1)]), kinds)
  const bad = Uint8Array.from(bytes)
  bad[0] = 99
  assert.throws(() => joinEncodedOps([bytes, bad]), (err: unknown) => err instanceof FormStateError && err.code === 'decode_invalid')
})
