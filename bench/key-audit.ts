// API-key audit state size: keys used every hour (and refused now and then) for N simulated
// days through the real aggregator (ApiKeyActivity, one flush per simulated hour), then per
// key: fields held, buckets held, encoded state bytes, and heap per key of a fresh replica
// holding only that state (imported from a snapshot, so the op log is not counted). Run with
//   npm run bench:key-audit                      (node --expose-gc is set by the script)
//   npm run bench:key-audit -- --days=365 --keys=50
import '../src/polyfill.ts'
import { encodeWith } from '../crdt/codec.ts'
import { ApiKeyActivity } from '../src/auth/api-key-activity.ts'
import { generateApiKey } from '../src/auth/api-key-format.ts'
import { createLogger, memorySink } from '../src/log.ts'
import { createAccountChanges } from '../src/state/account.ts'
import { createKeyOps } from '../src/state/api-keys.ts'
import { marketplaceKinds } from '../src/state/kinds.ts'
import { accountKey, apiKeyKey } from '../src/state/model.ts'
import { DEFAULT_BILLING_CONFIG } from '../src/state/tiers.ts'
import { memoryLevelKv } from '../src/store/level-kv.ts'
import { Replica } from '../src/store/replica.ts'

function arg (name: string, dflt: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`))
  return a === undefined ? dflt : Number(a.slice(name.length + 3))
}

const DAYS = arg('days', 120)
const KEYS = arg('keys', 20)
const HOUR = 3_600_000
const T0 = Date.UTC(2026, 0, 1)
const kinds = marketplaceKinds()
const gc = (globalThis as { gc?: () => void }).gc

async function replica (): Promise<Replica> {
  const r = new Replica({ replicaId: 'bench-node-1', kv: memoryLevelKv(), kinds, durability: 'none' })
  await r.start()
  return r
}

function heap (): number {
  for (let i = 0; i < 3; i++) gc?.()
  return process.memoryUsage().heapUsed
}

const store = await replica()
const { id: accountId, changes } = createAccountChanges(store, DEFAULT_BILLING_CONFIG, 'proj', 'u@bench', T0)
await store.commit(accountKey(accountId), changes!)
const keyIds: string[] = []
for (let i = 0; i < KEYS; i++) {
  const gen = generateApiKey('test')
  for (const op of createKeyOps(store, { keyId: gen.keyId, accountId, projectId: 'proj', name: `k${i}`, scopes: ['usage:read'], expiresAt: null, hash: gen.hash, at: T0, by: 'u@bench' })) await store.commit(op.target, op.changes)
  keyIds.push(gen.keyId)
}
const clock = { now: T0 }
const activity = new ApiKeyActivity({ store, log: createLogger({ level: 'error', sink: memorySink().sink, format: 'json' }), now: () => clock.now })
const started = process.cpuUsage()
for (let h = 0; h < DAYS * 24; h++) {
  clock.now = T0 + h * HOUR + 1000
  for (const k of keyIds) {
    activity.used(k)
    activity.used(k)
    if (h % 24 === 3) activity.failed(k, 'bad_secret')
  }
  await activity.flush()
}
const cpu = process.cpuUsage(started)

let fields = 0
let bytes = 0
for (const k of keyIds) {
  for (const [field, fs] of store.entity(apiKeyKey(k))!) {
    fields++
    if (!/^(events|audit|last_used|use|fail)($|\/)/.test(field)) continue // identity fields: same in both layouts
    bytes += encodeWith((w) => kinds.get(fs.kind)!.encodeState(w, fs.state)).length
  }
}
const snap = await store.exportSnapshot()
const fresh = await replica()
const h0 = heap()
await fresh.importSnapshot(snap)
const h1 = heap()
console.log(`key audit state after ${DAYS} simulated days, ${KEYS} keys, 2 uses/hour + 1 refusal/day each (flush per hour):`)
console.log(`  fields per key        ${(fields / KEYS).toFixed(1)}`)
console.log(`  encoded audit bytes per key ${Math.round(bytes / KEYS)} (lifecycle events, last_used, usage and failure windows)`)
console.log(`  heap per key          ${gc === undefined ? 'n/a (run with --expose-gc)' : Math.round((h1 - h0) / KEYS) + ' B'} (fresh replica from a snapshot: no op log)`)
console.log(`  flush CPU per key-hour ${((cpu.user + cpu.system) / (DAYS * 24 * KEYS)).toFixed(1)} µs`)
await fresh.stop()
await store.stop()
