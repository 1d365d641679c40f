// An intruder that holds the cluster key (so it can connect) but signs with a key that
// is not a cluster member's: it publishes envelopes on the cluster's gossip topic that
// (1) name its own, non-member key as origin and (2) impersonate a member's origin.
import '../../src/polyfill.ts'
import { randomBytes } from 'node:crypto'
import { loadClusterKey } from '../../src/replication/cluster-key.ts'
import { sealEnvelope } from '../../src/replication/envelope.ts'
import { opsTopic } from '../../src/replication/gossip-queue.ts'
import { createHost } from '../../src/replication/host.ts'
import { loadOrCreateIdentity } from '../../src/replication/identity.ts'

export interface ForgeOptions {
  keyFile: string
  /** Multiaddr of the node to connect to. */
  target: string
  /** A member's peer id to claim as origin. */
  impersonate: string
  cluster?: string
  rounds?: number
}

/** Publishes `rounds` pairs of forged envelopes; resolves to how many were published. */
export async function publishForged (o: ForgeOptions): Promise<number> {
  const carrier = await loadOrCreateIdentity()
  const mallory = await loadOrCreateIdentity() // never connects: not a member anywhere
  const host = await createHost({ privateKey: carrier.privateKey, clusterKey: await loadClusterKey(o.keyFile), redialMs: 0 })
  const topic = opsTopic(o.cluster ?? 'default', 0)
  let sent = 0
  try {
    const target = await host.dial(o.target)
    host.pubsub.subscribe(topic)
    const deadline = Date.now() + 10_000
    while (!host.pubsub.getSubscribers(topic).some((p) => p.toString() === target)) {
      if (Date.now() > deadline) throw new Error('target never showed up as a subscriber')
      await new Promise((r) => setTimeout(r, 100))
    }
    for (let i = 0; i < (o.rounds ?? 3); i++) {
      const body = (origin: string) => ({ cluster: o.cluster ?? 'default', origin, shard: 0, firstSeq: 1_000_000 + i, lastSeq: 1_000_000 + i, sentAt: Date.now(), ops: new Uint8Array(randomBytes(64)) })
      await host.pubsub.publish(topic, sealEnvelope(body(mallory.peerId), mallory.privateKey.raw))
      await host.pubsub.publish(topic, sealEnvelope(body(o.impersonate), mallory.privateKey.raw))
      sent += 2
      await new Promise((r) => setTimeout(r, 500))
    }
  } finally {
    await host.stop()
  }
  return sent
}
