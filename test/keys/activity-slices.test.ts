// The activity flush writes its keys in slices and yields to the event loop between them, so
// many active keys never stall requests for the whole flush. While it runs, every key's
// stored usage plus what is still pending equals what was counted: nothing lost, nothing
// counted twice; uses counted during a flush are written by the flush asked for after them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ApiKeyActivity } from '../../src/auth/api-key-activity.ts'
import { generateApiKey } from '../../src/auth/api-key-format.ts'
import { createLogger, memorySink } from '../../src/log.ts'
import { keyUsageBuckets } from '../../src/state/api-key-audit.ts'
import { createKeyOps, readApiKey } from '../../src/state/api-keys.ts'
import { marketplaceKinds } from '../../src/state/kinds.ts'
import { memoryLevelKv } from '../../src/store/level-kv.ts'
import { Replica } from '../../src/store/replica.ts'

const HOUR = 3_600_000
const T = 1_800_000_000_000 - (1_800_000_000_000 % HOUR) + 60_000

async function setup (keyCount: number, sliceKeys: number) {
  const store = new Replica({ replicaId: 'r1', kv: memoryLevelKv(), kinds: marketplaceKinds() })
  await store.start()
  const ids: string[] = []
  for (let i = 0; i < keyCount; i++) {
    const g = generateApiKey('test')
    const [, entity] = createKeyOps(store, { keyId: g.keyId, accountId: `acc_${String(i).padStart(24, '0')}`, projectId: 'proj_demo', name: `k${i}`, scopes: ['usage:read'], expiresAt: null, hash: g.hash, at: T, by: 'u' })
    await store.commit(entity!.target, entity!.changes)
    ids.push(g.keyId)
  }
  const activity = new ApiKeyActivity({ store, log: createLogger({ level: 'silent', sink: memorySink().sink, format: 'json' }), now: () => T, sliceKeys })
  return { store, activity, ids }
}

function seen (store: Replica, activity: ApiKeyActivity, keyId: string): number {
  const stored = keyUsageBuckets(store, keyId, 'hour', 0, T + HOUR, T).reduce((s, b) => s + b.requests, 0)
  return stored + activity.pendingUsage(keyId).reduce((s, p) => s + p.n, 0)
}

test('a flush yields between slices and every count is seen exactly once throughout', async () => {
  const { store, activity, ids } = await setup(60, 8)
  const want = ids.map((_, i) => i + 1)
  ids.forEach((id, i) => { for (let n = 0; n < want[i]!; n++) activity.used(id, T + n) })
  let done = false
  let ticks = 0
  const flushed = activity.flush().then(() => { done = true })
  // Between slices other work runs; each time, stored + pending must equal the counts.
  while (!done) {
    ids.forEach((id, i) => assert.equal(seen(store, activity, id), want[i], `key ${i} at tick ${ticks}`))
    await new Promise((resolve) => setImmediate(resolve))
    ticks++
  }
  await flushed
  assert.ok(ticks >= 60 / 8 - 1, `the flush yielded (${ticks} turns of the event loop ran during it)`)
  ids.forEach((id, i) => {
    assert.equal(seen(store, activity, id), want[i])
    assert.equal(activity.pendingUsage(id).length, 0)
    assert.equal(readApiKey(store, id)!.lastUsed, T + want[i]! - 1)
  })
  assert.equal(activity.stats().opsWritten, 60)
  await store.stop()
})

test('uses counted during a running flush are written by a flush asked for meanwhile', async () => {
  const { store, activity, ids } = await setup(40, 4)
  for (const id of ids) activity.used(id, T)
  const first = activity.flush()
  await new Promise((resolve) => setImmediate(resolve)) // the first flush is between slices
  for (const id of ids) activity.used(id, T + 1)
  const second = activity.flush()
  const third = activity.flush()
  assert.equal(second, third, 'calls during one flush share the next one')
  await second
  await first
  for (const id of ids) {
    assert.equal(seen(store, activity, id), 2)
    assert.equal(activity.pendingUsage(id).length, 0)
  }
  assert.equal(activity.stats().opsWritten, 80)
  await store.stop()
})
