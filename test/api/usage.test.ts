// Usage routes on a real devnet with a fixed clock: /usage/stats per model, per agent and in
// total for each window size, range validation, and /usage/forecast arithmetic end to end.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spendChanges } from '../../src/state/credits.ts'
import { accountKey } from '../../src/state/model.ts'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import { usageChanges } from '../../src/state/usage.ts'
import { ADMIN, startTestDevnet, USER, type TestDevnet } from './devnet-helpers.ts'
import { assertProblem } from './problem.ts'

const MIN = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000
const T0 = Date.parse('2025-03-01T00:00:00Z') // accounts created (seed)
const T = Date.parse('2025-03-11T12:30:00Z') // "now" for the assertions
let d: TestDevnet
let user: string, admin: string, idle: string
let userId: string

before(async () => {
  d = await startTestDevnet({ now: T0 })
  user = await d.token(USER, 'user')
  admin = await d.token(ADMIN, 'admin')
  idle = await d.token('idle@demo', 'user')
  assert.equal((await d.call({ token: idle }, 'POST', '/accounts')).status, 201)
  userId = d.accountOf(USER)
  const s = d.node.store
  const rec = async (subject: { type: 'model' | 'agent', id: string }, amounts: Record<string, number>, at: number): Promise<void> => {
    await s.commit(accountKey(userId), usageChanges(s, userId, subject, amounts, at))
  }
  await rec({ type: 'model', id: 'gpt-x' }, { tokens_in: 1000, tokens_out: 200, requests: 1 }, T - HOUR) // 11:30
  await rec({ type: 'model', id: 'gpt-x' }, { tokens_in: 500, requests: 1 }, T - 10 * MIN) // 12:20
  await rec({ type: 'agent', id: 'writer' }, { 'invocations:run': 3 }, T - 2 * HOUR) // 10:30
  await rec({ type: 'model', id: 'gpt-y' }, { tokens_in: 5000 }, T - 3 * DAY) // Mar 8, outside the 24 h lookback
  await s.commit(accountKey(userId), spendChanges(s, userId, 120, T - HOUR))
  await s.commit(accountKey(userId), spendChanges(s, userId, 24, T - 30 * HOUR)) // outside the lookback
  d.clock.now = T
})
after(async () => { await d.close() })

test('/usage/stats by hour over the last day: per model, per agent, totals, buckets', async () => {
  const r = await d.call({ token: user }, 'GET', `/usage/stats?window=hour&from=${T - 24 * HOUR}&to=${T + 1}`)
  assert.equal(r.status, 200, r.text)
  assert.equal(r.body.window, 'hour')
  assert.deepEqual(r.body.models, [{ model: 'gpt-x', metrics: { tokens_in: 1500, tokens_out: 200, requests: 2 } }])
  assert.deepEqual(r.body.agents, [{ agent: 'writer', metrics: { 'invocations:run': 3 } }])
  assert.deepEqual(r.body.totals, { tokens_in: 1500, tokens_out: 200, requests: 2, 'invocations:run': 3 })
  const h = (iso: string): number => Date.parse(iso)
  assert.deepEqual(r.body.buckets, [
    { start: h('2025-03-11T10:00:00Z'), metrics: { 'invocations:run': 3 } },
    { start: h('2025-03-11T11:00:00Z'), metrics: { tokens_in: 1000, tokens_out: 200, requests: 1 } },
    { start: h('2025-03-11T12:00:00Z'), metrics: { tokens_in: 500, requests: 1 } },
  ])
})

test('/usage/stats by minute and by day; ISO times accepted; windows counted by their start', async () => {
  const m = await d.call({ token: user }, 'GET', `/usage/stats?window=minute&from=${new Date(T - 90 * MIN).toISOString()}&to=${new Date(T).toISOString()}`)
  assert.equal(m.status, 200, m.text)
  assert.deepEqual(m.body.buckets.map((b: { start: number }) => b.start), [T - HOUR, T - 10 * MIN])
  assert.deepEqual(m.body.agents, [], 'the 10:30 invocation is before from (11:00)')

  const day = await d.call({ token: user }, 'GET', '/usage/stats?window=day&from=2025-03-01&to=2025-03-12')
  assert.equal(day.status, 200, day.text)
  assert.deepEqual(day.body.models, [
    { model: 'gpt-x', metrics: { tokens_in: 1500, tokens_out: 200, requests: 2 } },
    { model: 'gpt-y', metrics: { tokens_in: 5000 } },
  ])
  assert.equal(day.body.from, Date.parse('2025-03-01'))

  // an hour window starting 11:00 (to exclusive) holds only the 11:30 call
  const one = await d.call({ token: user }, 'GET', `/usage/stats?window=hour&from=${Date.parse('2025-03-11T11:00:00Z')}&to=${Date.parse('2025-03-11T12:00:00Z')}`)
  assert.deepEqual(one.body.totals, { tokens_in: 1000, tokens_out: 200, requests: 1 })
})

test('/usage/stats defaults: hour windows, every kept window up to the end of the current one', async () => {
  const r = await d.call({ token: user }, 'GET', '/usage/stats')
  assert.equal(r.status, 200, r.text)
  assert.equal(r.body.window, 'hour')
  assert.equal(r.body.to, Date.parse('2025-03-11T13:00:00Z'))
  assert.ok(r.body.from >= T - 7 * DAY)
  assert.deepEqual(r.body.totals, { tokens_in: 6500, tokens_out: 200, requests: 2, 'invocations:run': 3 })
})

test('/usage/stats validates the range: from < to, within retention, known window, real times', async () => {
  const q = (s: string): Promise<ReturnType<TestDevnet['call']> extends Promise<infer R> ? R : never> => d.call({ token: user }, 'GET', `/usage/stats?${s}`)
  assertProblem(await q(`from=${T}&to=${T}`), 400, 'invalid_field', 'from')
  assertProblem(await q(`from=${T}&to=${T - 1}`), 400, 'invalid_field', 'from')
  assertProblem(await q(`window=minute&from=${T - 3 * HOUR}`), 400, 'invalid_field', 'from')
  assertProblem(await q(`window=hour&from=${T - 8 * DAY}`), 400, 'invalid_field', 'from')
  assertProblem(await q(`window=day&from=${T - 91 * DAY}`), 400, 'invalid_field', 'from')
  assertProblem(await q('window=week'), 400, 'invalid_field', 'window')
  assertProblem(await q('from=soon'), 400, 'invalid_field', 'from')
  assertProblem(await q('to=2025-02-30T00:00:00Z'), 400, 'invalid_field', 'to')
  assertProblem(await q('to=-5'), 400, 'invalid_field', 'to')
  assertProblem(await q(`to=${'9'.repeat(30)}`), 400, 'invalid_field', 'to')
  assertProblem(await q(`window=minute&from=${T - HOUR}&to=${T + 2 * HOUR}`), 400, 'invalid_field', 'to')
  assertProblem(await q('bucket=1'), 400, 'unknown_field', 'bucket')
  assertProblem(await q('window=hour&window=day'), 400, 'invalid_field', 'window')
  // the edge itself is accepted
  assert.equal((await q(`window=minute&from=${T - 2 * HOUR}`)).status, 200)
})

test('/usage/forecast: recent rate projected over the period and onto the balance', async () => {
  const r = await d.call({ token: user }, 'GET', '/usage/forecast')
  assert.equal(r.status, 200, r.text)
  // Lookback: the 24 hour windows up to now, 13:00 yesterday → 12:30 today = 23.5 h.
  const lookback = 23.5 * HOUR
  const remaining = Date.parse('2025-04-01T00:00:00Z') - T // free tier: the calendar month
  const recentTokens = 1500 + 200
  const balance = DEFAULT_BILLING_CONFIG.tiers.free.included_credits - 120 - 24
  assert.equal(r.body.lookback_ms, lookback)
  assert.equal(r.body.period_start, Date.parse('2025-03-01T00:00:00Z'))
  assert.equal(r.body.period_end, Date.parse('2025-04-01T00:00:00Z'))
  assert.equal(r.body.tokens_this_period, 1700 + 5000)
  assert.equal(r.body.tokens_per_day, recentTokens / lookback * DAY)
  assert.equal(r.body.projected_tokens_period, Math.round(6700 + recentTokens / lookback * remaining))
  assert.equal(r.body.credits_per_day, 120 / lookback * DAY)
  assert.equal(r.body.balance, balance)
  assert.equal(r.body.days_until_credits_exhausted, balance / (120 / lookback) / DAY)
})

test('/usage/forecast: nothing spent → days until exhausted is null', async () => {
  const r = await d.call({ token: idle }, 'GET', '/usage/forecast')
  assert.equal(r.status, 200, r.text)
  assert.equal(r.body.days_until_credits_exhausted, null)
  assert.equal(r.body.tokens_per_day, 0)
  assert.equal(r.body.projected_tokens_period, 0)
})

test('/usage/forecast follows a paid period_end', async () => {
  const periodEnd = Date.parse('2025-03-20T00:00:00Z')
  const s = await d.call({ service: true }, 'POST', '/billing/subscription', { body: { account_id: userId, tier: 'pro', status: 'active', period_end: periodEnd, event_time: T - DAY } })
  assert.equal(s.body.applied, true)
  const r = await d.call({ token: user }, 'GET', '/usage/forecast')
  assert.equal(r.body.period_start, Date.parse('2025-02-20T00:00:00Z'))
  assert.equal(r.body.period_end, periodEnd)
  assert.equal(r.body.projected_tokens_period, Math.round(6700 + 1700 / (23.5 * HOUR) * (periodEnd - T)))
})

test('usage reads: admins of the project may name an account, users may not name another', async () => {
  const a = await d.call({ token: admin }, 'GET', `/usage/stats?account_id=${userId}&window=day&from=2025-03-01`)
  assert.equal(a.status, 200)
  assert.equal(a.body.account_id, userId)
  assertProblem(await d.call({ token: idle }, 'GET', `/usage/stats?account_id=${userId}`), 403, 'forbidden')
  assertProblem(await d.call({ token: idle }, 'GET', `/usage/forecast?account_id=${userId}`), 403, 'forbidden')
  const noUsageScope = await d.token(USER, 'user', undefined, 'billing:read')
  assertProblem(await d.call({ token: noUsageScope }, 'GET', '/usage/stats'), 403, 'insufficient_scope')
})
