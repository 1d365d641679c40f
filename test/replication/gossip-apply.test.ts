// The gossip reader applies each verified batch as it arrives: a batch is visible while the
// previous one's log write is still in progress (it used to wait for that fsync first).
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { GossipSub } from '@libp2p/gossipsub'
import { sealEnvelope } from '../../src/replication/envelope.ts'
import { GossipQueue, storeOpCodec } from '../../src/replication/gossip-queue.ts'
import { loadOrCreateIdentity } from '../../src/replication/identity.ts'
import { memoryLevelKv } from '../../src/store/level-kv.ts'
import { Replica } from '../../src/store/replica.ts'
import type { KvStore } from '../../src/store/storage.ts'
import { incr, kinds, until } from './helpers.ts'

/** A real in-memory store whose batch writes wait while `held` (a slow disk). */
function slowDisk (): { kv: KvStore, hold: () => void, release: () => void, waiting: () => number } {
  const inner = memoryLevelKv()
  let gate: { promise: Promise<void>, resolve: () => void } | undefined
  let waiting = 0
  const kv = Object.create(inner) as KvStore
  kv.batch = async (writes, opts) => {
    if (gate !== undefined) { waiting++; await gate.promise; waiting-- }
    return inner.batch(writes, opts)
  }
  const hold = (): void => {
    let resolve!: () => void
    const promise = new Promise<void>((r) => { resolve = r })
    gate = { promise, resolve }
  }
  return { kv, hold, release: () => { gate?.resolve(); gate = undefined }, waiting: () => waiting }
}

test('a batch that arrives past a gap reports the gap (so a sync round can fill it), one in order does not', { timeout: 20_000 }, async () => {
  const me = await loadOrCreateIdentity()
  const peer = await loadOrCreateIdentity()
  const store = new Replica({ replicaId: me.peerId, kv: memoryLevelKv(), kinds })
  await store.start()
  const pubsub = new EventTarget() as EventTarget & Record<string, unknown>
  Object.assign(pubsub, { subscribe: () => {}, unsubscribe: () => {}, publish: async () => ({ recipients: [] }), getSubscribers: () => [] })
  const codec = storeOpCodec(kinds)
  const noop = (): void => {}
  const gaps: string[] = []
  const q = new GossipQueue({ cluster: 'default', store, pubsub: pubsub as unknown as GossipSub, codec, secretKey: me.privateKey.raw, isMember: (id) => id === peer.peerId, logger: { debug: noop, info: noop, warn: noop, error: noop }, onGap: (o) => gaps.push(o) })
  q.start()
  q.startReader()
  const deliver = (seq: number): void => {
    const ops = codec.encode([{ origin: peer.peerId, seq, shard: 0, hlc: { wall: Date.now(), logical: 0 }, target: 'acct/x', changes: [incr('credits', peer.peerId, seq)] }])
    const data = sealEnvelope({ cluster: 'default', origin: peer.peerId, shard: 0, firstSeq: seq, lastSeq: seq, sentAt: Date.now(), ops }, peer.privateKey.raw)
    pubsub.dispatchEvent(new CustomEvent('message', { detail: { type: 'signed', topic: q.topic, data } }))
  }
  try {
    deliver(1)
    assert.deepEqual(gaps, [])
    deliver(3) // 2 lost
    assert.deepEqual(gaps, [peer.peerId])
    deliver(2) // the gap is filled: 2 and 3 are both in
    assert.deepEqual(gaps, [peer.peerId])
    assert.equal(store.versionVector().get(peer.peerId), 3)
  } finally {
    await q.stop()
    await store.stop()
  }
})

test('a gossiped batch is applied while the previous batch is still being written', { timeout: 20_000 }, async () => {
  const disk = slowDisk()
  const me = await loadOrCreateIdentity()
  const peer = await loadOrCreateIdentity()
  const store = new Replica({ replicaId: me.peerId, kv: disk.kv, kinds, durability: 'none' })
  await store.start()
  const pubsub = new EventTarget() as EventTarget & Record<string, unknown>
  Object.assign(pubsub, { subscribe: () => {}, unsubscribe: () => {}, publish: async () => ({ recipients: [] }), getSubscribers: () => [] })
  const codec = storeOpCodec(kinds)
  const noop = (): void => {}
  const q = new GossipQueue({ cluster: 'default', store, pubsub: pubsub as unknown as GossipSub, codec, secretKey: me.privateKey.raw, isMember: (id) => id === peer.peerId, logger: { debug: noop, info: noop, warn: noop, error: noop } })
  q.start()
  q.startReader()
  const topic = q.topic
  const deliver = (seq: number): void => {
    const ops = codec.encode([{ origin: peer.peerId, seq, shard: 0, hlc: { wall: Date.now(), logical: 0 }, target: 'acct/x', changes: [incr('credits', peer.peerId, seq)] }])
    const data = sealEnvelope({ cluster: 'default', origin: peer.peerId, shard: 0, firstSeq: seq, lastSeq: seq, sentAt: Date.now(), ops }, peer.privateKey.raw)
    pubsub.dispatchEvent(new CustomEvent('message', { detail: { type: 'signed', topic, data } }))
  }
  try {
    disk.hold()
    deliver(1)
    await until('batch 1 is being written', 5_000, () => disk.waiting() === 1)
    deliver(2)
    await until('batch 2 visible', 5_000, () => store.versionVector().get(peer.peerId) === 2)
    assert.equal(store.fieldValue('acct/x', 'credits'), 2)
    assert.equal(disk.waiting(), 1, 'batch 1 still not written')
    disk.release()
    await q.stopReader() // waits until both batches are durable
    assert.equal((await store.readLog(peer.peerId, 0, 10)).length, 2)
  } finally {
    disk.release()
    await q.stop()
    await store.stop()
  }
})
