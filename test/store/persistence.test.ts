// Snapshots, restart, compaction, export/import and convergence, on classic-level.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FormStateError } from '../../src/errors.ts'
import type { Op } from '../../src/store/types.ts'
import { gInc, memReplica, op, pn, rng, seedFromEnv, tempDir } from './helpers.ts'

/** Random ops from several origins, each origin's seqs 1..n (deltas carry growing totals). */
function randomOps (seed: number, origins: string[], perOrigin: number): Op[] {
  const rand = rng(seed)
  const out: Op[] = []
  for (const o of origins) {
    const totals = new Map<string, number>()
    for (let s = 1; s <= perOrigin; s++) {
      const target = `acct/${Math.floor(rand() * 20)}`
      const field = rand() < 0.5 ? 'usage' : 'credits'
      const k = `${target}/${field}`
      const total = (totals.get(k) ?? 0) + 1 + Math.floor(rand() * 5)
      totals.set(k, total)
      const change = field === 'usage' ? gInc(field, o, total) : pn(field, rand() < 0.5 ? 'p' : 'n', o, total)
      out.push(op(o, s, target, [change], 1000 + s))
    }
  }
  return out
}

function shuffle<T> (a: T[], rand: () => number): T[] {
  const b = a.slice()
  for (let i = b.length - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); [b[i], b[j]] = [b[j]!, b[i]!] }
  return b
}

test('replicas that receive the same ops in different orders (with duplicates) have equal digests', async () => {
  const seed = seedFromEnv('convergence')
  const ops = randomOps(seed, ['b', 'c', 'd'], 200)
  const rand = rng(seed + 1)
  const replicas = [memReplica('x'), memReplica('y'), memReplica('z')]
  for (const r of replicas) {
    await r.start()
    const order = shuffle([...ops, ...ops.slice(0, 100)], rand)
    for (let i = 0; i < order.length; i += 37) await r.applyRemote(order.slice(i, i + 37))
  }
  const digests = replicas.map((r) => r.digest())
  assert.equal(new Set(digests).size, 1)
  assert.deepEqual(replicas[0]!.entityDigests(), replicas[2]!.entityDigests())
  assert.deepEqual([...replicas[1]!.versionVector()].sort(), [['b', 200], ['c', 200], ['d', 200]])
  // A replica missing one op differs, and entityDigests names the entity.
  const partial = memReplica('w')
  await partial.start()
  // The last op of an origin: no later op of it raises the same counter entry past it.
  const dropped = ops[199]!
  await partial.applyRemote(ops.filter((o) => o !== dropped))
  assert.notEqual(partial.digest(), digests[0])
  const a = replicas[0]!.entityDigests()
  const diff = [...partial.entityDigests()].filter(([t, d]) => a.get(t) !== d).map(([t]) => t)
  assert.deepEqual(diff, [dropped.target])
  for (const r of [...replicas, partial]) await r.stop()
})

test('snapshot + restart (snapshot, then log replay) equals the state before', async () => {
  const tmp = tempDir()
  try {
    const seed = seedFromEnv('restart')
    const ops = randomOps(seed, ['b', 'c'], 150)
    let r = tmp.open('a')
    await r.start()
    await r.applyRemote(ops.filter((o) => !(o.origin === 'c' && o.seq === 40))) // leave a gap
    for (let i = 1; i <= 20; i++) await r.commit('acct/own', [gInc('n', 'a', i)])
    const info = await r.snapshot()
    assert.equal(info.entities, r.targets().length)
    assert.deepEqual(r.lastSnapshot(), info)
    // More ops after the snapshot: these come back from the log.
    for (let i = 21; i <= 30; i++) await r.commit('acct/own', [gInc('n', 'a', i)])
    await r.applyRemote([op('e', 1, 'acct/new', [gInc('n', 'e', 1)])])
    const before = { digest: r.digest(), vv: r.versionVector(), gaps: r.gaps(), len: r.logLength() }
    await r.stop()

    r = tmp.open('a')
    await r.start()
    assert.equal(r.digest(), before.digest)
    assert.deepEqual(r.versionVector(), before.vv)
    assert.deepEqual(r.gaps(), before.gaps)
    assert.equal(r.logLength(), before.len)
    assert.deepEqual(r.lastSnapshot()?.vv, info.vv)
    assert.equal((await r.commit('acct/own', [gInc('n', 'a', 31)])).seq, 31) // own seq recovered
    // The gap is still recognised after restart: filling it advances the vector.
    const fill = ops.find((o) => o.origin === 'c' && o.seq === 40)!
    assert.deepEqual(await r.applyRemote([fill, ops[0]!]), { applied: 1, duplicates: 1, buffered: 0 })
    assert.equal(r.versionVector().get('c'), 150)
    await r.stop()
  } finally { tmp.cleanup() }
})

test('restart without any snapshot replays the whole log', async () => {
  const tmp = tempDir()
  try {
    let r = tmp.open('a')
    await r.start()
    for (let i = 1; i <= 25; i++) await r.commit(`t/${i % 4}`, [gInc('n', 'a', i)])
    const d = r.digest()
    await r.stop()
    r = tmp.open('a')
    await r.start()
    assert.equal(r.digest(), d)
    assert.equal(r.logLength(), 25)
    assert.equal(r.lastSnapshot(), undefined)
    await r.stop()
  } finally { tmp.cleanup() }
})

test('compaction drops stable ops, keeps state equal across restart, and never outruns the snapshot', async () => {
  const tmp = tempDir()
  try {
    let r = tmp.open('a')
    await r.start()
    const ops = randomOps(7, ['b', 'c'], 100)
    await r.applyRemote(ops)
    const d = r.digest()
    // No snapshot yet: compact takes one first.
    const removed = await r.compact(new Map([['b', 60], ['c', 500], ['zz', 3]]))
    assert.equal(removed, 160) // c clamped to what we have
    assert.ok(r.lastSnapshot() !== undefined)
    assert.deepEqual([...r.compactedVv()].sort(), [['b', 60], ['c', 100]])
    assert.equal(r.logLength(), 40)
    assert.deepEqual((await r.readLog('b', 0, 1000)).map((o) => o.seq)[0], 61)
    assert.equal(await r.compact(new Map([['b', 60]])), 0) // nothing new
    await r.applyRemote([op('b', 101, 'acct/1', [gInc('usage', 'b', 10_000)])])
    const d2 = r.digest()
    assert.notEqual(d2, d)
    await r.stop()
    r = tmp.open('a')
    await r.start()
    assert.equal(r.digest(), d2)
    assert.equal(r.logLength(), 41)
    assert.deepEqual([...r.compactedVv()].sort(), [['b', 60], ['c', 100]])
    await r.stop()
  } finally { tmp.cleanup() }
})

test('export/import bootstraps a new peer; import merges, refuses garbage with a decode code', async () => {
  const tmp = tempDir()
  try {
    const src = memReplica('a')
    await src.start()
    await src.applyRemote(randomOps(11, ['b'], 80))
    for (let i = 1; i <= 5; i++) await src.commit('acct/a', [gInc('n', 'a', i)])
    const bytes = await src.exportSnapshot()

    let peer = tmp.open('p')
    await peer.start()
    await peer.commit('acct/p', [gInc('n', 'p', 1)]) // its own prior state is kept (a join)
    const garbage = bytes.slice(0, bytes.length - 3)
    await assert.rejects(peer.importSnapshot(garbage), (e: unknown) => e instanceof FormStateError && e.code.startsWith('decode_'))
    await assert.rejects(peer.importSnapshot(new Uint8Array([1, 2, 3])), (e: unknown) => e instanceof FormStateError && e.code.startsWith('decode_'))
    assert.deepEqual(peer.targets(), ['acct/p'])
    await peer.importSnapshot(bytes)
    assert.deepEqual(peer.versionVector(), new Map([['a', 5], ['b', 80], ['p', 1]]))
    assert.deepEqual(peer.compactedVv(), new Map([['a', 5], ['b', 80]]))
    // Then it catches up through ops after the snapshot.
    await src.commit('acct/a', [gInc('n', 'a', 6)])
    const missing = await src.opsAfter(peer.versionVector(), 100)
    assert.deepEqual(missing.map((o) => `${o.origin}${o.seq}`), ['a6'])
    await peer.applyRemote(missing)
    for (const t of src.targets()) assert.deepEqual(peer.inspect(t), src.inspect(t))
    const d = peer.digest()
    await peer.stop()
    peer = tmp.open('p')
    await peer.start() // imported state survives restart (import takes a snapshot)
    assert.equal(peer.digest(), d)
    assert.equal((await peer.commit('acct/p', [gInc('n', 'p', 2)])).seq, 2)
    await peer.stop()
    await src.stop()
  } finally { tmp.cleanup() }
})
