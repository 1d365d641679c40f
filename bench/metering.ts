// Metering benchmark: CPU µs per invokeModel on a memory replica (no HTTP, no fsync), the
// changes and encoded bytes per invoke op, heap per quiet account, and an account's state
// size after N simulated days of calls — each beside the same-run baseline of the old
// one-field-per-window layout (bench/metering-legacy.ts), with the ratio. Run with
//   npm run bench:metering                       (node --expose-gc is set by the script)
//   npm run bench:metering -- --calls=5000 --days=365 --per-day=200 --step-ms=0 --legacy-days=3
// The legacy layout's state grows with every window, and its cost per call with it:
// --legacy-days bounds how many simulated days it is run for (default 7).
import '../src/polyfill.ts'
import { encodeWith } from '../crdt/codec.ts'
import { ensureAccount, grantCredits } from '../src/state/billing-actions.ts'
import { marketplaceKinds } from '../src/state/kinds.ts'
import { invokeModel } from '../src/state/metering.ts'
import { accountKey } from '../src/state/model.ts'
import { DEFAULT_BILLING_CONFIG } from '../src/state/tiers.ts'
import { memoryLevelKv } from '../src/store/level-kv.ts'
import { memoryKv } from '../src/store/memory-kv.ts'
import { Replica } from '../src/store/replica.ts'
import type { KvStore } from '../src/store/storage.ts'
import type { Op } from '../src/store/types.ts'
import { legacyInvokeModel } from './metering-legacy.ts'

function arg (name: string, dflt: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`))
  return a === undefined ? dflt : Number(a.slice(name.length + 3))
}

const CALLS = arg('calls', 20_000)
const DAYS = arg('days', 30)
const LEGACY_DAYS = arg('legacy-days', 7)
const PER_DAY = arg('per-day', 500)
/** Simulated ms between calls in the per-call run (0: every call in the same windows). */
const STEP_MS = arg('step-ms', 3000)
const PRICE = { per_1k_input: 1, per_1k_output: 2 }
const T0 = Date.UTC(2026, 0, 1)
const kinds = marketplaceKinds()

/** One metered model call; returns the op's durability. */
type Invoke = (store: Replica, id: string, model: string, tokensIn: number, tokensOut: number, at: number) => Promise<Op> | undefined
const LAYOUTS: Array<[string, Invoke]> = [
  ['legacy (field per window)', (s, id, m, i, o, at) => legacyInvokeModel(s, DEFAULT_BILLING_CONFIG, id, m, PRICE, i, o, at)],
  ['windowed counters', (s, id, m, i, o, at) => invokeModel(s, DEFAULT_BILLING_CONFIG, id, m, PRICE, i, o, at).durable],
]

async function replica (kv: KvStore = memoryLevelKv()): Promise<Replica> {
  const store = new Replica({ replicaId: 'bench-node-1', kv, kinds, durability: 'none' })
  await store.start()
  return store
}

async function account (store: Replica, sub: string): Promise<string> {
  const { id } = await ensureAccount(store, DEFAULT_BILLING_CONFIG, 'proj', sub, T0)
  await grantCredits(store, { accountId: id, idempotencyKey: 'bench', amount: 1e12, kind: 'manual', reason: 'bench', by: 'bench', at: T0 })
  return id
}

/** Encoded bytes and field count of one account entity. */
function stateSize (store: Replica, id: string): { fields: number, bytes: number } {
  let bytes = 0
  let fields = 0
  for (const [field, fs] of store.entity(accountKey(id)) ?? []) {
    fields++
    bytes += field.length + encodeWith((w) => kinds.get(fs.kind)!.encodeState(w, fs.state)).length
  }
  return { fields, bytes }
}

const cpuUs = (c: NodeJS.CpuUsage): number => c.user + c.system

/** CPU µs per call for `n` calls in one account, one every STEP_MS simulated ms over 5 models; plus the last op. */
async function perCall (invoke: Invoke, n: number, kv?: KvStore): Promise<{ us: number, op: Op }> {
  const store = await replica(kv)
  const id = await account(store, 'user-1')
  let last: Promise<Op> | undefined
  const run = (count: number, from: number): void => {
    for (let i = 0; i < count; i++) last = invoke(store, id, `model-${i % 5}`, 100 + (i % 50), 40, T0 + (from + i) * STEP_MS)
  }
  run(Math.min(2000, n), 0) // warm-up
  await last
  const cpu0 = process.cpuUsage()
  run(n, 2000)
  const us = cpuUs(process.cpuUsage(cpu0)) / n
  const op = await last!
  await store.stop()
  return { us, op }
}

/** Heap bytes added per account by one invoke each (a quiet account: the common case). Needs --expose-gc. */
async function heapPerAccount (invoke: Invoke, n: number): Promise<number | undefined> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) return undefined
  const store = await replica()
  const ids: string[] = []
  for (let i = 0; i < n; i++) ids.push((await ensureAccount(store, DEFAULT_BILLING_CONFIG, 'proj', `user-${i}`, T0)).id)
  gc(); gc()
  const before = process.memoryUsage().heapUsed
  let last: Promise<Op> | undefined
  // The devnet's example call (1200 in, 300 out: 2 credits). Counter totals up to 64 are
  // shared arrays in a G-counter, which flatters the legacy layout at tiny token counts.
  for (let i = 0; i < n; i++) last = invoke(store, ids[i]!, 'model-1', 1200, 300, T0 + i)
  await last
  gc(); gc()
  const bytes = (process.memoryUsage().heapUsed - before) / n
  await store.stop()
  return bytes
}

/** State size (and CPU per call on that day) at marks over `days` simulated days, PER_DAY calls a day over 3 models. */
async function days (invoke: Invoke, days: number): Promise<Map<number, { fields: number, bytes: number, us: number }>> {
  const store = await replica()
  const id = await account(store, 'user-1')
  const step = Math.floor(86_400_000 / PER_DAY)
  const marks = new Set([1, 7, 30, 90, 180, 365].filter((d) => d <= days).concat(days > 0 ? [days] : []))
  const out = new Map<number, { fields: number, bytes: number, us: number }>()
  let last: Promise<Op> | undefined
  for (let d = 1; d <= days; d++) {
    const cpu0 = process.cpuUsage()
    for (let i = 0; i < PER_DAY; i++) last = invoke(store, id, `model-${i % 3}`, 100, 40, T0 + (d - 1) * 86_400_000 + i * step)
    const us = cpuUs(process.cpuUsage(cpu0)) / PER_DAY
    if (marks.has(d)) {
      await last
      out.set(d, { ...stateSize(store, id), us })
    }
  }
  await store.stop()
  return out
}

const ratio = (x: number, base: number): string => `${(x / base).toFixed(2)}x`

console.log(`bench:metering (node ${process.version}); baseline = ${LAYOUTS[0]![0]}, measured in this run`)

const heap: number[] = [] // measured one after the other: the two must not overlap
for (const [, invoke] of LAYOUTS) {
  const h = await heapPerAccount(invoke, arg('accounts', 5000))
  if (h !== undefined) heap.push(h)
}
if (heap.length === 2) {
  console.log(`heap added by one invoke per account (state + memory-level log): legacy ${heap[0]!.toFixed(0)} B, windowed ${heap[1]!.toFixed(0)} B (${ratio(heap[1]!, heap[0]!)})`)
} else console.log('heap per account: skipped (run with node --expose-gc)')

// Alternate the two layouts twice: the machine is shared, so drift hits both.
const us: number[][] = [[], []]
let ops: Op[] = []
for (let round = 0; round < 2; round++) {
  ops = []
  for (let l = 0; l < LAYOUTS.length; l++) {
    const r = await perCall(LAYOUTS[l]![1], CALLS)
    us[l]!.push(r.us)
    ops.push(r.op)
  }
}
const best = us.map((xs) => Math.min(...xs))
console.log(`invokeModel, ${CALLS} calls ${STEP_MS} ms apart (best of 2 alternating runs, CPU µs/call): legacy ${best[0]!.toFixed(1)}, windowed ${best[1]!.toFixed(1)} (${ratio(best[1]!, best[0]!)})`)
// The devnet's own in-memory store (src/store/memory-kv.ts) rather than memory-level.
const devnet = Math.min((await perCall(LAYOUTS[1]![1], CALLS, memoryKv())).us, (await perCall(LAYOUTS[1]![1], CALLS, memoryKv())).us)
console.log(`  windowed on the devnet's memory KV (best of 2): ${devnet.toFixed(1)} µs/call`)
ops.forEach((op, l) => {
  const bytes = op.changes.reduce((n, c) => n + c.field.length + encodeWith((w) => kinds.get(c.kind)!.encodeDelta(w, c.delta)).length, 0)
  console.log(`  ${LAYOUTS[l]![0]}: ${op.changes.length} changes per invoke op, ${bytes} bytes of field names + deltas`)
})

console.log(`account state after N simulated days, ${PER_DAY} calls/day over 3 models (legacy run for ${Math.min(LEGACY_DAYS, DAYS)} days):`)
const legacy = await days(LAYOUTS[0]![1], Math.min(LEGACY_DAYS, DAYS))
const windowed = await days(LAYOUTS[1]![1], DAYS)
for (const [d, w] of windowed) {
  const l = legacy.get(d)
  const base = l === undefined ? '' : `; legacy ${l.fields} fields, ${l.bytes} B, ${l.us.toFixed(1)} µs CPU/call (bytes ${ratio(w.bytes, l.bytes)})`
  console.log(`  day ${d}: windowed ${w.fields} fields, ${w.bytes} B, ${w.us.toFixed(1)} µs CPU/call that day${base}`)
}
