// Seeded simulation of the replication protocol, in-process, on six replicas with real
// stores on disk (classic-level), real signed envelopes (seal + EnvelopeVerifier) and the
// anti-entropy rule of sync.ts (snapshot when the puller's vector does not dominate the
// responder's compacted vector, then ops after the puller's vector), over a simulated
// network that drops, duplicates, delays (reorders) and partitions, with restarts,
// stable-vector compaction and a replica that joins empty half-way. libp2p itself is not
// simulated (the process tests in cluster.test.ts run it for real).
//
// Checks: every replica ends with the same digest and vector, and every op whose commit
// was acknowledged (the commit promise resolved) is covered everywhere with its value.
// Prints its seed; FORMSTATE_SEED=<seed> replays the same schedule.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { vvDominates } from '../../crdt/version-vector.ts'
import { checkOpsMatchHeader, EnvelopeVerifier, sealEnvelope } from '../../src/replication/envelope.ts'
import { storeOpCodec } from '../../src/replication/gossip-queue.ts'
import { loadOrCreateIdentity, type NodeIdentity } from '../../src/replication/identity.ts'
import { compactStable, stableVector } from '../../src/replication/stability.ts'
import { nullLogger } from '../../src/log.ts'
import { defaultKinds } from '../../src/store/kinds.ts'
import { classicLevelKv } from '../../src/store/level-kv.ts'
import { Replica } from '../../src/store/replica.ts'
import type { Op } from '../../src/store/types.ts'
import { rng, testSeed } from '../support/seed.ts'

const CLUSTER = 'sim'
const N = 6
const STEPS = 100
const kinds = defaultKinds()
const codec = storeOpCodec(kinds)

interface Sim {
  id: NodeIdentity
  dir: string
  store: Replica
  up: boolean
  /** Joined the cluster (the last replica joins half-way). */
  joined: boolean
  verifier: EnvelopeVerifier<Op[]>
  /** Ops committed but not yet put in an envelope. */
  outbox: Op[]
}

interface InFlight { to: number, at: number, bytes: Uint8Array }

test('protocol simulation: drops, duplicates, reordering, partitions, restarts, compaction, a late joiner', { timeout: 120_000 }, async () => {
  const seed = testSeed('protocol-sim')
  const rand = rng(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!
  const root = mkdtempSync(join(tmpdir(), 'fs-sim-'))
  const sims: Sim[] = []
  const acked = new Map<string, number>() // `${origin} ${target}` → highest acknowledged total
  const ackedSeq = new Map<string, number>() // origin → highest acknowledged seq
  const stats = { sent: 0, dropped: 0, duplicated: 0, rejected: 0, rounds: 0, snapshots: 0, restarts: 0, compacted: 0 }
  try {
    const ids = await Promise.all(Array.from({ length: N }, () => loadOrCreateIdentity()))
    const members = new Set(ids.map((i) => i.peerId))
    const open = async (id: NodeIdentity, dir: string): Promise<Replica> => {
      const store = new Replica({ replicaId: id.peerId, kv: classicLevelKv(dir), kinds, durability: 'group' })
      await store.start()
      return store
    }
    for (let i = 0; i < N; i++) {
      const dir = join(root, String(i))
      sims.push({
        id: ids[i]!, dir, store: await open(ids[i]!, dir), up: true, joined: i < N - 1, outbox: [],
        verifier: new EnvelopeVerifier({ cluster: CLUSTER, isMember: (o) => members.has(o), decode: (b, h) => { const ops = codec.decode(b); checkOpsMatchHeader(ops, h); return ops } }),
      })
      sims[i]!.store.onCommit((ops) => sims[i]!.outbox.push(...ops))
    }

    let side = new Array<number>(N).fill(0) // partition side per replica
    const reachable = (a: number, b: number): boolean => sims[a]!.up && sims[b]!.up && sims[a]!.joined && sims[b]!.joined && side[a] === side[b]
    let net: InFlight[] = []

    const deliver = async (m: InFlight): Promise<void> => {
      const s = sims[m.to]!
      const r = s.verifier.open(m.bytes)
      if (!r.ok) { stats.rejected++; return } // duplicates come back as `replay`
      await s.store.applyRemote(r.ops)
    }

    /** One anti-entropy round: `a` pulls from `b` (mirrors sync.ts). */
    const pull = async (a: number, b: number): Promise<void> => {
      const A = sims[a]!.store
      const B = sims[b]!.store
      stats.rounds++
      if (!vvDominates(A.versionVector(), B.compactedVv())) {
        await A.importSnapshot(await B.exportSnapshot())
        stats.snapshots++
      }
      for (let i = 0; i < 20; i++) {
        const ops = await B.opsAfter(A.versionVector(), 200)
        if (ops.length === 0) break
        // The wire may hand them over shuffled and twice: applying must not care.
        const shuffled = [...ops, ...ops.filter(() => rand() < 0.1)].sort(() => rand() - 0.5)
        await A.applyRemote(shuffled)
      }
    }

    for (let step = 0; step < STEPS; step++) {
      const r = rand()
      if (step === STEPS / 2) {
        // Before the late joiner arrives empty: heal, sync, and compact everywhere, so the
        // joiner can only bootstrap from a snapshot.
        side = side.map(() => 0)
        for (let a = 0; a < N - 1; a++) for (let b = 0; b < N - 1; b++) if (a !== b && sims[a]!.up) await pull(a, b)
        const vectors = new Map(sims.map((x) => [x.id.peerId, x.store.versionVector()]))
        const joined = sims.filter((x) => x.joined).map((x) => x.id.peerId)
        for (const x of sims.filter((y) => y.joined)) stats.compacted += (await compactStable(x.store, stableVector(x.store.versionVector(), joined, x.id.peerId, vectors), nullLogger))?.dropped ?? 0
        sims[N - 1]!.joined = true
      }
      if (r < 0.05) {
        side = side.map(() => (rand() < 0.5 ? 0 : 1)) // a new partition
      } else if (r < 0.1) {
        side = side.map(() => 0) // healed
      } else if (r < 0.14) {
        const i = Math.floor(rand() * N)
        const s = sims[i]!
        if (s.up) { // restart: what was acknowledged must come back from disk
          await s.store.stop()
          s.outbox = [] // unsent batches are lost with the process; sync recovers them
          s.store = await open(s.id, s.dir)
          s.store.onCommit((ops) => s.outbox.push(...ops))
          stats.restarts++
        }
      } else if (r < 0.18) {
        // Compaction on one replica up to what every joined replica has (its vectors as
        // last heard are modelled by the true ones, which is what sync converges to).
        const i = Math.floor(rand() * N)
        const self = sims[i]!.store
        const vectors = new Map(sims.map((x) => [x.id.peerId, x.store.versionVector()]))
        const stable = stableVector(self.versionVector(), sims.filter((x) => x.joined).map((x) => x.id.peerId), sims[i]!.id.peerId, vectors)
        stats.compacted += (await compactStable(self, stable, nullLogger))?.dropped ?? 0
      }
      // Writes on a few replicas, acknowledged once durable.
      await Promise.all(sims.filter((s) => s.joined && rand() < 0.5).map(async (s) => {
        // Concurrent commits (one group write); each counts once its promise resolves.
        const writes: Array<Promise<void>> = []
        const next = new Map<string, number>()
        for (let k = 1 + Math.floor(rand() * 6); k > 0; k--) {
          const target = `acct/${Math.floor(rand() * 5)}`
          const key = `${s.id.peerId} ${target}`
          const total = (next.get(key) ?? acked.get(key) ?? 0) + 1
          next.set(key, total)
          writes.push(s.store.commit(target, [{ field: 'usage', kind: 'gcounter.v1', delta: { key: s.id.peerId, value: total } }]).then((op) => {
            acked.set(key, Math.max(acked.get(key) ?? 0, total))
            ackedSeq.set(s.id.peerId, Math.max(ackedSeq.get(s.id.peerId) ?? 0, op.seq))
          }))
        }
        await Promise.all(writes)
      }))
      // Gossip: each replica seals its outbox into one envelope per step.
      for (let i = 0; i < N; i++) {
        const s = sims[i]!
        if (s.outbox.length === 0) continue
        const ops = s.outbox.splice(0)
        const bytes = sealEnvelope({ cluster: CLUSTER, origin: s.id.peerId, shard: 0, firstSeq: ops[0]!.seq, lastSeq: ops.at(-1)!.seq, sentAt: Date.now(), ops: codec.encode(ops) }, s.id.privateKey.raw)
        for (let j = 0; j < N; j++) {
          if (j === i || !reachable(i, j)) continue
          stats.sent++
          if (rand() < 0.2) { stats.dropped++; continue }
          net.push({ to: j, at: step + Math.floor(rand() * 4), bytes })
          if (rand() < 0.1) { stats.duplicated++; net.push({ to: j, at: step + Math.floor(rand() * 6), bytes }) }
        }
      }
      // Deliver what is due, in random order; a message to an unreachable node is lost.
      const due = net.filter((m) => m.at <= step).sort(() => rand() - 0.5)
      net = net.filter((m) => m.at > step)
      for (const m of due) if (sims[m.to]!.up && sims[m.to]!.joined) await deliver(m)
      // Anti-entropy between a couple of reachable pairs.
      for (let k = 0; k < 2; k++) {
        const a = Math.floor(rand() * N)
        const b = pick([...Array(N).keys()].filter((x) => x !== a && reachable(a, x)))
        if (b !== undefined) await pull(a, b)
      }
    }

    // Heal and let anti-entropy finish (bounded): everybody pulls from everybody.
    side = side.map(() => 0)
    for (let round = 0; round < 10; round++) {
      for (let a = 0; a < N; a++) for (let b = 0; b < N; b++) if (a !== b) await pull(a, b)
      if (sims.every((s) => s.store.digest() === sims[0]!.store.digest())) break
    }
    console.log(`protocol-sim: ${JSON.stringify(stats)}, acknowledged ops ${[...acked.values()].reduce((a, b) => a + b, 0)}`)
    const digest = sims[0]!.store.digest()
    const expected = new Map<string, number>() // target → sum of every origin's acknowledged total
    for (const [key, total] of acked) {
      const target = key.split(' ')[1]!
      expected.set(target, (expected.get(target) ?? 0) + total)
    }
    for (const s of sims) {
      assert.equal(s.store.digest(), digest, `replica ${s.id.peerId} diverged (seed ${seed})`)
      assert.equal(s.store.gaps().size, 0)
      const vv = s.store.versionVector()
      for (const [origin, seq] of ackedSeq) assert.ok((vv.get(origin) ?? 0) >= seq, `acknowledged op ${origin}:${seq} missing (seed ${seed})`)
      for (const [target, sum] of expected) assert.equal(s.store.fieldValue(target, 'usage'), sum, `${target} (seed ${seed})`)
    }
    assert.ok(stats.snapshots > 0 && stats.restarts > 0 && stats.dropped > 0, `the schedule exercised snapshots, restarts and drops (seed ${seed}): ${JSON.stringify(stats)}`)
  } finally {
    for (const s of sims) await s.store.stop().catch(() => {})
    rmSync(root, { recursive: true, force: true })
  }
})
