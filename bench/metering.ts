// Metering benchmark: CPU µs per invokeModel on a memory replica (no HTTP, no fsync), the
// changes and encoded bytes per invoke op, and an account's state size after N simulated
// days of calls. Run with
//   npm run bench:metering                       (defaults: 20000 calls, 30 days)
//   npm run bench:metering -- --calls=5000 --days=365 --per-day=200 --step-ms=0
// It uses only the state layer's public functions, so the same file runs against an older
// checkout of the tree to give a before/after in one sitting.
import '../src/polyfill.ts'
import { encodeWith } from '../crdt/codec.ts'
import { ensureAccount, grantCredits } from '../src/state/billing-actions.ts'
import { marketplaceKinds } from '../src/state/kinds.ts'
import { invokeModel } from '../src/state/metering.ts'
import { accountKey } from '../src/state/model.ts'
import { DEFAULT_BILLING_CONFIG } from '../src/state/tiers.ts'
import { memoryLevelKv } from '../src/store/level-kv.ts'
import { Replica } from '../src/store/replica.ts'

function arg (name: string, dflt: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`))
  return a === undefined ? dflt : Number(a.slice(name.length + 3))
}

const CALLS = arg('calls', 20_000)
const DAYS = arg('days', 30)
const PER_DAY = arg('per-day', 500)
/** Simulated ms between calls in the per-call run (0: every call in the same windows). */
const STEP_MS = arg('step-ms', 3000)
const PRICE = { per_1k_input: 1, per_1k_output: 2 }
const T0 = Date.UTC(2026, 0, 1)
const kinds = marketplaceKinds()

async function account (at: number): Promise<{ store: Replica, id: string }> {
  const store = new Replica({ replicaId: 'bench-node-1', kv: memoryLevelKv(), kinds, durability: 'none' })
  await store.start()
  const { id } = await ensureAccount(store, DEFAULT_BILLING_CONFIG, 'proj', 'user-1', at)
  await grantCredits(store, { accountId: id, idempotencyKey: 'bench', amount: 1e12, kind: 'manual', reason: 'bench', by: 'bench', at })
  return { store, id }
}

/** Encoded bytes and field count of one account entity. */
function stateSize (store: Replica, id: string): { fields: number, bytes: number } {
  const e = store.entity(accountKey(id))
  let bytes = 0
  let fields = 0
  for (const [field, fs] of e ?? []) {
    fields++
    const t = kinds.get(fs.kind)!
    bytes += field.length + encodeWith((w) => t.encodeState(w, fs.state)).length
  }
  return { fields, bytes }
}

async function perCall (): Promise<void> {
  const { store, id } = await account(T0)
  // One call every STEP_MS simulated ms over 5 models: minute windows roll over as in production.
  let last: ReturnType<typeof invokeModel> | undefined
  const run = (n: number, from: number): void => {
    for (let i = 0; i < n; i++) last = invokeModel(store, DEFAULT_BILLING_CONFIG, id, `model-${i % 5}`, PRICE, 100 + (i % 50), 40, T0 + (from + i) * STEP_MS)
  }
  run(Math.min(2000, CALLS), 0) // warm-up
  await last?.durable
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  run(CALLS, 2000)
  const wall = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  const op = await last!.durable!
  await store.stop()
  const opBytes = op.changes.reduce((n, c) => n + c.field.length + encodeWith((w) => kinds.get(c.kind)!.encodeDelta(w, c.delta)).length, 0)
  console.log(`invokeModel: ${CALLS} calls ${STEP_MS} ms apart, ${((cpu.user + cpu.system) / CALLS).toFixed(2)} µs CPU/call, ${(wall * 1000 / CALLS).toFixed(2)} µs wall/call`)
  console.log(`  changes per invoke op: ${op.changes.length}, delta bytes (field names + deltas): ${opBytes}`)
}

async function days (): Promise<void> {
  const { store, id } = await account(T0)
  const step = Math.floor(86_400_000 / PER_DAY)
  let last: ReturnType<typeof invokeModel> | undefined
  const marks = new Set([1, 7, 30, 90, 180, 365].filter((d) => d <= DAYS).concat([DAYS]))
  for (let d = 1; d <= DAYS; d++) {
    const cpu0 = process.cpuUsage()
    for (let i = 0; i < PER_DAY; i++) {
      last = invokeModel(store, DEFAULT_BILLING_CONFIG, id, `model-${i % 3}`, PRICE, 100, 40, T0 + (d - 1) * 86_400_000 + i * step)
    }
    if (marks.has(d)) {
      const cpu = process.cpuUsage(cpu0)
      await last?.durable
      const s = stateSize(store, id)
      console.log(`  after ${d} day(s) at ${PER_DAY} calls/day over 3 models: ${s.fields} fields, ${s.bytes} encoded bytes; that day ${((cpu.user + cpu.system) / PER_DAY).toFixed(1)} µs CPU/call`)
    }
  }
  await store.stop()
}

/** Heap bytes per account after one invoke each (a quiet account: the common case). Needs --expose-gc. */
async function heapPerAccount (): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) { console.log('heap per account: skipped (run with node --expose-gc)'); return }
  const n = arg('accounts', 5000)
  const store = new Replica({ replicaId: 'bench-node-1', kv: memoryLevelKv(), kinds, durability: 'none' })
  await store.start()
  const ids: string[] = []
  for (let i = 0; i < n; i++) ids.push((await ensureAccount(store, DEFAULT_BILLING_CONFIG, 'proj', `user-${i}`, T0)).id)
  gc(); gc()
  const before = process.memoryUsage().heapUsed
  let last: ReturnType<typeof invokeModel> | undefined
  for (let i = 0; i < n; i++) last = invokeModel(store, DEFAULT_BILLING_CONFIG, ids[i]!, 'model-1', PRICE, 100, 40, T0 + i)
  await last?.durable
  // Drop the op log's memory-level copies from the comparison: only the state is measured.
  gc(); gc()
  const after = process.memoryUsage().heapUsed
  console.log(`heap added by one invoke per account (${n} accounts, state + memory-level log): ${((after - before) / n).toFixed(0)} B/account`)
  await store.stop()
}

console.log(`bench:metering (node ${process.version})`)
await heapPerAccount()
await perCall()
console.log('account state size:')
await days()
