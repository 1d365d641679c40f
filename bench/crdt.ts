/**
 * crdt/ benchmark (not a test): counter-delta throughput, encoded size and
 * merge-into-empty time of our PN-counter against yjs and Automerge on one workload,
 * plus the heap an account-shaped state takes. Ratios are against baselines measured in
 * the same run. Run: `npm run bench:crdt` (env FORMSTATE_SEED=<n> replays a seed).
 */
import '../src/polyfill.ts'
import * as Automerge from '@automerge/automerge'
import v8 from 'node:v8'
import vm from 'node:vm'
import * as Y from 'yjs'
import { awMapType } from '../crdt/awmap.ts'
import { decodeWith, encodeWith } from '../crdt/codec.ts'
import { gcounterIncrement, gcounterType, type GCounter } from '../crdt/gcounter.ts'
import { statusLatticeType } from '../crdt/lattice.ts'
import { lwwSet, lwwType } from '../crdt/lww.ts'
import { pnDecrementKey, pnGrant, pnIncrementKey, type PnCounter, pncounterType } from '../crdt/pncounter.ts'
import { recordType } from '../crdt/record.ts'
import { rng } from '../test/support/seed.ts'

export interface CrdtBenchOptions {
  /** Increments in the main workload (default 200,000). */
  increments?: number
  /** Accounts they are spread over (default 1,000). */
  accounts?: number
  /** Increments for the Automerge run and the three-way size comparison (default 2,000). */
  subsetIncrements?: number
  /** Accounts in the subset (default 100: Automerge needs a doc per account per replica). */
  subsetAccounts?: number
  /** Accounts built for the heap measurement (default 20,000). */
  heapAccounts?: number
  seed?: number
  log?: (line: string) => void
}

const REPLICAS = ['node-a', 'node-b', 'node-c']

/** The workload: (account, replica) per increment, from a seeded PRNG. */
function workload (n: number, accounts: number, seed: number): Uint32Array {
  const rnd = rng(seed)
  const w = new Uint32Array(n * 2)
  for (let i = 0; i < n; i++) { w[2 * i] = Math.floor(rnd() * accounts); w[2 * i + 1] = Math.floor(rnd() * REPLICAS.length) }
  return w
}

function time (fn: () => void): number {
  const t0 = process.hrtime.bigint()
  fn()
  return Number(process.hrtime.bigint() - t0) / 1e6
}

interface Run { ms: number; bytes: number; mergeMs: number }

/** Ours: each increment builds a delta at its replica, applies it there and at a sink replica. */
function runOurs (w: Uint32Array, accounts: number, viaCodec: boolean): Run {
  const src: PnCounter[][] = REPLICAS.map(() => Array.from({ length: accounts }, () => pncounterType.empty()))
  const sink: PnCounter[] = Array.from({ length: accounts }, () => pncounterType.empty())
  const ms = time(() => {
    for (let i = 0; i < w.length; i += 2) {
      const a = w[i]!
      const r = w[i + 1]!
      const s = src[r]![a]!
      const d = pnIncrementKey(s, REPLICAS[r]!, 1)
      pncounterType.apply(s, d)
      if (viaCodec) {
        const bytes = encodeWith((x) => pncounterType.encodeDelta(x, d), 32)
        pncounterType.apply(sink[a]!, decodeWith(bytes, (x) => pncounterType.decodeDelta(x)))
      } else pncounterType.apply(sink[a]!, d)
    }
  })
  const encoded = sink.map((s) => encodeWith((x) => pncounterType.encodeState(x, s)))
  const bytes = encoded.reduce((n, b) => n + b.length, 0)
  let total = 0
  const mergeMs = time(() => {
    for (const b of encoded) total += pncounterType.value(pncounterType.merge(pncounterType.empty(), decodeWith(b, (x) => pncounterType.decodeState(x))))
  })
  if (total !== w.length / 2) throw new Error(`ours lost increments: ${total}`)
  return { ms, bytes, mergeMs }
}

/** yjs: a Y.Map per account in each replica's doc; a replica writes its running total under its own key. */
function runYjs (w: Uint32Array, accounts: number): Run {
  const docs = REPLICAS.map((_, i) => { const d = new Y.Doc(); d.clientID = i + 1; return d })
  const sink = new Y.Doc()
  sink.clientID = 99
  let pending: Uint8Array | undefined
  for (const d of docs) d.on('updateV2', (u: Uint8Array) => { pending = u })
  const ms = time(() => {
    for (let i = 0; i < w.length; i += 2) {
      const a = w[i]!
      const r = w[i + 1]!
      const m = docs[r]!.getMap<number>(`acct${a}`)
      m.set(REPLICAS[r]!, (m.get(REPLICAS[r]!) ?? 0) + 1)
      Y.applyUpdateV2(sink, pending!)
    }
  })
  const state = Y.encodeStateAsUpdateV2(sink)
  let total = 0
  const mergeMs = time(() => {
    const fresh = new Y.Doc()
    Y.applyUpdateV2(fresh, state)
    for (let a = 0; a < accounts; a++) for (const v of fresh.getMap<number>(`acct${a}`).values()) total += v
  })
  if (total !== w.length / 2) throw new Error(`yjs lost increments: ${total}`)
  return { ms, bytes: state.length, mergeMs }
}

/** Automerge: a doc per account per replica holding a Counter; one change per increment, applied at a sink. */
function runAutomerge (w: Uint32Array, accounts: number): Run {
  type D = { c: Automerge.Counter }
  const base = Array.from({ length: accounts }, () => Automerge.from<D>({ c: new Automerge.Counter() }))
  const docs = REPLICAS.map(() => base.map((b) => Automerge.clone(b)))
  const sink = base.map((b) => Automerge.clone(b))
  const ms = time(() => {
    for (let i = 0; i < w.length; i += 2) {
      const a = w[i]!
      const r = w[i + 1]!
      const next = Automerge.change(docs[r]![a]!, (d) => { d.c.increment(1) })
      docs[r]![a] = next
      ;[sink[a]] = Automerge.applyChanges(sink[a]!, [Automerge.getLastLocalChange(next)!])
    }
  })
  const saved = sink.map((d) => Automerge.save(d))
  let total = 0
  const mergeMs = time(() => {
    for (const b of saved) total += Automerge.load<D>(b).c.value
  })
  if (total !== w.length / 2) throw new Error(`automerge lost increments: ${total}`)
  return { ms, bytes: saved.reduce((n, b) => n + b.length, 0), mergeMs }
}

/** Heap bytes per account-shaped state: credits, three usage counters, one API key. */
function heapPerAccount (n: number): number {
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc') as () => void
  const status = statusLatticeType('bench.keystatus.v1', ['active', 'revoked'] as const)
  const apiKey = recordType('bench.apikey.v1', { name: lwwType, scopes: lwwType, expires_at: lwwType, status })
  const keys = awMapType('bench.apikeys.v1', apiKey)
  const t = { wall: Date.now(), logical: 0 }
  const build = (i: number) => {
    let credits = pncounterType.empty()
    credits = pncounterType.apply(credits, pnGrant(`cs_test_${i.toString(36).padStart(12, '0')}`, 10_000))
    credits = pncounterType.apply(credits, pnDecrementKey(credits, REPLICAS[0]!, 120 + i))
    credits = pncounterType.apply(credits, pnIncrementKey(credits, REPLICAS[1]!, 5))
    const usage: GCounter[] = [0, 1, 2].map((m) => {
      const g = gcounterType.empty()
      return gcounterType.apply(g, gcounterIncrement(g, REPLICAS[m % 3]!, 1000 + i))
    })
    const k = keys.empty()
    return { credits, usage, keys: keys.apply(k, keys.put(k, REPLICAS[0]!, `key_${i.toString(36)}`, {
      name: lwwSet('ci', t, REPLICAS[0]!), scopes: lwwSet('read', t, REPLICAS[0]!), expires_at: lwwSet(null, t, REPLICAS[0]!),
    })) }
  }
  // Holders are allocated before the baseline so only the states themselves are counted.
  const credits: unknown[] = new Array(n).fill(0)
  const usage: unknown[][] = [0, 1, 2].map(() => new Array(n).fill(0))
  const apiKeys: unknown[] = new Array(n).fill(0)
  gc()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < n; i++) {
    const a = build(i)
    credits[i] = a.credits
    for (let m = 0; m < 3; m++) usage[m]![i] = a.usage[m]
    apiKeys[i] = a.keys
  }
  gc()
  const after = process.memoryUsage().heapUsed
  if (credits.length + apiKeys.length !== 2 * n) throw new Error('unreachable')
  return (after - before) / n
}

/** Runs the benchmark, prints a report, returns the numbers. */
export async function runCrdtBench (opts: CrdtBenchOptions = {}): Promise<Record<string, number>> {
  const log = opts.log ?? console.log
  const n = opts.increments ?? 200_000
  const accounts = opts.accounts ?? 1_000
  const sn = opts.subsetIncrements ?? 2_000
  const sAccounts = opts.subsetAccounts ?? 100
  const seed = opts.seed ?? 1
  log(`crdt bench: seed ${seed} (replay with FORMSTATE_SEED=${seed}), ${n} increments over ${accounts} accounts from ${REPLICAS.length} replicas`)
  const w = workload(n, accounts, seed)
  const ws = workload(sn, sAccounts, seed + 1)

  runOurs(workload(20_000, accounts, seed + 2), accounts, false) // warm the JIT
  runYjs(workload(2_000, accounts, seed + 2), accounts)
  const ours = runOurs(w, accounts, false)
  const oursCodec = runOurs(w, accounts, true)
  const yjs = runYjs(w, accounts)
  const oursS = runOurs(ws, sAccounts, false)
  const yjsS = runYjs(ws, sAccounts)
  const am = runAutomerge(ws, sAccounts)

  const rate = (r: Run, k: number) => (k / r.ms) * 1000
  const out: Record<string, number> = {
    oursPerSec: rate(ours, n),
    oursViaCodecPerSec: rate(oursCodec, n),
    yjsPerSec: rate(yjs, n),
    automergePerSec: rate(am, sn),
    oursOverYjs: rate(ours, n) / rate(yjs, n),
    oursOverAutomerge: rate(ours, n) / rate(am, sn),
    oursBytes: ours.bytes,
    yjsV2Bytes: yjs.bytes,
    oursOverYjsBytes: ours.bytes / yjs.bytes,
    subsetOursBytes: oursS.bytes,
    subsetYjsV2Bytes: yjsS.bytes,
    subsetAutomergeBytes: am.bytes,
    oursMergeMs: ours.mergeMs,
    yjsMergeMs: yjs.mergeMs,
    subsetOursMergeMs: oursS.mergeMs,
    subsetYjsMergeMs: yjsS.mergeMs,
    subsetAutomergeMergeMs: am.mergeMs,
    heapBytesPerAccount: heapPerAccount(opts.heapAccounts ?? 20_000),
  }
  const f = (x: number) => Math.round(x).toLocaleString('en-US')
  log('delta build + apply (local and at a sink replica):')
  log(`  ours (PN-counter)          ${f(out.oursPerSec!)} /s   (with binary encode/decode of each delta: ${f(out.oursViaCodecPerSec!)} /s)`)
  log(`  yjs (Y.Map per account)    ${f(out.yjsPerSec!)} /s   → ours/yjs ${out.oursOverYjs!.toFixed(1)}×`)
  log(`  automerge (Counter docs)   ${f(out.automergePerSec!)} /s   measured on ${sn} increments over ${sAccounts} accounts, rate extrapolated → ours/automerge ${f(out.oursOverAutomerge!)}×`)
  log(`encoded state (sink), ${n} increments / ${accounts} accounts: ours ${f(ours.bytes)} B, yjs v2 ${f(yjs.bytes)} B → ours/yjs ${out.oursOverYjsBytes!.toFixed(3)}`)
  log(`encoded state, subset ${sn} / ${sAccounts}: ours ${f(oursS.bytes)} B, yjs v2 ${f(yjsS.bytes)} B, Automerge.save ${f(am.bytes)} B`)
  log(`merge into empty (decode/load + join): ours ${ours.mergeMs.toFixed(1)} ms, yjs ${yjs.mergeMs.toFixed(1)} ms; subset: ours ${oursS.mergeMs.toFixed(2)} ms, yjs ${yjsS.mergeMs.toFixed(2)} ms, automerge ${am.mergeMs.toFixed(1)} ms`)
  log(`heap per account state (credits + 3 usage counters + 1 API key): ${f(out.heapBytesPerAccount!)} B`)
  return out
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const seed = process.env.FORMSTATE_SEED === undefined ? 1 : Number(process.env.FORMSTATE_SEED)
  await runCrdtBench({ seed })
}
