// Private network: nodes sharing the cluster key connect and gossip; others cannot connect.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHost, type Host } from '../../src/replication/host.ts'
import { makeClusterKey } from '../../src/replication/cluster-key.ts'
import { loadOrCreateIdentity } from '../../src/replication/identity.ts'

async function host (clusterKey: Uint8Array | undefined, peers: string[] = []): Promise<Host> {
  const { privateKey } = await loadOrCreateIdentity()
  return createHost({ privateKey, clusterKey, peers, redialMs: 0, handshakeTimeoutMs: 1000, dialTimeoutMs: 1500 })
}

function waitFor<T> (what: string, ms: number, fn: (resolve: (v: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)
    fn((v) => { clearTimeout(t); resolve(v) })
  })
}

test('two nodes with the same cluster key connect and exchange a gossip message', { timeout: 20_000 }, async () => {
  const key = makeClusterKey()
  const a = await host(key)
  const b = await host(key)
  try {
    const topic = 'form-state/test/shard/0/ops'
    a.pubsub.subscribe(topic)
    b.pubsub.subscribe(topic)
    const got = waitFor<Uint8Array>('message on b', 15_000, (resolve) => {
      b.pubsub.addEventListener('message', (evt) => { if (evt.detail.topic === topic) resolve(evt.detail.data) })
    })
    const id = await b.dial(a.addrs()[0]!)
    assert.equal(id, a.peerId)
    assert.ok(a.connectedPeers().includes(b.peerId) || b.connectedPeers().includes(a.peerId))
    // Subscriptions propagate after identify; publish until b is a subscriber on a's side.
    const payload = new TextEncoder().encode('hello')
    const deadline = Date.now() + 10_000
    while (!a.pubsub.getSubscribers(topic).some((p) => p.toString() === b.peerId) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await a.pubsub.publish(topic, payload)
    assert.deepEqual(await got, payload)
  } finally {
    await Promise.all([a.stop(), b.stop()])
  }
})

test('a node with a different cluster key cannot connect', { timeout: 20_000 }, async () => {
  const a = await host(makeClusterKey())
  const b = await host(makeClusterKey())
  try {
    await assert.rejects(b.dial(a.addrs()[0]!))
    assert.deepEqual(a.connectedPeers(), [])
    assert.deepEqual(b.connectedPeers(), [])
  } finally {
    await Promise.all([a.stop(), b.stop()])
  }
})

test('a node without the cluster key cannot connect, either way round', { timeout: 20_000 }, async () => {
  const a = await host(makeClusterKey())
  const open = await host(undefined)
  try {
    await assert.rejects(open.dial(a.addrs()[0]!))
    await assert.rejects(a.dial(open.addrs()[0]!))
    assert.deepEqual(a.connectedPeers(), [])
    assert.deepEqual(open.connectedPeers(), [])
  } finally {
    await Promise.all([a.stop(), open.stop()])
  }
})

test('configured peers are dialled at start', { timeout: 20_000 }, async () => {
  const key = makeClusterKey()
  const a = await host(key)
  const b = await host(key, a.addrs())
  try {
    await b.dialPeers()
    assert.ok(b.connectedPeers().includes(a.peerId))
  } finally {
    await Promise.all([a.stop(), b.stop()])
  }
})
