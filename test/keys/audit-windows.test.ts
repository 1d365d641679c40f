// API-key usage and failure windows on windowed counters (crdt/wcounter.ts): a key used and
// refused for months holds a fixed set of fields whose windows are bounded by retention,
// readers see exact totals, a flush spanning several windows is one op, late counts below
// the horizon change nothing, and two replicas exchanging ops late, duplicated and
// reordered converge; lifecycle events are kept for their retention, not forever. Seeded: FORMSTATE_SEED=<n> replays the convergence run.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { type WindowedCounter, windowedEach } from '../../crdt/wcounter.ts'
import { ApiKeyActivity } from '../../src/auth/api-key-activity.ts'
import { generateApiKey } from '../../src/auth/api-key-format.ts'
import { createLogger, memorySink } from '../../src/log.ts'
import { createAccountChanges } from '../../src/state/account.ts'
import { hmapHorizon, hmapSize, type HorizonMap } from '../../crdt/hmap.ts'
import { EVENT_RETENTION_MS, EVENTS_FIELD, failField, keyActivityChanges, keyEvents, type KeyCount, keyUsageBuckets, USE_FIELD } from '../../src/state/api-key-audit.ts'
import { createKeyOps, updateKeyChanges } from '../../src/state/api-keys.ts'
import { accountKey, apiKeyKey, KIND } from '../../src/state/model.ts'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import { bucketOf, RESOLUTIONS } from '../../src/state/windows.ts'
import type { Replica } from '../../src/store/replica.ts'
import type { Op } from '../../src/store/types.ts'
import { LossyLink } from '../support/lossy-link.ts'
import { rng, testSeed } from '../support/seed.ts'
import { marketplaceReplica as replica } from '../support/marketplace-replica.ts'

const HOUR = 3_600_000
const DAY = 86_400_000
const T0 = Date.UTC(2026, 0, 1)

async function withKey (r: Replica): Promise<string> {
  const { id: accountId, changes } = createAccountChanges(r, DEFAULT_BILLING_CONFIG, 'proj_demo', 'u@demo', T0)
  await r.commit(accountKey(accountId), changes!)
  const gen = generateApiKey('test')
  for (const op of createKeyOps(r, { keyId: gen.keyId, accountId, projectId: 'proj_demo', name: 'k', scopes: ['usage:read'], expiresAt: null, hash: gen.hash, at: T0, by: 'u@demo' })) await r.commit(op.target, op.changes)
  return gen.keyId
}

/** Buckets held in the hour and day slots of a windowed field. */
function held (r: Replica, keyId: string, field: string): { hour: number, day: number } {
  const s = r.field(apiKeyKey(keyId), field)!.state as WindowedCounter
  const count = (slot: number): number => {
    let n = 0
    windowedEach(s, slot, 0, Number.MAX_SAFE_INTEGER, () => { n++ })
    return n
  }
  return { hour: count(RESOLUTIONS.hour.slot), day: count(RESOLUTIONS.day.slot) }
}

test('a key used every hour and refused daily for 150 days keeps a fixed set of fields, windows bounded by retention, exact totals', async () => {
  const r = await replica('r1')
  try {
    const keyId = await withKey(r)
    const clock = { now: T0 }
    const activity = new ApiKeyActivity({ store: r, log: createLogger({ level: 'error', sink: memorySink().sink, format: 'json' }), now: () => clock.now })
    const uses: number[] = []
    const fails: number[] = []
    let fieldsAtDay10 = -1
    for (let h = 0; h < 150 * 24; h++) {
      clock.now = T0 + h * HOUR + 7 * 60_000
      const n = 1 + (h % 3)
      for (let i = 0; i < n; i++) { activity.used(keyId); uses.push(clock.now) }
      if (h % 24 === 5) { activity.failed(keyId, 'bad_secret'); fails.push(clock.now) }
      await activity.flush()
      if (h === 10 * 24) fieldsAtDay10 = r.entity(apiKeyKey(keyId))!.size
    }
    const now = clock.now
    assert.equal(r.entity(apiKeyKey(keyId))!.size, fieldsAtDay10, 'no new fields as time passes')
    assert.equal(r.field(apiKeyKey(keyId), USE_FIELD)!.kind, KIND.windows)
    for (const field of [USE_FIELD, failField('bad_secret')]) {
      const b = held(r, keyId, field)
      assert.ok(b.hour <= RESOLUTIONS.hour.retention, `${field}: ${b.hour} hour windows`)
      // Retention, not sparseness, bounds the days: all 90 retained day windows are held.
      assert.equal(b.day, RESOLUTIONS.day.retention, `${field}: ${b.day} day windows`)
    }
    // Day windows of the last 30 days hold every use in them, counted once.
    const from = (bucketOf('day', now) - 29) * DAY
    const days = keyUsageBuckets(r, keyId, 'day', from, now + 1, now)
    assert.equal(days.length, 30)
    for (const d of days) assert.equal(d.requests, uses.filter((at) => at >= d.start && at < d.start + DAY).length)
    const hours = keyUsageBuckets(r, keyId, 'hour', 0, now + 1, now)
    assert.equal(hours.length, RESOLUTIONS.hour.retention)
    assert.equal(hours.reduce((n, x) => n + x.requests, 0), uses.filter((at) => at >= hours[0]!.start).length)
    // Events: one usage event per retained hour, one auth_failed per day with a refusal in the week.
    const events = keyEvents(r, keyId, now)
    assert.equal(events.filter((e) => e.type === 'usage').length, RESOLUTIONS.hour.retention)
    const failed = events.filter((e) => e.type === 'auth_failed')
    assert.equal(failed.length, fails.filter((at) => at >= hours[0]!.start).length)
    assert.ok(failed.every((e) => e.reason === 'bad_secret' && e.count === 1 && e.window === 'hour'))
    // Windows older than retention are gone from the state, not just hidden.
    assert.deepEqual(keyUsageBuckets(r, keyId, 'day', 0, T0 + 30 * DAY, Number.MAX_SAFE_INTEGER / 2), [])
  } finally {
    await r.stop()
  }
})

test('counts spanning hours and a day boundary are one op; a late count below the horizon changes nothing', async () => {
  const r = await replica('r1')
  try {
    const keyId = await withKey(r)
    const at = T0 + 10 * DAY - 90 * 60_000 // 22:30 on day 9
    const counts: KeyCount[] = [{ at, n: 4 }, { at: at + HOUR, n: 5 }, { at: at + 2 * HOUR, n: 6 }, { at: at + 2 * HOUR, n: 1, reason: 'revoked' }]
    const changes = keyActivityChanges(r, keyId, counts, at + 2 * HOUR)
    assert.deepEqual(changes.map((c) => c.field), [USE_FIELD, USE_FIELD, USE_FIELD, failField('revoked'), 'last_used'])
    await r.commit(apiKeyKey(keyId), changes)
    const now = at + 2 * HOUR + 1
    assert.deepEqual(keyUsageBuckets(r, keyId, 'hour', 0, now, now).map((b) => b.requests), [4, 5, 6])
    assert.deepEqual(keyUsageBuckets(r, keyId, 'day', 0, now, now).map((b) => b.requests), [9, 6])
    // Later: horizons move past day 9's hours; a late count for them adds nothing.
    const later = at + 8 * DAY
    await r.commit(apiKeyKey(keyId), keyActivityChanges(r, keyId, [{ at: later, n: 1 }]))
    assert.equal(held(r, keyId, USE_FIELD).hour, 1, 'hours past retention dropped on the next write')
    // A late count for an hour past its horizon adds nothing to the hours, but still lands
    // in its day, which is within the day retention.
    const late = keyActivityChanges(r, keyId, [{ at, n: 100 }])
    assert.deepEqual(late.map((c) => c.field), [USE_FIELD])
    await r.commit(apiKeyKey(keyId), late)
    assert.deepEqual(keyUsageBuckets(r, keyId, 'hour', 0, later + 1, later).map((b) => b.requests), [1])
    assert.equal(keyUsageBuckets(r, keyId, 'day', 0, later + 1, later).reduce((n, b) => n + b.requests, 0), 116)
    // Past the day retention too, a late count is no change at all.
    const muchLater = at + 100 * DAY
    await r.commit(apiKeyKey(keyId), keyActivityChanges(r, keyId, [{ at: muchLater, n: 1 }]))
    assert.deepEqual(keyActivityChanges(r, keyId, [{ at, n: 100 }]), [])
    assert.deepEqual(held(r, keyId, USE_FIELD), { hour: 1, day: 1 })
  } finally {
    await r.stop()
  }
})

test('lifecycle events are dropped past their retention as the key changes, on every replica, even when old ones arrive late', async () => {
  const a = await replica('ra')
  const b = await replica('rb')
  try {
    const keyId = await withKey(a)
    const created = await a.opsAfter(b.versionVector(), 1000)
    const target = apiKeyKey(keyId)
    const ops: Op[] = []
    let at = T0
    for (let i = 1; i <= 40; i++) {
      at = T0 + i * 5 * DAY
      ops.push(await a.commit(target, updateKeyChanges(a, { name: `n${i}` }, 'u@demo', at)))
    }
    // B gets the updates newest first, and the key's creation last of all.
    for (const op of [...ops].reverse()) await b.applyRemote([op])
    await b.applyRemote(created)
    assert.equal(a.entityDigests(target).get(target), b.entityDigests(target).get(target))
    for (const r of [a, b]) {
      const s = r.field(target, EVENTS_FIELD)!.state as HorizonMap
      assert.equal(hmapHorizon(s, a.replicaId), at - EVENT_RETENTION_MS) // the writer's own horizon
      // Updates every 5 days, 90 days kept: the 18 newest plus the one exactly at the horizon.
      assert.equal(hmapSize(s), 19)
      const events = keyEvents(r, keyId, at)
      assert.equal(events.some((e) => e.type === 'created'), false)
      assert.deepEqual(events.filter((e) => e.type === 'updated').map((e) => e.details?.changed), Array.from({ length: 18 }, (_, k) => ({ name: `n${40 - k}` })))
    }
  } finally {
    await a.stop()
    await b.stop()
  }
})

test('two replicas counting across windows and horizon bumps, exchanging ops late, duplicated and reordered, converge with exact retained totals', async () => {
  const seed = testSeed('audit-windows convergence')
  const rand = rng(seed)
  const a = await replica('ra')
  const b = await replica('rb')
  try {
    const keyId = await withKey(a)
    await b.applyRemote(await a.opsAfter(b.versionVector(), 1000))
    const link = new LossyLink(rand)
    const written: Array<{ at: number, n: number, reason?: 'bad_secret' | 'expired' }> = []
    let at = T0
    for (let i = 0; i < 300; i++) {
      at += Math.floor(rand() * 3 * HOUR) // ~19 simulated days: hour horizons move many times
      const [from, to] = rand() < 0.5 ? [a, b] : [b, a]
      // A flush: up to three windows (the current hour and earlier ones), maybe failures.
      const counts: KeyCount[] = []
      for (let k = Math.floor(rand() * 3); k >= 0; k--) counts.push({ at: at - k * HOUR, n: 1 + Math.floor(rand() * 50) })
      if (rand() < 0.3) counts.push({ at, n: 1 + Math.floor(rand() * 5), reason: rand() < 0.5 ? 'bad_secret' : 'expired' })
      const op = await from.commit(apiKeyKey(keyId), keyActivityChanges(from, keyId, counts, at))
      for (const c of counts) written.push({ at: c.at, n: c.n, ...(c.reason !== undefined ? { reason: c.reason as 'bad_secret' | 'expired' } : {}) })
      link.send(to, op)
      await link.maybeDeliver()
    }
    await link.heal()
    const target = apiKeyKey(keyId)
    assert.equal(a.entityDigests(target).get(target), b.entityDigests(target).get(target))
    for (const res of ['hour', 'day'] as const) {
      const rows = keyUsageBuckets(a, keyId, res, 0, at + 1, at)
      assert.deepEqual(rows, keyUsageBuckets(b, keyId, res, 0, at + 1, at))
      assert.ok(rows.length > 0)
      const size = RESOLUTIONS[res].sizeMs
      for (const row of rows) {
        const want = written.filter((w) => w.reason === undefined && Math.floor(w.at / size) * size === row.start).reduce((n, w) => n + w.n, 0)
        assert.equal(row.requests, want, `${res} window at ${new Date(row.start).toISOString()}`)
      }
    }
    const failed = keyEvents(a, keyId, at).filter((e) => e.type === 'auth_failed')
    assert.deepEqual(failed, keyEvents(b, keyId, at).filter((e) => e.type === 'auth_failed'))
    for (const e of failed) {
      assert.equal(e.count, written.filter((w) => w.reason === e.reason && Math.floor(w.at / HOUR) * HOUR === e.at).reduce((n, w) => n + w.n, 0))
    }
  } finally {
    await a.stop()
    await b.stop()
  }
})
