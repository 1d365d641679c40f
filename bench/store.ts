// Store benchmark: group commit vs one fsync per op on classic-level, restart time with a
// snapshot plus a long log, and heap bytes per account. Run with
//   npm run bench:store            (node --expose-gc is set by the script)
//   npm run bench:store -- --restart-ops=200000 --accounts=20000   (smaller, quicker)
import '../src/polyfill.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { awMapType } from '../crdt/awmap.ts'
import { gcounterType } from '../crdt/gcounter.ts'
import type { Hlc } from '../crdt/hlc.ts'
import { lwwSet, lwwType } from '../crdt/lww.ts'
import { pncounterType } from '../crdt/pncounter.ts'
import { recordType } from '../crdt/record.ts'
import { defaultKinds } from '../src/store/kinds.ts'
import { classicLevelKv } from '../src/store/level-kv.ts'
import { Replica } from '../src/store/replica.ts'
import type { DurabilityPolicy } from '../src/store/types.ts'

export interface StoreBenchOptions {
  groupOps?: number
  syncOps?: number
  inFlight?: number
  restartOps?: number
  accounts?: number
  log?: (line: string) => void
}

export interface StoreBenchResult {
  groupOpsPerSec: number
  syncOpsPerSec: number
  groupVsSync: number
  groupBatches: number
  restartMs: number
  restartOps: number
  heapBytesPerAccount: number
  /** The same account's CRDT states built directly (no store, no decoding): the floor. */
  crdtBytesPerAccount: number
  accounts: number
}

function tmp (): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'fs-bench-'))
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) }
}

const kinds = defaultKinds()
const keyRecord = recordType('bench.apikey.v1', { name: lwwType, hash: lwwType, scopes: lwwType, status: lwwType, created: lwwType })
const keysMap = awMapType('bench.apikeys.v1', keyRecord)
kinds.register(keyRecord)
kinds.register(keysMap)

const counter = (field: string, key: string, total: number) => ({ field, kind: 'gcounter.v1', delta: { key, value: total } })

/** Durable commits per second with `inFlight` concurrent writers. */
async function writeRate (policy: DurabilityPolicy, ops: number, inFlight: number): Promise<{ rate: number; batches: number }> {
  const t = tmp()
  const r = new Replica({ replicaId: 'bench', kv: classicLevelKv(t.dir), kinds, durability: policy })
  try {
    await r.start()
    let next = 0
    const start = performance.now()
    const worker = async (): Promise<void> => {
      while (next < ops) {
        const i = ++next
        await r.commit(`acct/${i % 1000}`, [counter('req', 'bench', i)])
      }
    }
    await Promise.all(Array.from({ length: Math.min(inFlight, ops) }, worker))
    const ms = performance.now() - start
    return { rate: ops / (ms / 1000), batches: r.writeBatches }
  } finally {
    await r.stop()
    t.done()
  }
}

/** Start time of a replica whose log holds `ops` small ops after a snapshot. */
async function restartTime (ops: number): Promise<number> {
  const t = tmp()
  try {
    let r = new Replica({ replicaId: 'bench', kv: classicLevelKv(t.dir), kinds, durability: 'none' })
    await r.start()
    const accounts = 10_000
    const ps: Array<Promise<unknown>> = []
    for (let i = 1; i <= accounts; i++) ps.push(r.commit(`acct/${i}`, [counter('req', 'bench', 1)]))
    await Promise.all(ps)
    await r.snapshot()
    for (let i = 1; i <= ops; i += 10_000) {
      const batch: Array<Promise<unknown>> = []
      for (let j = i; j < Math.min(i + 10_000, ops + 1); j++) batch.push(r.commit(`acct/${(j % accounts) + 1}`, [counter('req', 'bench', 1 + j)]))
      await Promise.all(batch)
    }
    const digest = r.digest()
    await r.stop()
    r = new Replica({ replicaId: 'bench', kv: classicLevelKv(t.dir), kinds, durability: 'none' })
    const start = performance.now()
    await r.start()
    const ms = performance.now() - start
    if (r.digest() !== digest) throw new Error('restart produced a different state')
    if (r.logLength() !== accounts + ops) throw new Error(`log holds ${r.logLength()} ops`)
    await r.stop()
    return ms
  } finally { t.done() }
}

/**
 * The API key of account `j`: an awmap entry holding a record of five LWW fields. Every
 * account's hash is distinct (64 hex chars, like a real SHA-256): a shared constant would
 * be stored once by the decoder's string cache and under-count what real keys cost.
 */
function apiKeyDelta (j: number, now: Hlc, replica: string): ReturnType<typeof keysMap.put> {
  return keysMap.put(keysMap.empty(), replica, `key_${j.toString(36).padStart(8, '0')}`, {
    name: lwwSet('default', now, replica),
    hash: lwwSet(j.toString(16).padStart(8, '0').repeat(8), now, replica),
    // Array.of, not a literal: a literal's elements are one copy-on-write array shared by
    // every call, which the directly built baseline would get for free and decoding cannot.
    scopes: lwwSet(Array.of('read', 'write'), now, replica),
    status: lwwSet('active', now, replica),
    created: lwwSet(now.wall, now, replica),
  })
}

const at = (j: number): Hlc => ({ wall: 1_760_000_000_000 + j, logical: 0 })

/** Commit accounts `from` to `to` - 1 (one op each), resolving once all are applied. */
async function commitAccounts (r: Replica, from: number, to: number): Promise<void> {
  const ps: Array<Promise<unknown>> = []
  for (let j = from; j < to; j++) {
    ps.push(r.commit(`acct/${j.toString(36).padStart(10, '0')}`, [
      { field: 'apikeys', kind: keysMap.kind, delta: apiKeyDelta(j, at(j), 'node-1') },
      counter('usage:tok_in:d', 'node-1', 1000 + j),
      counter('usage:tok_out:d', 'node-1', 500 + j),
      counter('usage:req:d', 'node-1', 1 + (j % 10)),
      { field: 'credits', kind: 'pncounter.v1', delta: { side: 'p', key: 'grant:signup', value: 10_000 } },
    ]))
  }
  await Promise.all(ps)
}

/** Heap growth per account: one API key (awmap of LWW records), 3 usage gcounters, a balance. */
async function heapPerAccount (accounts: number): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with node --expose-gc')
  const t = tmp()
  const r = new Replica({ replicaId: 'node-1', kv: classicLevelKv(t.dir), kinds, durability: 'none' })
  try {
    await r.start()
    gc()
    const before = process.memoryUsage().heapUsed
    // Batches are committed in a helper so that the bench holds no reference to the ops a
    // batch resolved to once it returns (an awaited Promise.all result array lives on in
    // this frame: 5,000 ops with their decoded changes, ~70 bytes/account at 100k).
    for (let i = 0; i < accounts; i += 5000) await commitAccounts(r, i, Math.min(i + 5000, accounts))
    gc()
    const after = process.memoryUsage().heapUsed
    // The state is really there: every account, with its key and counters.
    if (r.targets().length !== accounts) throw new Error('accounts missing')
    const last = `acct/${(accounts - 1).toString(36).padStart(10, '0')}`
    if (r.fieldValue(last, 'usage:tok_in:d') !== 1000 + accounts - 1 || Object.keys(r.fieldValue(last, 'apikeys') as object).length !== 1) throw new Error('state missing')
    return (after - before) / accounts
  } finally {
    await r.stop()
    t.done()
  }
}

/**
 * Baseline for `heapPerAccount`, measured in the same run: the same account's CRDT states
 * built directly with crdt/ (literal strings, no decoding, no store), in holders allocated
 * before the baseline so only the states count. heap/account minus this is what the store
 * itself costs per account (entity array, map entry, target key, anything decoding adds).
 */
function crdtHeapPerAccount (accounts: number): number {
  const gc = (globalThis as { gc?: () => void }).gc!
  const holders = Array.from({ length: 5 }, () => new Array<unknown>(accounts).fill(0))
  gc()
  const before = process.memoryUsage().heapUsed
  for (let j = 0; j < accounts; j++) {
    holders[0]![j] = keysMap.apply(keysMap.empty(), apiKeyDelta(j, at(j), 'node-1'))
    holders[1]![j] = gcounterType.apply(gcounterType.empty(), { key: 'node-1', value: 1000 + j })
    holders[2]![j] = gcounterType.apply(gcounterType.empty(), { key: 'node-1', value: 500 + j })
    holders[3]![j] = gcounterType.apply(gcounterType.empty(), { key: 'node-1', value: 1 + (j % 10) })
    holders[4]![j] = pncounterType.apply(pncounterType.empty(), { side: 'p', key: 'grant:signup', value: 10_000 })
  }
  gc()
  const after = process.memoryUsage().heapUsed
  if (holders.some((h) => h[accounts - 1] === 0)) throw new Error('unreachable')
  return (after - before) / accounts
}

export async function runStoreBench (opts: StoreBenchOptions = {}): Promise<StoreBenchResult> {
  const log = opts.log ?? ((l: string) => console.log(l))
  const inFlight = opts.inFlight ?? 512
  const sync = await writeRate('sync', opts.syncOps ?? 300, inFlight)
  log(`sync per op   : ${sync.rate.toFixed(0)} durable ops/s (${sync.batches} fsyncs)`)
  const group = await writeRate('group', opts.groupOps ?? 50_000, inFlight)
  log(`group commit  : ${group.rate.toFixed(0)} durable ops/s (${group.batches} fsyncs, ${inFlight} in flight)`)
  log(`ratio         : ${(group.rate / sync.rate).toFixed(1)}x (target >= 10x, >= 20000 ops/s)`)
  const restartOps = opts.restartOps ?? 1_000_000
  const restartMs = await restartTime(restartOps)
  log(`restart       : ${restartMs.toFixed(0)} ms for a snapshot + ${restartOps} logged ops (target <= 5000 ms)`)
  const accounts = opts.accounts ?? 100_000
  const heap = await heapPerAccount(accounts)
  const crdt = crdtHeapPerAccount(accounts)
  log(`heap/account  : ${heap.toFixed(0)} bytes at ${accounts} accounts (target <= 1024)`)
  log(`  of which    : ${crdt.toFixed(0)} bytes the same CRDT states built directly, ${(heap - crdt).toFixed(0)} bytes store overhead (${(heap / crdt).toFixed(2)}x)`)
  return {
    groupOpsPerSec: group.rate,
    syncOpsPerSec: sync.rate,
    groupVsSync: group.rate / sync.rate,
    groupBatches: group.batches,
    restartMs,
    restartOps,
    heapBytesPerAccount: heap,
    crdtBytesPerAccount: crdt,
    accounts,
  }
}

function arg (name: string): number | undefined {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`))
  return a === undefined ? undefined : Number(a.slice(name.length + 3))
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await runStoreBench({ restartOps: arg('restart-ops'), accounts: arg('accounts'), groupOps: arg('group-ops'), syncOps: arg('sync-ops') })
}
