// Replica behaviour in memory: commit, validation, remote apply, duplicates, gaps, log reads.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FormStateError } from '../../src/errors.ts'
import type { Op } from '../../src/store/types.ts'
import { gInc, memReplica, op, pn } from './helpers.ts'

async function rejectsWith (p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof FormStateError && err.code === code)
}

test('commit assigns seq and HLC, applies before it returns, resolves with the op', async () => {
  let t = 5000
  const r = memReplica('a', { now: () => t })
  await r.start()
  const p1 = r.commit('acct/1', [gInc('req', 'a', 1), pn('credits', 'p', 'grant:1', 100)])
  assert.equal(r.fieldValue('acct/1', 'req'), 1) // synchronous apply
  assert.equal(r.fieldValue('acct/1', 'credits'), 100)
  const op1 = await p1
  const op2 = await r.commit('acct/1', [gInc('req', 'a', 3)])
  t = 4000 // clock going backwards: HLC still increases
  const op3 = await r.commit('acct/2', [gInc('req', 'a', 1)])
  assert.deepEqual([op1.seq, op2.seq, op3.seq], [1, 2, 3])
  assert.deepEqual(op1.hlc, { wall: 5000, logical: 0 })
  assert.deepEqual(op2.hlc, { wall: 5000, logical: 1 })
  assert.deepEqual(op3.hlc, { wall: 5000, logical: 2 })
  assert.equal(r.fieldValue('acct/1', 'req'), 3)
  assert.deepEqual(r.targets(), ['acct/1', 'acct/2'])
  assert.deepEqual(r.targets('acct/2'), ['acct/2'])
  assert.deepEqual([...r.versionVector()], [['a', 3]])
  assert.equal(r.logLength(), 3)
  const insp = r.inspect('acct/1')!
  assert.equal(insp.req!.kind, 'gcounter.v1')
  assert.equal(insp.req!.value, 3)
  assert.equal(insp.credits!.value, 100)
  assert.equal(r.inspect('nope'), undefined)
  assert.equal(r.fieldValue('acct/1', 'nope'), undefined)
  assert.deepEqual([...r.entity('acct/1')!.keys()], ['credits', 'req'])
  await r.stop()
})

test('onCommit gets local ops once durable, in seq order; onApply sees local and remote', async () => {
  const r = memReplica('a')
  await r.start()
  const committed: number[] = []
  const applied: string[] = []
  const off = r.onCommit((ops) => { for (const o of ops) committed.push(o.seq) })
  r.onApply((o, local) => applied.push(`${o.origin}:${o.seq}:${local}`))
  const ps = []
  for (let i = 1; i <= 50; i++) ps.push(r.commit('acct/1', [gInc('n', 'a', i)]))
  assert.deepEqual(committed, []) // not durable yet
  await Promise.all(ps)
  assert.deepEqual(committed, Array.from({ length: 50 }, (_, i) => i + 1))
  await r.applyRemote([op('b', 1, 'acct/1', [gInc('n', 'b', 1)])])
  assert.equal(committed.length, 50) // remote ops are not re-announced
  assert.equal(applied.length, 51)
  assert.equal(applied[50], 'b:1:false')
  off()
  await r.commit('acct/1', [gInc('n', 'a', 99)])
  assert.equal(committed.length, 50)
  await r.stop()
})

test('an invalid commit throws invalid_op and changes nothing (state, seq, log)', async () => {
  const r = memReplica('a')
  await r.start()
  await r.commit('acct/1', [gInc('n', 'a', 1)])
  const before = r.digest()
  await rejectsWith(r.commit('acct/1', [gInc('m', 'a', 1), { field: 'x', kind: 'nope.v1', delta: 1 }]), 'invalid_op')
  await rejectsWith(r.commit('acct/1', [gInc('m', 'a', 1), { field: 'y', kind: 'gcounter.v1', delta: { key: 'a' } }]), 'invalid_op')
  await rejectsWith(r.commit('acct/1', [{ field: 'n', kind: 'pncounter.v1', delta: { side: 'p', key: 'a', value: 1 } }]), 'invalid_op') // kind clash
  await rejectsWith(r.commit('', [gInc('m', 'a', 1)]), 'invalid_op')
  assert.equal(r.digest(), before)
  assert.equal(r.fieldValue('acct/1', 'm'), undefined)
  assert.equal(r.logLength(), 1)
  assert.equal((await r.commit('acct/1', [gInc('n', 'a', 2)])).seq, 2)
  assert.equal((await r.readLog('a', 0, 10)).length, 2)
  await r.stop()
})

test('a commit before start or after stop is not_ready', async () => {
  const r = memReplica('a')
  await rejectsWith(r.commit('t', [gInc('n', 'a', 1)]), 'not_ready')
  await r.start()
  await r.stop()
  await rejectsWith(r.commit('t', [gInc('n', 'a', 1)]), 'not_ready')
})

test('applyRemote drops duplicates, applies past a gap, and keeps the vector contiguous', async () => {
  const r = memReplica('a')
  await r.start()
  const b = (seq: number): Op => op('b', seq, 'acct/1', [gInc('n', 'b', seq)])
  assert.deepEqual(await r.applyRemote([b(1), b(2), b(1)]), { applied: 2, duplicates: 1, buffered: 0 })
  assert.deepEqual(await r.applyRemote([b(5), b(4)]), { applied: 2, duplicates: 0, buffered: 2 })
  assert.equal(r.fieldValue('acct/1', 'n'), 5) // applied at once (deltas commute)
  assert.deepEqual([...r.versionVector()], [['b', 2]])
  assert.deepEqual([...r.gaps()], [['b', [3, 5]]])
  assert.deepEqual(await r.applyRemote([b(5)]), { applied: 0, duplicates: 1, buffered: 0 })
  assert.deepEqual(await r.applyRemote([b(3)]), { applied: 1, duplicates: 0, buffered: 0 })
  assert.deepEqual([...r.versionVector()], [['b', 5]])
  assert.equal(r.gaps().size, 0)
  assert.equal(r.logLength(), 5)
  await r.stop()
})

test('a batch with one bad op applies nothing', async () => {
  const r = memReplica('a')
  await r.start()
  const good = op('b', 1, 'acct/1', [gInc('n', 'b', 1)])
  const cases: Array<[Op, string]> = [
    [op('b', 2, 'acct/1', [{ field: 'z', kind: 'nope.v1', delta: 1 }]), 'invalid_op'],
    [op('b', 2, 'acct/1', [{ field: 'n', kind: 'pncounter.v1', delta: { side: 'p', key: 'b', value: 1 } }]), 'invalid_op'],
    [{ ...op('b', 2, 'acct/1', [gInc('n', 'b', 2)]), shard: 3 }, 'invalid_op'],
    [op('b', 0, 'acct/1', [gInc('n', 'b', 2)]), 'invalid_op'],
    [op('b', 2, 'acct/1', [{ field: 'n', kind: 'gcounter.v1', delta: { key: 'b', value: 0 } }]), 'decode_invalid'],
  ]
  for (const [bad, c] of cases) {
    await assert.rejects(r.applyRemote([good, bad]), (err: unknown) => err instanceof FormStateError && err.code === c, `${c} for ${JSON.stringify(bad)}`)
  }
  // Two ops of one batch giving a new field two kinds.
  await rejectsWith(r.applyRemote([good, op('b', 2, 'acct/1', [pn('n', 'p', 'k', 1)])]), 'invalid_op')
  assert.equal(r.entity('acct/1'), undefined)
  assert.equal(r.versionVector().size, 0)
  assert.equal(r.logLength(), 0)
  assert.deepEqual(await r.readLog('b', 0, 10), [])
  await r.stop()
})

test('opsAfter returns what a peer lacks, by origin then seq, bounded by limit', async () => {
  const r = memReplica('a')
  await r.start()
  for (let i = 1; i <= 3; i++) await r.commit('t', [gInc('n', 'a', i)])
  await r.applyRemote([1, 2, 3, 4].map((s) => op('b', s, 't', [gInc('n', 'b', s)])))
  const ids = (ops: Op[]): string[] => ops.map((o) => `${o.origin}${o.seq}`)
  assert.deepEqual(ids(await r.opsAfter(new Map(), 100)), ['a1', 'a2', 'a3', 'b1', 'b2', 'b3', 'b4'])
  assert.deepEqual(ids(await r.opsAfter(new Map([['a', 2], ['b', 1]]), 100)), ['a3', 'b2', 'b3', 'b4'])
  assert.deepEqual(ids(await r.opsAfter(new Map([['a', 1]]), 3)), ['a2', 'a3', 'b1'])
  assert.deepEqual(ids(await r.opsAfter(new Map([['a', 3], ['b', 4]]), 10)), [])
  assert.deepEqual(ids(await r.readLog('b', 2, 1)), ['b3'])
  // Log entries equal the ops as applied.
  assert.deepEqual((await r.readLog('b', 0, 1))[0], op('b', 1, 't', [gInc('n', 'b', 1)]))
  await r.stop()
})

test('a remote op carrying our own origin past our seq moves our next seq', async () => {
  const r = memReplica('a')
  await r.start()
  await r.applyRemote([op('a', 1, 't', [gInc('n', 'a', 1)]), op('a', 2, 't', [gInc('n', 'a', 2)])])
  assert.equal((await r.commit('t', [gInc('n', 'a', 3)])).seq, 3)
  await r.stop()
})

test('a replica id must be a plain name: empty, NUL, @ (reserved for per-replica copies) and over-long ids are refused', () => {
  for (const id of ['', 'a\0b', 'node@1', 'x'.repeat(257)]) {
    assert.throws(() => memReplica(id), (err: unknown) => err instanceof FormStateError && err.code === 'invalid_request', JSON.stringify(id))
  }
  assert.equal(memReplica('12D3KooWAbc-devnet_1.x').replicaId, '12D3KooWAbc-devnet_1.x')
})
