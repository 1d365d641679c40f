// Retention that one bad clock cannot break: usage and spend windows written by replicas
// whose clocks agree survive a replica whose clock runs hours or days ahead (its horizons
// alone no longer prune anyone else's windows). Real memory replicas exchanging real ops.
// Seeded: FORMSTATE_SEED=<n> replays the simulation.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { type WindowedCounter, windowedEach, windowedEntry } from '../../crdt/wcounter.ts'
import { ensureAccount, grantCredits } from '../../src/state/billing-actions.ts'
import { invokeModel } from '../../src/state/metering.ts'
import { accountKey } from '../../src/state/model.ts'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import { SPENT_FIELD, spendRows, usageField, usageRows } from '../../src/state/usage.ts'
import { recordedUsage, recordUsageOnce } from '../../src/state/usage-idempotency.ts'
import { bucketOf, horizonOf, RESOLUTION_NAMES, type Resolution, RESOLUTIONS } from '../../src/state/windows.ts'
import type { Replica } from '../../src/store/replica.ts'
import type { Op } from '../../src/store/types.ts'
import { LossyLink } from '../support/lossy-link.ts'
import { exchange, marketplaceReplica as replica } from '../support/marketplace-replica.ts'
import { rng, testSeed } from '../support/seed.ts'

const PRICE = { per_1k_input: 1, per_1k_output: 2 } // 100 in + 40 out → 1 credit (rounded up)
const T0 = Date.UTC(2026, 0, 1)
const MIN = 60_000
const HOUR = 60 * MIN
const DAY = 24 * HOUR

async function fundedAccount (r: Replica): Promise<string> {
  const { id } = await ensureAccount(r, DEFAULT_BILLING_CONFIG, 'p1', 'alice', T0)
  await grantCredits(r, { accountId: id, idempotencyKey: 'fund', amount: 1e9, kind: 'manual', reason: 'test', by: 'test', at: T0 })
  return id
}

/**
 * Runs `fn` on two fresh replicas ('slow', 'fast') that share one funded account (created on
 * slow, exchanged), and stops both afterwards.
 */
async function withFundedPair (fn: (slow: Replica, fast: Replica, id: string) => Promise<void>): Promise<void> {
  const slow = await replica('slow')
  const fast = await replica('fast')
  try {
    const id = await fundedAccount(slow)
    await exchange(slow, fast)
    await fn(slow, fast, id)
  } finally {
    await slow.stop()
    await fast.stop()
  }
}

function windows (r: Replica, id: string, field: string): WindowedCounter {
  return r.field(accountKey(id), field)!.state as WindowedCounter
}

for (const [ahead, res, label] of [[3 * HOUR, 'minute', '3 hours'], [8 * DAY, 'hour', '8 days']] as Array<[number, Resolution, string]>) {
  test(`a replica whose clock is ${label} ahead does not prune the other's recent ${res} windows, on either replica`, async () => {
    await withFundedPair(async (slow, fast, id) => {
      // Both record usage for the slow replica's last two hours (every 5 minutes), the fast
      // one stamping its calls with its own clock; they exchange ops every half hour.
      const start = T0 + 10 * DAY
      const end = start + 2 * HOUR
      const written = new Map<number, number>() // slow replica's minute/hour bucket → credits
      for (let at = start, i = 0; at < end; at += 5 * MIN, i++) {
        const out = invokeModel(slow, DEFAULT_BILLING_CONFIG, id, 'm1', PRICE, 100 * (1 + (i % 3)), 40, at)
        written.set(bucketOf(res, at), (written.get(bucketOf(res, at)) ?? 0) + out.cost)
        await out.durable
        await invokeModel(fast, DEFAULT_BILLING_CONFIG, id, 'm1', PRICE, 100, 40, at + ahead).durable
        if (i % 6 === 5) await exchange(slow, fast)
      }
      await exchange(slow, fast)
      const target = accountKey(id)
      assert.equal(slow.entityDigests(target).get(target), fast.entityDigests(target).get(target))
      // The slow replica's windows of the last hour, as the slow clock reads them, on both.
      const now = end - 1
      const from = now - HOUR
      const want = [...written].filter(([b]) => b >= bucketOf(res, from)).map(([b, credits]) => ({ start: b * RESOLUTIONS[res].sizeMs, credits }))
      assert.ok(want.length >= (res === 'minute' ? 12 : 1))
      for (const r of [slow, fast]) {
        assert.deepEqual(spendRows(r, id, res, bucketOf(res, from) * RESOLUTIONS[res].sizeMs, now + 1, now), want, `${r.replicaId}'s ${res} spend windows`)
        // ...and per replica in the raw state: each window holds the slow replica's own count.
        const s = windows(r, id, usageField('requests', { type: 'model', id: 'm1' }))
        windowedEach(s, RESOLUTIONS[res].slot, bucketOf(res, from), bucketOf(res, now) + 1, (bucket) => {
          assert.ok(windowedEntry(s, RESOLUTIONS[res].slot, bucket, 'slow') > 0, `requests in ${res} ${bucket}`)
        })
      }
    })
  })
}

test('keyed usage records (idempotency keys) from a node 3 hours ahead do not prune the other node\'s windows, keyed or not', async () => {
  await withFundedPair(async (slow, fast, id) => {
    const start = T0 + 10 * DAY
    const end = start + 2 * HOUR
    const wrote = new Map<number, number>() // slow's minute bucket → tokens_in
    let i = 0
    for (let at = start; at < end; at += 5 * MIN, i++) {
      // The slow node records keyed usage; the fast one records keyed usage at its own clock.
      await recordUsageOnce(slow, id, `slow-${i}`, { subject: { type: 'model', id: 'm1' }, amounts: { tokens_in: 10 + i } }, at, at)
      wrote.set(bucketOf('minute', at), 10 + i)
      await recordUsageOnce(fast, id, `fast-${i}`, { subject: { type: 'model', id: 'm1' }, amounts: { tokens_in: 1 } }, at + 3 * HOUR, at + 3 * HOUR)
      if (i % 6 === 5) await exchange(slow, fast)
    }
    // ...and one key recorded on both (a retry sent to each node): counted once.
    await recordUsageOnce(slow, id, 'both', { subject: { type: 'model', id: 'm1' }, amounts: { tokens_in: 1000 } }, end - 1, end - 1)
    await recordUsageOnce(fast, id, 'both', { subject: { type: 'model', id: 'm1' }, amounts: { tokens_in: 1000 } }, end - 1, end - 1 + 3 * HOUR)
    wrote.set(bucketOf('minute', end - 1), (wrote.get(bucketOf('minute', end - 1)) ?? 0) + 1000)
    await exchange(slow, fast)
    const target = accountKey(id)
    assert.equal(slow.entityDigests(target).get(target), fast.entityDigests(target).get(target))
    const now = end - 1
    const from = now - HOUR
    const want = [...wrote].filter(([b]) => b >= bucketOf('minute', from)).map(([b, v]) => [b * MIN, v])
    assert.ok(want.length >= 12)
    for (const r of [slow, fast]) {
      const rows = usageRows(r, id, 'minute', bucketOf('minute', from) * MIN, now + 1, now).filter((u) => u.metric === 'tokens_in')
      assert.deepEqual(rows.map((u) => [u.start, u.value]), want, `${r.replicaId}'s keyed minute windows`)
    }
  })
})

test('idempotency keys recorded on one node are not forgotten because another node\'s clock runs 9 days ahead', async () => {
  await withFundedPair(async (slow, fast, id) => {
    const now = T0 + 10 * DAY
    const rec = { subject: { type: 'model' as const, id: 'm1' }, amounts: { tokens_in: 5 } }
    await recordUsageOnce(slow, id, 'call-1', rec, now, now)
    // The fast node (past the 8-day key retention ahead) records keys of its own.
    for (let i = 0; i < 3; i++) await recordUsageOnce(fast, id, `fast-${i}`, rec, now + 9 * DAY + i, now + 9 * DAY + i)
    await exchange(slow, fast)
    for (const r of [slow, fast]) assert.ok(recordedUsage(r, id, 'call-1') !== undefined, `${r.replicaId} still knows call-1`)
    // A retry an hour later is a replay, on either node.
    assert.equal((await recordUsageOnce(slow, id, 'call-1', rec, now, now + HOUR)).replayed, true)
    assert.equal((await recordUsageOnce(fast, id, 'call-1', rec, now, now + 9 * DAY + HOUR)).replayed, true)
  })
})

test('three replicas, one clock hours to days ahead, ops late, duplicated and reordered: every window the others wrote within their retention survives, on all three', async () => {
  const seed = testSeed('usage clock skew')
  const rand = rng(seed)
  const names = ['ra', 'rb', 'rc']
  const rs = await Promise.all(names.map((n) => replica(n)))
  try {
    const id = await fundedAccount(rs[0]!)
    await exchange(rs[0]!, rs[1]!)
    await exchange(rs[0]!, rs[2]!)
    // One replica's clock is 1 hour to 10 days ahead; the other two agree within 20 s.
    const bad = Math.floor(rand() * 3)
    const offsets = names.map((_, i) => i === bad ? HOUR + Math.floor(rand() * 10 * DAY) : Math.floor(rand() * 20_000))
    console.log(`usage clock skew: clock offsets ${names.map((n, i) => `${n} +${offsets[i]} ms`).join(', ')}`)
    const link = new LossyLink(rand)
    // Credits each replica wrote per (resolution, bucket), as stamped by its own clock.
    const written = names.map(() => new Map<string, number>())
    let now = T0 + 20 * DAY
    for (let i = 0; i < 300; i++) {
      now += Math.floor(rand() * 12 * MIN) // ~30 simulated hours: minute horizons move many times
      const w = Math.floor(rand() * 3)
      const at = now + offsets[w]!
      const out = invokeModel(rs[w]!, DEFAULT_BILLING_CONFIG, id, `m${i % 2}`, PRICE, 100 + Math.floor(rand() * 900), 40, at)
      for (const res of RESOLUTION_NAMES) {
        const k = `${res}/${bucketOf(res, at)}`
        written[w]!.set(k, (written[w]!.get(k) ?? 0) + out.cost)
      }
      const op: Op = await out.durable!
      for (let j = 0; j < 3; j++) if (j !== w) link.send(rs[j]!, op)
      await link.maybeDeliver()
      if (rand() < 0.05) await exchange(rs[Math.floor(rand() * 3)]!, rs[Math.floor(rand() * 3)]!)
    }
    await link.heal()
    await exchange(rs[0]!, rs[1]!)
    await exchange(rs[1]!, rs[2]!)
    await exchange(rs[0]!, rs[1]!)
    const target = accountKey(id)
    const digest = rs[0]!.entityDigests(target).get(target)
    for (const r of rs) assert.equal(r.entityDigests(target).get(target), digest, `${r.replicaId} converged`)
    const latestHonest = now + Math.max(...offsets.filter((_, i) => i !== bad))
    for (const r of rs) {
      const s = windows(r, id, SPENT_FIELD)
      for (const res of RESOLUTION_NAMES) {
        const slot = RESOLUTIONS[res].slot
        // Within every honest replica's retention: at or above the horizon of the latest honest clock.
        const kept = horizonOf(res, latestHonest)
        names.forEach((n, w) => {
          if (w === bad) return
          for (const [k, credits] of written[w]!) {
            const [kr, b] = k.split('/') as [Resolution, string]
            if (kr === res && Number(b) >= kept) assert.equal(windowedEntry(s, slot, Number(b), n), credits, `${r.replicaId}: ${n}'s ${res} ${b}`)
          }
        })
        // Bounded: the honest replicas' retention plus the fast clock's own.
        let held = 0
        windowedEach(s, slot, 0, Number.MAX_SAFE_INTEGER, () => { held++ })
        assert.ok(held <= 2 * RESOLUTIONS[res].retention + 1, `${res}: ${held} buckets held`)
      }
      // What a reader on an honest clock sees for the last hour is what the honest replicas
      // wrote in it (plus whatever the fast one's own clock has not pruned of its writes).
      const rows = spendRows(r, id, 'minute', latestHonest - HOUR, latestHonest + 1, latestHonest)
      assert.ok(rows.length > 0)
      for (const row of rows) {
        const b = bucketOf('minute', row.start)
        const honest = written.reduce((n, m, w) => n + (w === bad ? 0 : m.get(`minute/${b}`) ?? 0), 0)
        assert.equal(row.credits, honest + windowedEntry(s, 0, b, names[bad]!), `${r.replicaId}: minute ${b}`)
      }
    }
  } finally {
    for (const r of rs) await r.stop()
  }
})
