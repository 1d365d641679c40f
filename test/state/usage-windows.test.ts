// Usage and spend windows on real memory replicas: an invoke is 5 changes, state stays
// bounded by retention as the (injected) clock advances, readers see what was written, and
// two replicas writing concurrently across window and horizon changes converge.
// Seeded: FORMSTATE_SEED=<n> replays the convergence run.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { type WindowedCounter, windowedEach } from '../../crdt/wcounter.ts'
import { ensureAccount, grantCredits } from '../../src/state/billing-actions.ts'
import { invokeModel } from '../../src/state/metering.ts'
import { accountKey, KIND } from '../../src/state/model.ts'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import { SPENT_FIELD, spendRows, usageField } from '../../src/state/usage.ts'
import { usageStats } from '../../src/state/usage-summary.ts'
import { bucketOf, RESOLUTION_NAMES, RESOLUTIONS } from '../../src/state/windows.ts'
import type { Replica } from '../../src/store/replica.ts'
import type { Op } from '../../src/store/types.ts'
import { LossyLink } from '../support/lossy-link.ts'
import { rng, testSeed } from '../support/seed.ts'
import { marketplaceReplica as replica } from '../support/marketplace-replica.ts'

const PRICE = { per_1k_input: 1, per_1k_output: 2 } // 100 in + 40 out → 1 credit (rounded up)
const T0 = Date.UTC(2026, 0, 1)
const MIN = 60_000
const DAY = 86_400_000

async function fundedAccount (r: Replica): Promise<string> {
  const { id } = await ensureAccount(r, DEFAULT_BILLING_CONFIG, 'p1', 'alice', T0)
  await grantCredits(r, { accountId: id, idempotencyKey: 'fund', amount: 1e9, kind: 'manual', reason: 'test', by: 'test', at: T0 })
  return id
}

/** Buckets held per resolution in a windowed field. */
function bucketsHeld (r: Replica, id: string, field: string): number[] {
  const s = r.field(accountKey(id), field)!.state as WindowedCounter
  return RESOLUTION_NAMES.map((res) => {
    let n = 0
    windowedEach(s, RESOLUTIONS[res].slot, 0, Number.MAX_SAFE_INTEGER, () => { n++ })
    return n
  })
}

test('an invoke commits one change per metric plus credits and spend: 5, on windowed counters', async () => {
  const r = await replica('r1')
  try {
    const id = await fundedAccount(r)
    const out = invokeModel(r, DEFAULT_BILLING_CONFIG, id, 'm1', PRICE, 100, 40, T0 + 5 * MIN)
    const op = await out.durable!
    assert.deepEqual(op.changes.map((c) => [c.field, c.kind]).sort(), [
      ['credits', KIND.pn], [SPENT_FIELD, KIND.windows],
      [usageField('requests', { type: 'model', id: 'm1' }), KIND.windows],
      [usageField('tokens_in', { type: 'model', id: 'm1' }), KIND.windows],
      [usageField('tokens_out', { type: 'model', id: 'm1' }), KIND.windows],
    ].sort())
  } finally {
    await r.stop()
  }
})

test('state stays bounded by retention while the clock advances over 120 days; readers see the retained windows', async () => {
  const r = await replica('r1')
  try {
    const id = await fundedAccount(r)
    const step = 37 * MIN // not a divisor of an hour or a day: calls land in shifting windows
    const end = T0 + 120 * DAY
    const calls: number[] = []
    let fieldsAtDay10 = -1
    let last: Promise<Op> | undefined
    for (let at = T0; at < end; at += step) {
      last = invokeModel(r, DEFAULT_BILLING_CONFIG, id, 'm1', PRICE, 100, 40, at).durable
      calls.push(at)
      if (fieldsAtDay10 < 0 && at >= T0 + 10 * DAY) fieldsAtDay10 = r.entity(accountKey(id))!.size
    }
    await last
    // No new fields after the first windows: the layout does not grow with time.
    assert.equal(r.entity(accountKey(id))!.size, fieldsAtDay10)
    for (const field of [SPENT_FIELD, usageField('tokens_in', { type: 'model', id: 'm1' })]) {
      const held = bucketsHeld(r, id, field)
      RESOLUTION_NAMES.forEach((res, i) => assert.ok(held[i]! <= RESOLUTIONS[res].retention, `${field} ${res}: ${held[i]} buckets`))
      // ...and it is retention, not sparseness, that bounds them: 90 days of day windows are all there.
      assert.equal(held[2], RESOLUTIONS.day.retention)
    }
    const now = calls[calls.length - 1]!
    // Day windows of the last 30 days: what was written in them (1 credit, 100 tokens in per call).
    const from = (bucketOf('day', now) - 29) * DAY
    const expected = calls.filter((at) => at >= from).length
    const stats = usageStats(r, id, 'day', from, now + 1, now)
    assert.equal(stats.totals.requests, expected)
    assert.equal(stats.totals.tokens_in, 100 * expected)
    assert.equal(spendRows(r, id, 'day', from, now + 1, now).reduce((n, x) => n + x.credits, 0), expected)
    // Minute windows older than their retention are gone, not just hidden.
    assert.deepEqual(spendRows(r, id, 'minute', T0, T0 + DAY, now), [])
  } finally {
    await r.stop()
  }
})

test('the raw-state view shows each replica\'s contribution per window and the horizons', async () => {
  const a = await replica('ra')
  const b = await replica('rb')
  try {
    const id = await fundedAccount(a)
    await b.applyRemote(await a.opsAfter(b.versionVector(), 1000))
    const at = T0 + 90 * MIN
    const opA = await invokeModel(a, DEFAULT_BILLING_CONFIG, id, 'm1', PRICE, 1200, 300, at).durable! // 2 credits
    const opB = await invokeModel(b, DEFAULT_BILLING_CONFIG, id, 'm1', PRICE, 100, 40, at + 1000).durable! // 1 credit
    await a.applyRemote([opB])
    await b.applyRemote([opA])
    for (const r of [a, b]) {
      const spent = r.inspect(accountKey(id))![SPENT_FIELD]!
      assert.equal(spent.kind, KIND.windows)
      const minute = String(bucketOf('minute', at))
      assert.deepEqual(spent.state, {
        slots: RESOLUTION_NAMES.map((res) => ({
          horizon: Math.max(0, bucketOf(res, at) - RESOLUTIONS[res].retention + 1),
          horizons: { ra: Math.max(0, bucketOf(res, at) - RESOLUTIONS[res].retention + 1), rb: Math.max(0, bucketOf(res, at + 1000) - RESOLUTIONS[res].retention + 1) },
          buckets: { [String(bucketOf(res, at))]: { entries: { ra: 2, rb: 1 }, total: 3 } },
        })),
      })
      assert.deepEqual((spent.value as Array<Array<[number, number]>>)[0], [[Number(minute), 3]])
    }
  } finally {
    await a.stop()
    await b.stop()
  }
})

test('two replicas writing across windows and horizon bumps, exchanging ops late, duplicated and reordered, converge; a third bootstrapped from a snapshot midway too', async () => {
  const seed = testSeed('usage-windows convergence')
  const rand = rng(seed)
  const a = await replica('ra')
  const b = await replica('rb')
  const c = await replica('rc')
  try {
    const id = await fundedAccount(a)
    await b.applyRemote(await a.opsAfter(b.versionVector(), 1000))
    const link = new LossyLink(rand)
    const written: Array<{ at: number, credits: number }> = []
    const all: Op[] = []
    let at = T0
    for (let i = 0; i < 400; i++) {
      at += Math.floor(rand() * 20 * MIN) // ~27 simulated hours: minute horizons move many times
      const [from, to] = rand() < 0.5 ? [a, b] : [b, a]
      const out = invokeModel(from, DEFAULT_BILLING_CONFIG, id, `m${i % 2}`, PRICE, 100 + Math.floor(rand() * 900), 40, at)
      written.push({ at, credits: out.cost })
      const op = await out.durable!
      link.send(to, op)
      all.push(op)
      // C joins from A's snapshot (windowed states encoded, decoded and merged by the store).
      if (i === 200) await c.importSnapshot(await a.exportSnapshot())
      // Deliver a random op now and then (possibly twice); many stay in flight for a long time.
      await link.maybeDeliver()
    }
    // Heal: everything left, in random order.
    await link.heal()
    all.sort(() => rand() - 0.5)
    for (const op of all) await c.applyRemote([op])
    const target = accountKey(id)
    assert.equal(a.entityDigests(target).get(target), b.entityDigests(target).get(target))
    assert.equal(c.entityDigests(target).get(target), a.entityDigests(target).get(target))
    // Retained windows hold every credit written into them, counted once.
    for (const res of RESOLUTION_NAMES) {
      const rows = spendRows(a, id, res, 0, at + 1, at)
      assert.deepEqual(rows, spendRows(b, id, res, 0, at + 1, at))
      for (const row of rows) {
        const size = RESOLUTIONS[res].sizeMs
        const want = written.filter((w) => Math.floor(w.at / size) * size === row.start).reduce((n, w) => n + w.credits, 0)
        assert.equal(row.credits, want, `${res} window at ${new Date(row.start).toISOString()}`)
      }
    }
  } finally {
    await a.stop()
    await b.stop()
    await c.stop()
  }
})
