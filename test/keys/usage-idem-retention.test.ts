// Idempotency keys of keyed usage records are remembered for their retention, not forever:
// an account recording keyed usage for weeks keeps only the recent keys, a retry within
// the retention is still a replay, and two replicas converge with late and duplicated ops.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { hmapHorizon, hmapSize, type HorizonMap } from '../../crdt/hmap.ts'
import { createAccountChanges } from '../../src/state/account.ts'
import { accountKey } from '../../src/state/model.ts'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import { recordedUsage, recordUsageOnce, USAGE_KEY_RETENTION_MS, USAGE_KEYS_FIELD } from '../../src/state/usage-idempotency.ts'
import { usageRows } from '../../src/state/usage.ts'
import type { Replica } from '../../src/store/replica.ts'
import { marketplaceReplica as replica } from '../support/marketplace-replica.ts'

const HOUR = 3_600_000
const DAY = 86_400_000
const T0 = Date.UTC(2026, 0, 1)

function keysHeld (r: Replica, accountId: string): HorizonMap {
  return r.field(accountKey(accountId), USAGE_KEYS_FIELD)!.state as HorizonMap
}

const input = (n: number) => ({ subject: { type: 'model' as const, id: 'm' }, amounts: { tokens_in: n } })

test('30 days of hourly keyed records keep one retention of keys; a retry within it replays, one past it is a new record', async () => {
  const r = await replica('r1')
  try {
    const { id, changes } = createAccountChanges(r, DEFAULT_BILLING_CONFIG, 'proj_demo', 'u@demo', T0)
    await r.commit(accountKey(id), changes!)
    let now = T0
    for (let h = 0; h < 30 * 24; h++) {
      now = T0 + h * HOUR
      assert.equal((await recordUsageOnce(r, id, `call-${h}`, input(1), now, now)).replayed, false)
    }
    const s = keysHeld(r, id)
    assert.equal(hmapHorizon(s, r.replicaId), now - USAGE_KEY_RETENTION_MS) // the writer's own horizon
    assert.equal(hmapSize(s), USAGE_KEY_RETENTION_MS / HOUR + 1, 'the keys of one retention (both ends included)')
    // A retry of a key within the retention is a replay and writes nothing.
    const recent = 30 * 24 - 5
    const before = r.digest()
    assert.equal((await recordUsageOnce(r, id, `call-${recent}`, input(1), now, now + 1)).replayed, true)
    assert.equal(r.digest(), before)
    // A key older than the retention is forgotten: a retry is counted again (documented).
    assert.equal(recordedUsage(r, id, 'call-0'), undefined)
    const tokens = (): number => usageRows(r, id, 'day', 0, now + 2, now + 1).filter((u) => u.metric === 'tokens_in').reduce((a, u) => a + u.value, 0)
    const was = tokens()
    assert.equal((await recordUsageOnce(r, id, 'call-0', input(1), now + 1, now + 1)).replayed, false)
    assert.equal(tokens(), was + 1)
  } finally {
    await r.stop()
  }
})

test('a key is still remembered while its explicit at ages out of the 7-day record window (+1 min skew), however many records follow', async () => {
  const r = await replica('r1')
  try {
    const { id, changes } = createAccountChanges(r, DEFAULT_BILLING_CONFIG, 'proj_demo', 'u@demo', T0)
    await r.commit(accountKey(id), changes!)
    // Recorded with an `at` a minute ahead of the node's clock (the most the route accepts).
    await recordUsageOnce(r, id, 'first', { ...input(3), at: T0 + 60_000 }, T0 + 60_000, T0)
    const aged = T0 + 60_000 + 7 * DAY + 1 // the route now refuses that `at` as out of the window
    for (let now = T0 + HOUR; now <= aged; now += HOUR) await recordUsageOnce(r, id, `other-${now}`, input(1), now, now)
    await recordUsageOnce(r, id, 'last', input(1), aged, aged)
    assert.ok(recordedUsage(r, id, 'first') !== undefined, 'a retry with the original at is answered as a replay')
  } finally {
    await r.stop()
  }
})

test('two replicas recording keys across the retention converge, old keys arriving late are dropped alike, and a key recorded on both counts once', async () => {
  const a = await replica('A')
  const b = await replica('B')
  try {
    const { id, changes } = createAccountChanges(a, DEFAULT_BILLING_CONFIG, 'proj_demo', 'u@demo', T0)
    await a.commit(accountKey(id), changes!)
    await b.applyRemote(await a.opsAfter(new Map(), 1000))
    // A records a key early; B never hears of it until the end.
    await recordUsageOnce(a, id, 'old', input(5), T0, T0)
    const fromA = await a.opsAfter(b.versionVector(), 1000)
    // Both record the same key concurrently, later, and other keys over 10 days.
    const t1 = T0 + 10 * DAY
    await recordUsageOnce(a, id, 'dup', input(7), t1, t1)
    await recordUsageOnce(b, id, 'dup', input(7), t1, t1 + 3)
    for (let d = 1; d <= 10; d++) {
      await recordUsageOnce(d % 2 === 0 ? a : b, id, `k${d}`, input(1), t1 + d * HOUR, t1 + d * HOUR)
    }
    const toA = await b.opsAfter(a.versionVector(), 1000)
    const toB = await a.opsAfter(b.versionVector(), 1000)
    await a.applyRemote(toA)
    await a.applyRemote(toA) // duplicated
    await b.applyRemote(toB.slice(1)) // the 'old' key's op last
    await b.applyRemote(fromA)
    assert.equal(a.digest(), b.digest())
    for (const r of [a, b]) {
      assert.equal(recordedUsage(r, id, 'old'), undefined, 'past the retention on both')
      assert.ok(recordedUsage(r, id, 'dup') !== undefined)
      assert.equal(hmapSize(keysHeld(r, id)), 12) // 'dup' is held as each replica's copy
      const now = t1 + 11 * HOUR
      const tokens = usageRows(r, id, 'day', t1 - DAY, now, now).filter((u) => u.metric === 'tokens_in').reduce((x, u) => x + u.value, 0)
      assert.equal(tokens, 7 + 10, "'dup' counted once")
    }
  } finally {
    await a.stop()
    await b.stop()
  }
})
