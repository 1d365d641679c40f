// Seeded random schedule on three replicas: writes everywhere, a reader stopped and
// started, a node restarted; with sync timers on, every replica ends with the same state.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { makeClusterKey } from '../../src/replication/cluster-key.ts'
import { incr, rng, seedFromEnv, startNode, tempDir, until, type TestNode } from './helpers.ts'

test('random writes, reader pauses and a restart still converge', { timeout: 90_000 }, async () => {
  const rand = rng(seedFromEnv('chaos'))
  const key = makeClusterKey()
  const tmp = tempDir()
  const opts = { clusterKey: key, syncIntervalMs: 250, redialMs: 200 }
  const nodes: TestNode[] = []
  const totals = new Map<string, number>()
  try {
    nodes.push(await startNode({ ...opts, dataDir: join(tmp.dir, '0') }))
    const port = Number(nodes[0]!.addr().split('/')[4])
    const first = nodes[0]!.addr()
    nodes.push(await startNode({ ...opts, peers: [first] }))
    nodes.push(await startNode({ ...opts, peers: [first, nodes[1]!.addr()] }))
    const paused = new Set<number>()
    for (let step = 0; step < 60; step++) {
      const i = Math.floor(rand() * 3)
      const n = nodes[i]!
      const r = rand()
      if (r < 0.08 && i !== 0) {
        if (paused.has(i)) { n.repl.startReader(); paused.delete(i) } else { await n.repl.stopReader(); paused.add(i) }
      } else if (r < 0.11 && i === 0) {
        await n.stop()
        nodes[0] = await startNode({ ...opts, dataDir: join(tmp.dir, '0'), listen: port })
      } else {
        const burst = 1 + Math.floor(rand() * 15)
        for (let k = 0; k < burst; k++) {
          const target = `acct/${Math.floor(rand() * 4)}`
          const id = n.identity.peerId
          const t = (totals.get(id + target) ?? 0) + 1
          totals.set(id + target, t)
          await n.store.commit(target, [incr('usage', id, t)])
        }
      }
      if (rand() < 0.3) await new Promise((resolve) => setTimeout(resolve, Math.floor(rand() * 40)))
    }
    for (const i of paused) nodes[i]!.repl.startReader()
    // Equal digests can come before equal vectors: a counter delta carries its entry's total,
    // so a later op covers a lost earlier one in the state while the vector still shows the
    // hole until anti-entropy fills it. Converged means both.
    const vectorsEqual = (): boolean => new Set(nodes.map((n) => JSON.stringify([...n.store.versionVector()].sort()))).size === 1
    await until('convergence', 30_000, () => new Set(nodes.map((n) => n.store.digest())).size === 1 && vectorsEqual())
    const vv0 = nodes[0]!.store.versionVector()
    for (const n of nodes) assert.deepEqual(n.store.versionVector(), vv0)
    for (const n of nodes) assert.deepEqual(n.store.gaps(), new Map())
    // No envelope may be refused as garbled, forged, foreign or undecodable. A `replay` is a
    // redelivery the verifier correctly drops (seen once in a CI run, around the restart,
    // and not reproduced since): allowed, and printed so a pattern would show.
    for (const n of nodes) {
      const rejected = n.repl.status().rejected
      if (rejected.replay > 0) console.log(`chaos: ${n.identity.peerId} dropped ${rejected.replay} replayed envelope(s)`)
      assert.deepEqual(Object.entries(rejected).filter(([reason, c]) => c > 0 && reason !== 'replay'), [])
    }
  } finally {
    await Promise.all(nodes.map(async (n) => n.stop()))
    tmp.cleanup()
  }
})
