// Replication benchmarks. Every figure is printed next to a baseline measured in the same run:
//  1. envelope crypto: one signature per 256-op batch vs one per op (tweetnacl);
//  2. gossip end to end (2 nodes, 127.0.0.1): batches of 256 vs one op per message;
//  3. anti-entropy catch-up rate vs the same ops arriving by gossip.
// Usage: npm run bench:replication [-- ops]   (default 4000 ops)
import '../src/polyfill.ts'
import { performance } from 'node:perf_hooks'
import { defaultKinds } from '../src/store/kinds.ts'
import { memoryLevelKv } from '../src/store/level-kv.ts'
import { Replica } from '../src/store/replica.ts'
import type { Op } from '../src/store/types.ts'
import { makeClusterKey } from '../src/replication/cluster-key.ts'
import { EnvelopeVerifier, sealEnvelope } from '../src/replication/envelope.ts'
import { loadOrCreateIdentity } from '../src/replication/identity.ts'
import { Replicator, type ReplicatorOptions } from '../src/replication/replicator.ts'

const N = Number(process.argv[2] ?? 4000)
const kinds = defaultKinds()

async function node (opts: ReplicatorOptions) {
  const identity = await loadOrCreateIdentity()
  const store = new Replica({ replicaId: identity.peerId, kv: memoryLevelKv(), kinds })
  await store.start()
  const repl = new Replicator().init({ syncIntervalMs: 0, compactIntervalMs: 0, ...opts }, { store, kinds, identity })
  await repl.start()
  return { identity, store, repl, stop: async () => { await repl.stop(); await store.stop() } }
}

async function until (cond: () => boolean, ms = 120_000, explain: () => unknown = () => ''): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(explain())}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

function incr (id: string, total: number) {
  return [{ field: 'usage', kind: 'gcounter.v1', delta: { key: id, value: total } }]
}

async function cryptoBench (): Promise<void> {
  const id = await loadOrCreateIdentity()
  const ops = new Uint8Array(256 * 80) // ~80 bytes per encoded op
  const verifier = new EnvelopeVerifier<Uint8Array>({ cluster: 'b', isMember: () => true, decode: (b) => b, maxRemembered: 1e6 })
  const body = (i: number, bytes: Uint8Array) => ({ cluster: 'b', origin: id.peerId, shard: 0, firstSeq: i, lastSeq: i, sentAt: Date.now(), ops: bytes })
  const rounds = 40
  let t = performance.now()
  for (let i = 1; i <= rounds; i++) if (!verifier.open(sealEnvelope(body(i, ops), id.privateKey.raw)).ok) throw new Error('rejected')
  const batchUs = (performance.now() - t) * 1000 / (rounds * 256)
  const perOp = ops.subarray(0, 80)
  t = performance.now()
  for (let i = 1; i <= 256 * 4; i++) if (!verifier.open(sealEnvelope(body(1000 + i, perOp), id.privateKey.raw)).ok) throw new Error('rejected')
  const opUs = (performance.now() - t) * 1000 / (256 * 4)
  console.log(`envelope seal+verify per op: batch of 256 ${batchUs.toFixed(1)} µs, one per op (baseline) ${opUs.toFixed(1)} µs  → ${(opUs / batchUs).toFixed(1)}x`)
}

async function gossipRate (maxBatch: number, n: number): Promise<number> {
  const key = makeClusterKey()
  const a = await node({ clusterKey: key, maxBatch })
  const b = await node({ clusterKey: key, peers: a.repl.status().listenAddrs })
  try {
    await until(() => a.repl.status().gossip.meshPeers.length === 1 && b.repl.status().gossip.meshPeers.length === 1, 10_000)
    await b.repl.syncNow() // the graft-triggered round, if any, must not overlap the measurement
    const t = performance.now()
    for (let i = 1; i <= n; i++) void a.store.commit('acct/1', incr(a.identity.peerId, i))
    await until(() => (b.store.versionVector().get(a.identity.peerId) ?? 0) === n, 120_000, () => [a.repl.status().gossip, b.repl.status().gossip, b.store.versionVector().get(a.identity.peerId)])
    const ms = performance.now() - t
    if (b.repl.status().sync.opsPulled > 0) throw new Error('sync ran during a gossip measurement')
    return n / ms * 1000
  } finally {
    await b.stop()
    await a.stop()
  }
}

async function syncRate (n: number): Promise<number> {
  const key = makeClusterKey()
  const a = await node({ clusterKey: key })
  const b = await node({ clusterKey: key, peers: a.repl.status().listenAddrs })
  try {
    await until(() => b.repl.status().members.length === 2, 10_000)
    await b.repl.stopReader()
    const writes: Promise<Op>[] = []
    for (let i = 1; i <= n; i++) writes.push(a.store.commit('acct/1', incr(a.identity.peerId, i)))
    await Promise.all(writes)
    const t = performance.now()
    b.repl.startReader()
    await until(() => (b.store.versionVector().get(a.identity.peerId) ?? 0) === n)
    return n / (performance.now() - t) * 1000
  } finally {
    await b.stop()
    await a.stop()
  }
}

await cryptoBench()
const small = Math.min(N, 1000)
const single = await gossipRate(1, small)
const batched = await gossipRate(256, N)
console.log(`gossip a→b: batches of 256 ${batched.toFixed(0)} ops/s, one op per message (baseline, ${small} ops) ${single.toFixed(0)} ops/s  → ${(batched / single).toFixed(1)}x`)
const synced = await syncRate(N * 5)
console.log(`anti-entropy catch-up: ${synced.toFixed(0)} ops/s (${N * 5} ops) vs gossip batched ${batched.toFixed(0)} ops/s  → ${(synced / batched).toFixed(2)}x`)
