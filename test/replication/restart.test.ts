// Restarts and bootstrap: a restarted replica keeps its id and catches up; a new replica
// joining after compaction bootstraps from a snapshot.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { makeClusterKey } from '../../src/replication/cluster-key.ts'
import { incr, startNode, tempDir, until, type TestNode } from './helpers.ts'

async function write (node: TestNode, target: string, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i++) await node.store.commit(target, [incr('credits', node.identity.peerId, i)])
}

test('a replica that was stopped and restarted keeps its id and catches up', { timeout: 60_000 }, async () => {
  const key = makeClusterKey()
  const tmp = tempDir()
  const nodes: TestNode[] = []
  try {
    const dataDir = join(tmp.dir, 'a')
    let a = await startNode({ clusterKey: key, dataDir })
    nodes.push(a)
    const port = Number(a.addr().split('/')[4])
    const aId = a.identity.peerId
    const b = await startNode({ clusterKey: key, peers: [a.addr()], syncIntervalMs: 300 })
    nodes.push(b)
    await write(a, 'acct/a', 1, 50)
    await write(b, 'acct/b', 1, 50)
    await until('first convergence', 15_000, () => a.store.digest() === b.store.digest())

    await a.stop()
    await write(b, 'acct/b', 51, 150) // a misses these
    a = await startNode({ clusterKey: key, dataDir, listen: port, syncIntervalMs: 300 })
    nodes.push(a)
    assert.equal(a.identity.peerId, aId, 'same peer id after restart')
    assert.equal(a.store.versionVector().get(aId), 50, 'own ops reloaded from disk')
    assert.ok(a.repl.status().members.some((m) => m.id === b.identity.peerId), 'members reloaded from members.json')
    await until('catch-up after restart', 20_000, () => a.store.digest() === b.store.digest())
    assert.equal(a.store.versionVector().get(b.identity.peerId), 150)
    // And writes after the restart still flow both ways.
    await write(a, 'acct/a', 51, 60)
    await until('post-restart writes', 15_000, () => b.store.versionVector().get(aId) === 60)
  } finally {
    await Promise.all(nodes.map(async (n) => n.stop()))
    tmp.cleanup()
  }
})

test('after compaction, a new replica bootstraps from a snapshot then the ops after it', { timeout: 60_000 }, async () => {
  const key = makeClusterKey()
  const tmp = tempDir()
  const nodes: TestNode[] = []
  try {
    const a = await startNode({ clusterKey: key, dataDir: join(tmp.dir, 'a') })
    nodes.push(a)
    const b = await startNode({ clusterKey: key, peers: [a.addr()] })
    nodes.push(b)
    await until('connected', 10_000, () => a.repl.status().members.length === 2)
    await write(a, 'acct/1', 1, 200)
    await b.repl.syncNow() // b pulls everything
    await a.repl.syncNow() // a learns b's vector: all 200 ops are now stable
    assert.equal(b.store.versionVector().get(a.identity.peerId), 200)
    const dropped = await a.repl.compactNow()
    assert.equal(dropped, 200)
    assert.equal(a.store.compactedVv().get(a.identity.peerId), 200)
    await write(a, 'acct/1', 201, 210) // ops after the snapshot

    const c = await startNode({ clusterKey: key, peers: [a.addr()] })
    nodes.push(c)
    await until('c connected', 10_000, () => c.repl.status().members.some((m) => m.id === a.identity.peerId && m.connected))
    await c.repl.syncNow()
    assert.equal(c.store.digest(), a.store.digest())
    assert.equal(c.store.versionVector().get(a.identity.peerId), 210)
    assert.equal(c.repl.status().sync.snapshotsImported, 1)
    assert.equal(a.repl.status().sync.snapshotsServed, 1)
  } finally {
    await Promise.all(nodes.map(async (n) => n.stop()))
    tmp.cleanup()
  }
})

test('compaction waits for every member: a member never heard from blocks it', { timeout: 30_000 }, async () => {
  const key = makeClusterKey()
  const nodes: TestNode[] = []
  try {
    const a = await startNode({ clusterKey: key })
    nodes.push(a)
    const b = await startNode({ clusterKey: key, peers: [a.addr()] })
    nodes.push(b)
    await until('connected', 10_000, () => a.repl.status().members.length === 2)
    await b.stop() // a knows b is a member but never heard its vector
    await write(a, 'acct/1', 1, 20)
    assert.equal(await a.repl.compactNow(), 0)
    assert.equal(a.store.compactedVv().size, 0)
  } finally {
    await Promise.all(nodes.map(async (n) => n.stop()))
  }
})
