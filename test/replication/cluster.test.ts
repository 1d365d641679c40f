// Replicas on real libp2p nodes converge: gossip, catch-up via sync, restarts.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { makeClusterKey } from '../../src/replication/cluster-key.ts'
import { incr, rng, seedFromEnv, startNode, until, type TestNode } from './helpers.ts'

/** `n` random increments on a few shared accounts, each node counting under its own key. */
async function writeRandom (node: TestNode, n: number, rand: () => number, totals: Map<string, number>): Promise<void> {
  for (let i = 0; i < n; i++) {
    const target = `acct/${Math.floor(rand() * 5)}`
    const k = `${node.identity.peerId}:${target}`
    const total = (totals.get(k) ?? 0) + 1 + Math.floor(rand() * 10)
    totals.set(k, total)
    await node.store.commit(target, [incr('credits', node.identity.peerId, total)])
  }
}

const digests = (nodes: TestNode[]): string[] => nodes.map((n) => n.store.digest())
const allEqual = (xs: string[]): boolean => xs.every((x) => x === xs[0])

test('three replicas converge after writes on each (gossip, line topology)', { timeout: 60_000 }, async () => {
  const rand = rng(seedFromEnv('converge'))
  const key = makeClusterKey()
  const nodes: TestNode[] = []
  try {
    const a = await startNode({ clusterKey: key })
    nodes.push(a)
    const b = await startNode({ clusterKey: key, peers: [a.addr()] })
    nodes.push(b)
    // c only knows b: a's batches reach c relayed by b, and b vouches for a during sync.
    const c = await startNode({ clusterKey: key, peers: [b.addr()] })
    nodes.push(c)
    // Gossip reaches a peer once its subscription has propagated; before that, only sync would.
    await until('subscriptions', 10_000, () => a.repl.status().gossip.subscribers.length === 1 && b.repl.status().gossip.subscribers.length === 2 && c.repl.status().gossip.subscribers.length === 1)
    await Promise.all(nodes.map(async (n) => n.repl.syncNow())) // exchange member lists: b vouches for a to c
    assert.ok(c.repl.status().members.some((m) => m.id === a.identity.peerId && m.via === 'vouched'))
    const totals = new Map<string, number>()
    for (const n of nodes) await writeRandom(n, 200, rand, totals)
    // Sync timers are off: this converges through gossip alone.
    await until('equal digests', 20_000, () => allEqual(digests(nodes)))
    for (const n of nodes) assert.equal(n.repl.status().sync.opsPulled, 0)
    for (const n of nodes) assert.equal(n.store.versionVector().size, 3)
    // Every node's own writes are visible everywhere with the same value.
    for (const n of nodes) assert.equal(n.store.fieldValue('acct/0', 'credits'), a.store.fieldValue('acct/0', 'credits'))
    const st = b.repl.status()
    assert.ok(st.gossip.batchesOut > 0 && st.gossip.batchesIn > 0, JSON.stringify(st.gossip))
    assert.equal(Object.values(st.rejected).reduce((x, y) => x + y, 0), 0)
  } finally {
    await Promise.all(nodes.map(async (n) => n.stop()))
  }
})

test('a replica whose reader was stopped takes nothing, then catches up via sync when started', { timeout: 60_000 }, async () => {
  const rand = rng(seedFromEnv('reader'))
  const key = makeClusterKey()
  const nodes: TestNode[] = []
  try {
    const a = await startNode({ clusterKey: key })
    nodes.push(a)
    const b = await startNode({ clusterKey: key, peers: [a.addr()] })
    nodes.push(b)
    await until('connection', 10_000, () => b.repl.status().members.some((m) => m.id === a.identity.peerId && m.connected))
    await b.repl.stopReader()
    const totals = new Map<string, number>()
    await writeRandom(a, 300, rand, totals)
    a.repl.flush()
    await a.repl.syncNow() // b serves; a pulls (nothing to pull)
    const r = await b.repl.syncNow()
    assert.deepEqual(r, [], 'no pulling while the reader is stopped')
    await until('a published', 10_000, () => a.repl.status().gossip.opsOut === 300)
    await new Promise((resolve) => setTimeout(resolve, 200))
    assert.equal(b.store.versionVector().get(a.identity.peerId) ?? 0, 0, 'stopped reader applied nothing')
    b.repl.startReader()
    await until('b caught up', 15_000, () => b.store.digest() === a.store.digest())
    assert.equal(b.store.versionVector().get(a.identity.peerId), 300)
    const st = b.repl.status()
    assert.ok(st.sync.opsPulled >= 300, JSON.stringify(st.sync))
    assert.equal(st.peers[a.identity.peerId]?.lagOps, 0)
  } finally {
    await Promise.all(nodes.map(async (n) => n.stop()))
  }
})
