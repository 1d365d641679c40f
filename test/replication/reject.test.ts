// Bad envelopes arriving over real gossip are rejected whole and counted by reason.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { makeClusterKey } from '../../src/replication/cluster-key.ts'
import { sealEnvelope } from '../../src/replication/envelope.ts'
import { storeOpCodec } from '../../src/replication/gossip-queue.ts'
import { createHost } from '../../src/replication/host.ts'
import { loadOrCreateIdentity } from '../../src/replication/identity.ts'
import { incr, kinds, startNode, until } from './helpers.ts'

test('garbled, forged and non-member envelopes are rejected and nothing is applied', { timeout: 30_000 }, async () => {
  const key = makeClusterKey()
  const a = await startNode({ clusterKey: key })
  const mallory = await loadOrCreateIdentity()
  const stranger = await loadOrCreateIdentity()
  const m = await createHost({ privateKey: mallory.privateKey, clusterKey: key, peers: [a.addr()], redialMs: 0 })
  try {
    const topic = a.repl.status().gossip.topic!
    m.pubsub.subscribe(topic)
    await until('mallory sees a subscribed', 10_000, () => m.pubsub.getSubscribers(topic).some((p) => p.toString() === a.identity.peerId))
    const codec = storeOpCodec(kinds)
    const ops = (origin: string) => codec.encode([{ origin, seq: 1, shard: 0, hlc: { wall: Date.now(), logical: 0 }, target: 'acct/x', changes: [incr('credits', origin, 5)] }])
    const body = (origin: string, bytes = ops(origin)) => ({ cluster: 'default', origin, shard: 0, firstSeq: 1, lastSeq: 1, sentAt: Date.now(), ops: bytes })

    await m.pubsub.publish(topic, new TextEncoder().encode('not an envelope'))
    // Mallory is a member (she connected with the key) but signs a batch as a stranger's id...
    await m.pubsub.publish(topic, sealEnvelope(body(stranger.peerId), stranger.privateKey.raw))
    // ...and as a's id with her own key.
    await m.pubsub.publish(topic, sealEnvelope(body(a.identity.peerId), mallory.privateKey.raw))
    // Her own batch claiming an op of a's origin inside her signed envelope.
    await m.pubsub.publish(topic, sealEnvelope(body(mallory.peerId, ops(a.identity.peerId)), mallory.privateKey.raw))
    await until('four rejections', 10_000, () => Object.values(a.repl.status().rejected).reduce((x, y) => x + y, 0) === 4)
    assert.deepEqual(a.repl.status().rejected, { garbled: 1, not_member: 1, bad_signature: 1, replay: 0, decode_error: 1 })
    assert.equal(a.store.entity('acct/x'), undefined, 'nothing applied')
    // A well-formed batch from her own id is accepted: membership is the cluster key.
    await m.pubsub.publish(topic, sealEnvelope(body(mallory.peerId), mallory.privateKey.raw))
    await until('accepted', 10_000, () => a.store.fieldValue('acct/x', 'credits') === 5)
  } finally {
    await m.stop()
    await a.stop()
  }
})
