// Cluster benchmark: real `formstate node` processes on 127.0.0.1 (harness of
// test/cluster/). Each figure is printed with a baseline measured in the same run:
//  0. node A's data dir is seeded offline with ACCOUNTS accounts (local commit rate);
//     B and C then join empty and pull them as ops (A has not compacted yet);
//  1. bootstrap: once A compacted, an empty node D joins from a snapshot; time from its
//     start-up banner to an equal version vector and digest (target ≤ 10 s);
//  2. write-to-visible latency: an open-loop writer process (bench/cluster-writer.ts:
//     keep-alive HTTP, 64 connections, at most 1024 writes unanswered, each write due at
//     its slot; what it could not send is reported) grants credits on A (round-robin over
//     the seeded accounts) at 1,000 and 5,000 writes/s; a poller here reads B's vector
//     entry for A (one grant = one op). The k-th write is visible when it has advanced by
//     k; latency = that poll's arrival − the k-th acknowledgement on A (order statistics,
//     times on the clock both processes share; the baseline is A's own acknowledgement
//     latency); CPU per acknowledged write of A and B from /proc;
//     target p99 ≤ 100 ms at 1,000 writes/s;
//  3. catch-up: C is stopped (cutting its TCP proxies leaked: peers re-dial C directly),
//     CATCHUP ops are written on A, C restarts; rate = ops / (time from C's last unchanged
//     poll after its banner to its vector covering them);
//     baseline = the rate at which A acknowledged the same ops (target ≥ 50,000 ops/s);
//     C's and A's CPU per op over the catch-up from /proc.
// Nodes run with the default compaction interval (30 s), as deployed: with 2 s every node
// re-snapshotted its whole state every 2 s through the latency runs.
// Usage: npm run bench:cluster [-- accounts catchup seconds [prof]]  (default 100000 30000 5)
// `prof`: SIGUSR2 to A and B around each writer run and to C around the catch-up, which
// bench/cluster-prof.mjs (preloaded through NODE_OPTIONS) turns into CPU profiles.
import '../src/polyfill.ts'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { join } from 'node:path'
import { ensureAccount } from '../src/state/billing-actions.ts'
import { accountIdFor } from '../src/state/model.ts'
import { marketplaceKinds } from '../src/state/kinds.ts'
import { billingConfigFrom } from '../src/state/tiers.ts'
import { loadOrCreateIdentity } from '../src/replication/identity.ts'
import { classicLevelKv } from '../src/store/level-kv.ts'
import { Replica } from '../src/store/replica.ts'
import { Cluster, PROJECT, ROOT, say, until, type NodeProc } from '../test/cluster/harness.ts'

const ACCOUNTS = Number(process.argv[2] ?? 100_000)
const CATCHUP = Number(process.argv[3] ?? 30_000)
const SECONDS = Number(process.argv[4] ?? 5)
/** Signal the nodes to profile the measured phases (see bench/cluster-prof.mjs). */
const PROF = process.argv[5] === 'prof'
/** Shortest time between two polls of B's vector (ms). */
const POLL_MS = 5
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))]! }
const f = (x: number, d = 1) => x.toFixed(d)

/** Seeds `dataDir` as the store of the node whose key is there (replica id = peer id). */
async function seed (dataDir: string, n: number): Promise<number> {
  const id = await loadOrCreateIdentity(dataDir)
  const store = new Replica({ replicaId: id.peerId, kv: classicLevelKv(join(dataDir, 'db')), kinds: marketplaceKinds(), durability: 'group' })
  await store.start()
  const billing = billingConfigFrom({})
  const t = performance.now()
  for (let i = 0; i < n; i += 1000) {
    await Promise.all(Array.from({ length: Math.min(1000, n - i) }, (_, j) => ensureAccount(store, billing, PROJECT, `seed-${i + j}`, Date.now())))
  }
  const rate = n / ((performance.now() - t) / 1000)
  await store.stop()
  return rate
}

const vvOf = async (n: NodeProc, origin: string): Promise<number> => (await n.replica(false)).version_vector[origin] ?? 0

/** Waits until every node has `target`'s vector, then compares digests once. */
async function caughtUp (nodes: NodeProc[], target: NodeProc, ms: number): Promise<void> {
  const want = (await target.replica(false)).version_vector as Record<string, number>
  await until('vectors cover the target', ms, async () => {
    for (const n of nodes) {
      const vv = (await n.replica(false)).version_vector as Record<string, number>
      if (Object.entries(want).some(([o, s]) => (vv[o] ?? 0) < s)) return false
    }
    return true
  }, 20)
}

async function grant (node: NodeProc, account: string, key: string): Promise<boolean> {
  try {
    const r = await node.call('POST', '/billing/credits/add', { body: { account_id: account, amount: 1, idempotency_key: key, reason: 'bench' }, timeoutMs: 30_000 })
    return r.status === 201
  } catch { return false }
}

/** Seeded account ids, used round-robin so no account's grant history grows hot. */
let accounts: string[] = []
let nextAccount = 0
const anAccount = (): string => accounts[nextAccount++ % accounts.length]!

/** Now on the clock shared with the writer process (ms since the epoch, sub-ms). */
const abs = (): number => performance.timeOrigin + performance.now()

interface WriterReport { sent: number, skipped: number, errors: number, startMs: number, endMs: number, cpuMs: number, acks: Array<[number, number]> }

/** Runs bench/cluster-writer.ts against `node` (see there); resolves with its report. */
function runWriter (node: NodeProc, rate: number, tag: string): Promise<WriterReport> {
  const argv = ['--import', 'tsx', 'bench/cluster-writer.ts', node.url, String(rate), String(SECONDS), String(ACCOUNTS), tag]
  const child = spawn(process.execPath, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  const killer = setTimeout(() => child.kill('SIGKILL'), SECONDS * 1000 + 90_000)
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      clearTimeout(killer)
      try { resolve(JSON.parse(out) as WriterReport) } catch { reject(new Error(`writer exited with ${code}: ${out.slice(0, 500)}`)) }
    })
  })
}

async function latency (writer: NodeProc, reader: NodeProc, rate: number): Promise<void> {
  // One grant is one op from the writer: the k-th write is visible on the reader when its
  // vector entry for the writer has advanced by k (order statistics: acks sorted by time).
  const seen = async (): Promise<number> => {
    for (;;) {
      try { return await vvOf(reader, writer.peerId) } catch { await sleep(5) }
    }
  }
  const before = await reader.replica(false)
  const base = await vvOf(writer, writer.peerId)
  await until('reader caught up before the run', 30_000, async () => (await seen()) >= base, 20)
  // A poll's answer is stamped with the time it arrived (an upper bound on when the
  // reader had that vector).
  const polls: Array<[number, number]> = []
  let writing = true
  let wrote = Infinity
  const poller = (async () => {
    while (writing || (polls.at(-1)?.[1] ?? 0) - base < wrote) {
      // At most one poll per POLL_MS: back-to-back polls cost B more CPU than the writes
      // they measure (~0.6 ms of B's CPU per write at 1,000/s), and the figure is ±POLL_MS.
      const due = performance.now() + POLL_MS
      const v = await seen()
      polls.push([abs(), v])
      const rest = due - performance.now()
      if (rest > 0) await sleep(rest)
    }
  })()
  const cpuA0 = cpuMs(writer)
  const cpuB0 = cpuMs(reader)
  let w: WriterReport
  const prof = (): void => { if (PROF) for (const n of [writer, reader]) n.proc?.kill('SIGUSR2') }
  prof()
  try {
    w = await runWriter(writer, rate, `${rate}-${Date.now()}`)
  } finally {
    writing = false
    prof()
  }
  wrote = w.acks.length
  await Promise.race([poller, sleep(60_000)])
  wrote = -1 // ends the poller if it timed out
  const cpuA = cpuMs(writer) - cpuA0
  const cpuB = cpuMs(reader) - cpuB0
  const acks = w.acks.map(([, t]) => t).sort((a, b) => a - b)
  const ackLat = w.acks.map(([s, t]) => t - s)
  const vis: number[] = []
  let p = 0
  for (let k = 1; k <= acks.length; k++) {
    while (p < polls.length && polls[p]![1] - base < k) p++
    if (p === polls.length) break
    vis.push(Math.max(0, polls[p]![0] - acks[k - 1]!))
  }
  const secs = (w.endMs - w.startMs) / 1000
  const span = polls.length > 1 ? (polls.at(-1)![0] - polls[0]![0]) / (polls.length - 1) : NaN
  const lastAck = acks.at(-1) ?? w.startMs
  say(`${rate} writes/s offered for ${SECONDS} s: ${w.sent} sent (${f(w.sent / secs, 0)}/s), ${w.skipped} not sent (1024 already unanswered: A was not keeping up), ${w.acks.length} acknowledged (${f(w.acks.length / ((lastAck - w.startMs) / 1000), 0)}/s), ${w.errors} errors; B polled every ${f(span)} ms`)
  say(`  write-to-visible on B: p50 ${f(pct(vis, 50))} ms, p99 ${f(pct(vis, 99))} ms, max ${f(Math.max(...vis))} ms (${vis.length} writes)`)
  say(`  CPU per acknowledged write: A ${f(cpuA * 1000 / Math.max(1, w.acks.length), 0)} µs, B ${f(cpuB * 1000 / Math.max(1, w.acks.length), 0)} µs, writer ${f(w.cpuMs * 1000 / Math.max(1, w.sent), 0)} µs per sent write incl. its start-up (2 cores for everything)`)
  const after = await reader.replica(false)
  const g = after.gossip.delayMs as { n: number, p50: number, p99: number, max: number } | undefined
  if (g !== undefined) say(`  gossip seal→receive on B (last ${g.n} batches): p50 ${f(g.p50)} ms, p99 ${f(g.p99)} ms, max ${f(g.max)} ms`)
  // Ops that gossip did not deliver wait for an anti-entropy round (a gap holds the vector).
  say(`  B received ${after.gossip.opsIn - before.gossip.opsIn} ops by gossip, ${after.sync.opsPulled - before.sync.opsPulled} by sync`)
  say(`  baseline, ack on A:    p50 ${f(pct(ackLat, 50))} ms, p99 ${f(pct(ackLat, 99))} ms  → visible p99 / ack p99 = ${f(pct(vis, 99) / pct(ackLat, 99), 2)}x; target p99 ≤ 100 ms at 1000/s: ${rate !== 1000 ? 'n/a' : pct(vis, 99) <= 100 ? 'met' : 'MISSED'}`)
}

/** CPU time (user + system, ms) of a node process so far, from /proc. */
function cpuMs (n: NodeProc): number {
  const pid = n.proc?.pid
  if (pid === undefined) return NaN
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 1000 / CLK_TCK
}
const CLK_TCK = 100

async function main (): Promise<void> {
  const cluster = await new Cluster({ syncIntervalMs: 1000 }).init()
  try {
    const A = await cluster.add('A', () => [B.p2pAddr, C.p2pAddr])
    const B: NodeProc = await cluster.add('B', () => [A.p2pAddr, C.p2pAddr])
    const C: NodeProc = await cluster.add('C', () => [A.p2pAddr, B.p2pAddr])

    say(`seeding A with ${ACCOUNTS} accounts offline`)
    const seedRate = await seed(A.dataDir, ACCOUNTS)
    say(`  ${f(seedRate, 0)} accounts/s committed locally`)
    let t = performance.now()
    await A.start()
    const aUp = performance.now() - t
    t = performance.now()
    await Promise.all([B.start(), C.start()])
    await caughtUp([B, C], A, 180_000)
    say(`B and C joined empty and pulled ${ACCOUNTS} ops (no snapshot yet) in ${f((performance.now() - t) / 1000, 2)} s incl. process start; A restarted over its log in ${f(aUp / 1000, 2)} s`)
    for (const n of [B, C]) {
      const s = (await n.replica(false)).sync
      say(`  ${n.name}: ${s.rounds} rounds (${s.roundErrors} failed), ${s.opsPulled} ops pulled, longest recent round ${f(s.maxRoundMs ?? 0, 0)} ms`)
    }

    await until('A compacted', 60_000, async () => ((await A.replica(false)).compaction?.dropped ?? 0) > 0, 250)
    const D = await cluster.add('D', () => [A.p2pAddr, B.p2pAddr])
    t = performance.now()
    await D.start()
    const banner = performance.now()
    await caughtUp([D], A, 120_000)
    const done = performance.now()
    // The vector and state are in place before the import's disk write ends and is counted.
    await until('D counted its snapshot import', 10_000, async () => (await D.replica(false)).sync.snapshotsImported > 0 || (await D.replica(false)).sync.opsPulled > 0, 50).catch(() => {})
    const [da, dd] = await Promise.all([A.replica(), D.replica()])
    say(`bootstrap of empty D into ${ACCOUNTS} accounts: ${f((done - banner) / 1000, 2)} s from its banner (${f((done - t) / 1000, 2)} s from spawn; process start alone ${f((banner - t) / 1000, 2)} s), snapshots ${dd.sync.snapshotsImported}, ops pulled ${dd.sync.opsPulled}, digest equal: ${da.digest === dd.digest}; target ≤ 10 s: ${(done - banner) / 1000 <= 10 ? 'met' : 'MISSED'}`)
    await D.stop()

    accounts = Array.from({ length: ACCOUNTS }, (_, i) => accountIdFor(PROJECT, `seed-${i}`))
    for (const rate of [1000, 5000]) await latency(A, B, rate)

    await caughtUp([C], A, 60_000)
    // C is taken off the network by stopping it: cutting its TCP proxies did not hold, as
    // the other nodes re-dial C's own listen address (learned through identify) and gossip
    // then delivered every op during the "partition". Sync serves a node back from a stop
    // exactly as from a cut; the process start is excluded from the figure below.
    const v0 = await vvOf(C, A.peerId)
    await C.stop()
    t = performance.now()
    let next = 0
    await Promise.all(Array.from({ length: 64 }, async () => { while (next < CATCHUP) await grant(A, anAccount(), `catchup-${next++}-${t}`) }))
    const writeRate = CATCHUP / ((performance.now() - t) / 1000)
    const vA = await vvOf(A, A.peerId)
    say(`C stopped; A acknowledged ${CATCHUP} writes at ${f(writeRate, 0)}/s (C at seq ${v0}, A at ${vA})`)
    await C.start()
    const heal = performance.now()
    const cpuC0 = cpuMs(C)
    const cpuA0 = cpuMs(A)
    if (PROF) C.proc?.kill('SIGUSR2')
    let lastSame = heal
    let v = await vvOf(C, A.peerId)
    if (v !== v0) say(`  warning: C was at ${v0} when stopped but at ${v} right after its banner`)
    const vStart = v
    let polls = 0
    while (v < vA) {
      if (performance.now() - heal > 120_000) throw new Error(`C stuck at ${v} of ${vA}`)
      // Polls cost C CPU it would spend catching up: one every 20 ms (±20 ms on the figure).
      await sleep(20)
      const at = performance.now()
      v = await vvOf(C, A.peerId)
      polls++
      if (v === vStart) lastSame = at
    }
    const end = performance.now()
    if (PROF) C.proc?.kill('SIGUSR2')
    const ops = vA - vStart
    const cpuC = cpuMs(C) - cpuC0
    const cpuA = cpuMs(A) - cpuA0
    const rate = ops / ((end - lastSame) / 1000)
    say(`catch-up after the partition: ${ops} ops in ${f(end - lastSame, 0)} ms = ${f(rate, 0)} ops/s (banner to caught up ${f(end - heal, 0)} ms, incl. dial; ${polls} polls); vs A's write rate ${f(rate / writeRate, 1)}x; target ≥ 50,000 ops/s: ${rate >= 50_000 ? 'met' : 'MISSED'}`)
    say(`  CPU from C's banner to caught up, per op: C ${f(cpuC * 1000 / ops)} µs, A ${f(cpuA * 1000 / ops)} µs (clock ticks of 10 ms; C may pull from B instead of A)`)
    // C's own account, free of poll granularity (a poll waits while C applies a frame): its
    // pull rounds since the restart, each timed from its request to its ops being durable.
    await until('C finished its rounds', 30_000, async () => (await C.replica(false)).sync.opsPulled >= ops, 50).catch(() => {})
    const cs = (await C.replica(false)).sync
    say(`  C's sync rounds since its restart: ${cs.rounds} (${cs.roundErrors} failed), ${cs.opsPulled} ops pulled, longest ${f(cs.maxRoundMs ?? NaN, 0)} ms → ${f(cs.opsPulled / ((cs.maxRoundMs ?? NaN) / 1000), 0)} ops/s durable if the longest round carried them all`)
  } finally {
    for (const n of cluster.nodes) if (n.proc?.exitCode != null) say(`${n.name} exited with ${n.proc.exitCode}:\n${n.tail.join('\n')}`)
    await cluster.close()
  }
}

await main()
