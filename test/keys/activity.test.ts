// The usage/failure aggregator over a real replica: many requests become one op per key per
// flush, windows split at the hour, refusals of unknown ids never reach the state, the log
// gets one summary line per flush (without keys), and memory is capped.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ApiKeyActivity } from '../../src/auth/api-key-activity.ts'
import { StoreApiKeyAuthenticator } from '../../src/auth/api-key-auth.ts'
import { generateApiKey } from '../../src/auth/api-key-format.ts'
import { createLogger, memorySink } from '../../src/log.ts'
import { createAccountChanges } from '../../src/state/account.ts'
import { keyEvents, keyUsageBuckets } from '../../src/state/api-key-audit.ts'
import { createKeyOps, readApiKey } from '../../src/state/api-keys.ts'
import { marketplaceKinds } from '../../src/state/kinds.ts'
import { accountKey } from '../../src/state/model.ts'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import { memoryLevelKv } from '../../src/store/level-kv.ts'
import { Replica } from '../../src/store/replica.ts'

const HOUR = 3_600_000
const T = 1_800_000_000_000 - (1_800_000_000_000 % HOUR) + HOUR - 1000 // one second before an hour boundary

async function setup (maxPending?: number) {
  const store = new Replica({ replicaId: 'r1', kv: memoryLevelKv(), kinds: marketplaceKinds() })
  await store.start()
  const { id: accountId, changes } = createAccountChanges(store, DEFAULT_BILLING_CONFIG, 'proj_demo', 'u@demo', T)
  await store.commit(accountKey(accountId), changes!)
  const mem = memorySink()
  const clock = { now: T }
  const activity = new ApiKeyActivity({ store, log: createLogger({ level: 'debug', sink: mem.sink, format: 'json' }), now: () => clock.now, ...(maxPending !== undefined ? { maxPending } : {}) })
  const keys = []
  for (let i = 0; i < 2; i++) {
    const gen = generateApiKey('test')
    for (const op of createKeyOps(store, { keyId: gen.keyId, accountId, projectId: 'proj_demo', name: `k${i}`, scopes: ['usage:read'], expiresAt: null, hash: gen.hash, at: T, by: 'u@demo' })) await store.commit(op.target, op.changes)
    keys.push(gen)
  }
  return { store, activity, clock, keys, lines: mem.lines }
}

test('many uses become one op per key per flush, split into the right hour windows', async () => {
  const { store, activity, clock, keys } = await setup()
  const [a, b] = keys
  for (let i = 0; i < 500; i++) activity.used(a!.keyId, T + i) // before the boundary
  for (let i = 0; i < 300; i++) activity.used(a!.keyId, T + 1000 + i) // after it
  for (let i = 0; i < 7; i++) activity.used(b!.keyId, T + 5)
  const before = store.logLength()
  await activity.flush()
  assert.equal(store.logLength() - before, 2, 'one op per key')
  const hours = keyUsageBuckets(store, a!.keyId, 'hour', 0, T + 10 * HOUR, T + 2000)
  assert.deepEqual(hours.map((h) => h.requests), [500, 300])
  assert.equal(hours[1]!.start - hours[0]!.start, HOUR)
  const days = keyUsageBuckets(store, a!.keyId, 'day', 0, T + 10 * HOUR, T + 2000)
  assert.equal(days.reduce((s, d) => s + d.requests, 0), 800)
  assert.equal(readApiKey(store, a!.keyId)!.lastUsed, T + 1299)
  assert.equal(readApiKey(store, b!.keyId)!.lastUsed, T + 5)
  // A second flush with nothing pending writes nothing; later uses add up.
  const mid = store.logLength()
  await activity.flush()
  assert.equal(store.logLength(), mid)
  clock.now = T + 2000
  activity.used(a!.keyId)
  await activity.flush()
  assert.equal(keyUsageBuckets(store, a!.keyId, 'hour', 0, T + 10 * HOUR, T + 2000).at(-1)!.requests, 301)
  assert.equal(keyEvents(store, a!.keyId, T + 2000).filter((e) => e.type === 'usage').map((e) => e.count).join(), '301,500')
  await store.stop()
})

test('refusals: known keys get counters per reason; unknown ids and malformed keys never reach the state; one log line per flush', async () => {
  const { store, activity, keys, lines } = await setup()
  const auth = new StoreApiKeyAuthenticator({ store, env: 'test', now: () => T, activity })
  const wrong = keys[0]!.display.slice(0, -3) + (keys[0]!.display.endsWith('AAA') ? 'BBB' : 'AAA')
  for (let i = 0; i < 40; i++) auth.check(wrong)
  const digest = store.digest()
  for (let i = 0; i < 1000; i++) auth.check(generateApiKey('test').display) // an attacker minting ids
  for (let i = 0; i < 100; i++) auth.check('fs_test_garbage' + i)
  assert.equal(store.digest(), digest, 'refusals are only counted in memory until the flush')
  const linesBefore = lines.length
  await activity.flush()
  const failed = keyEvents(store, keys[0]!.keyId, T).filter((e) => e.type === 'auth_failed')
  assert.deepEqual(failed.map((e) => [e.reason, e.count]), [['bad_secret', 40]])
  const newLines = lines.slice(linesBefore)
  assert.equal(newLines.length, 1, 'one summary line, not one per failure')
  const rec = JSON.parse(newLines[0]!)
  assert.equal(rec.unknown_key, 1000)
  assert.equal(rec.malformed, 100)
  assert.equal(rec.known_keys, 40)
  assert.ok(!newLines[0]!.includes(keys[0]!.keyId) && !newLines[0]!.includes('fs_test_'), 'no key in the line')
  const stats = activity.stats()
  assert.equal(stats.failuresUnknown, 1000)
  assert.equal(stats.failuresMalformed, 100)
  await store.stop()
})

test('pending entries are capped; excess is counted as dropped', async () => {
  const { store, activity } = await setup(10)
  for (let i = 0; i < 50; i++) activity.used(i.toString(16).padStart(16, '0'), T)
  assert.equal(activity.stats().pendingKeys, 10)
  assert.equal(activity.stats().dropped, 40)
  await activity.flush() // ids that are not stored keys are skipped, not written
  assert.equal(activity.stats().opsWritten, 0)
  await store.stop()
})

test('stop() flushes what is pending', async () => {
  const { store, activity, keys } = await setup()
  activity.start()
  activity.used(keys[0]!.keyId, T)
  await activity.stop()
  assert.equal(readApiKey(store, keys[0]!.keyId)!.lastUsed, T)
  await store.stop()
})
