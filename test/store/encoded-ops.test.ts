// Serving sync without decoding: the log's own bytes, joined into an ops frame, decode to
// exactly the ops `opsAfter` returns.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FormStateError } from '../../src/errors.ts'
import { decodeOps, decodeOpsWithBytes, encodeOp, encodeOps, joinEncodedOps } from '../../src/store/op-codec.ts'
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

test('applyEncoded applies a batch as applyRemote does, and nothing of a bad or truncated one', async () => {
  const ops = [1, 2, 3].map((s) => op('b', s, `t${s % 2}`, [gInc('n', 'b', s), pn('c', 'p', `k${s}`, s)]))
  const batch = encodeOps(ops, kinds)
  const viaOps = memReplica('x')
  const viaBytes = memReplica('y')
  await viaOps.start()
  await viaBytes.start()
  assert.deepEqual(await viaOps.applyRemote(ops), { applied: 3, duplicates: 0, buffered: 0 })
  assert.deepEqual(await viaBytes.applyEncoded(batch), { applied: 3, duplicates: 0, buffered: 0 })
  for (const t of ['t0', 't1']) assert.deepEqual(viaBytes.entity(t), viaOps.entity(t))
  assert.deepEqual(await viaBytes.readLog('b', 0, 10), ops)
  assert.deepEqual((await viaBytes.applyEncoded(batch)).duplicates, 3)

  const fresh = memReplica('z')
  await fresh.start()
  await assert.rejects(fresh.applyEncoded(batch.subarray(0, batch.length - 3)), (err: unknown) => err instanceof FormStateError && err.code.startsWith('decode_'))
  // The second op gives field n of t0 another kind than the first: the whole batch is refused.
  const clash = encodeOps([op('b', 1, 't0', [gInc('n', 'b', 1)]), op('b', 2, 't0', [pn('n', 'p', 'k', 1)])], kinds)
  await assert.rejects(fresh.applyEncoded(clash), (err: unknown) => err instanceof FormStateError && err.code === 'invalid_op')
  assert.equal(fresh.entity('t0'), undefined)
  assert.equal(fresh.versionVector().size, 0)
  assert.equal(fresh.logLength(), 0)
  for (const r of [viaOps, viaBytes, fresh]) await r.stop()
})

test('applyDecoded applies a decodeOpsWithBytes batch as applyRemote does, and refuses any other array', async () => {
  const ops = [1, 2, 3].map((s) => op('b', s, `t${s % 2}`, [gInc('n', 'b', s), pn('c', 'p', `k${s}`, s)]))
  const viaOps = memReplica('x')
  const viaBatch = memReplica('y')
  await viaOps.start()
  await viaBatch.start()
  assert.deepEqual(await viaOps.applyRemote(ops), { applied: 3, duplicates: 0, buffered: 0 })
  const batch = decodeOpsWithBytes(encodeOps(ops, kinds), kinds)
  assert.deepEqual(await viaBatch.applyDecoded(batch), { applied: 3, duplicates: 0, buffered: 0 })
  for (const t of ['t0', 't1']) assert.deepEqual(viaBatch.entity(t), viaOps.entity(t))
  assert.deepEqual(await viaBatch.readLog('b', 0, 10), ops)
  assert.equal(viaBatch.digest(), viaOps.digest())

  // A hand-built array could pair an op with other bytes than its own: never trusted.
  const fresh = memReplica('z')
  await fresh.start()
  const forged = [{ op: ops[0]!, bytes: encodeOp(ops[1]!, kinds) }]
  await assert.rejects(fresh.applyDecoded(forged), (err: unknown) => err instanceof FormStateError && err.code === 'invalid_op')
  await assert.rejects(fresh.applyDecoded([...batch]), (err: unknown) => err instanceof FormStateError && err.code === 'invalid_op')
  assert.equal(fresh.versionVector().size, 0)
  assert.equal(fresh.logLength(), 0)
  for (const r of [viaOps, viaBatch, fresh]) await r.stop()
})
