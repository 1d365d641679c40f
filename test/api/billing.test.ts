// Billing routes on a real devnet: stale subscription events, idempotent credits (replays,
// concurrent replays, conflicting amounts), checkout sessions, history and period usage.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spendChanges } from '../../src/state/credits.ts'
import { accountKey } from '../../src/state/model.ts'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import { usageChanges } from '../../src/state/usage.ts'
import { ADMIN, DEVELOPER, OTHER_PROJECT, startTestDevnet, USER, type TestDevnet } from './devnet-helpers.ts'
import { assertProblem } from './problem.ts'

const T0 = Date.parse('2025-03-01T00:00:00Z')
let d: TestDevnet
let admin: string, user: string, dev: string, otherAdmin: string
let userId: string

before(async () => {
  d = await startTestDevnet({ now: T0 })
  admin = await d.token(ADMIN, 'admin')
  user = await d.token(USER, 'user')
  dev = await d.token(DEVELOPER, 'developer')
  otherAdmin = await d.token('boss@other', 'admin', OTHER_PROJECT)
  userId = d.accountOf(USER)
  d.clock.now = Date.parse('2025-03-11T12:00:00Z')
})
after(async () => { await d.close() })

async function balance (): Promise<number> {
  const r = await d.call({ token: user }, 'GET', '/billing/credits')
  assert.equal(r.status, 200, r.text)
  return r.body.balance
}

const sub = (over: Record<string, unknown>): Record<string, unknown> => ({ account_id: userId, tier: 'pro', status: 'active', ...over })

test('subscriptions: a later event wins; an older one answers 200 with the newer state and applied: false', async () => {
  const t2 = Date.parse('2025-03-05T00:00:00Z')
  const periodEnd = Date.parse('2025-04-05T00:00:00Z')
  const r1 = await d.call({ service: true }, 'POST', '/billing/subscription', { body: sub({ event_time: t2, period_end: periodEnd, stripe_customer_id: 'cus_123', stripe_subscription_id: 'sub_9' }) })
  assert.equal(r1.status, 200, r1.text)
  assert.equal(r1.body.applied, true)
  assert.deepEqual(r1.body.subscription, { tier: 'pro', status: 'active', period_end: periodEnd, stripe_customer_id: 'cus_123', stripe_subscription_id: 'sub_9', event_time: t2 })

  const digest = d.node.store.digest()
  const stale = await d.call({ token: admin }, 'POST', '/billing/subscription', { body: sub({ tier: 'free', status: 'canceled', event_time: '2025-03-04T23:59:59Z' }) })
  assert.equal(stale.status, 200)
  assert.equal(stale.body.applied, false)
  assert.deepEqual(stale.body.subscription, r1.body.subscription)
  assert.equal(d.node.store.digest(), digest, 'a stale event changes nothing')

  const replay = await d.call({ service: true }, 'POST', '/billing/subscription', { body: sub({ event_time: t2, period_end: periodEnd, stripe_customer_id: 'cus_123', stripe_subscription_id: 'sub_9' }) })
  assert.equal(replay.body.applied, true)
  assert.equal(d.node.store.digest(), digest, 'a replayed event changes nothing')

  const got = await d.call({ token: user }, 'GET', '/billing/subscription')
  assert.equal(got.body.tier, 'pro')
  assert.deepEqual(got.body.subscription, r1.body.subscription)
  const me = await d.call({ token: user }, 'GET', '/accounts/me')
  assert.equal(me.body.tier, 'pro')
  assert.equal(me.body.agents.available, DEFAULT_BILLING_CONFIG.tiers.pro.agent_slots)

  // A newer cancellation wins, and the tier in force falls back to free.
  const t3 = Date.parse('2025-03-06T00:00:00Z')
  const cancel = await d.call({ token: admin }, 'POST', '/billing/subscription', { body: sub({ status: 'canceled', event_time: t3 }) })
  assert.equal(cancel.body.applied, true)
  const after = await d.call({ token: user }, 'GET', '/billing/subscription')
  assert.equal(after.body.subscription.status, 'canceled')
  assert.equal(after.body.tier, 'free')
  // and the older 'active' event delivered late still cannot resurrect it
  const late = await d.call({ service: true }, 'POST', '/billing/subscription', { body: sub({ event_time: t2 + 1 }) })
  assert.equal(late.body.applied, false)
  assert.equal(late.body.subscription.status, 'canceled')
})

test('subscriptions: bad input is a 400 naming the field; event times far in the future are refused', async () => {
  const digest = d.node.store.digest()
  assertProblem(await d.call({ token: admin }, 'POST', '/billing/subscription', { body: sub({ tier: 'platinum', event_time: 1 }) }), 400, 'invalid_field', 'tier')
  assertProblem(await d.call({ token: admin }, 'POST', '/billing/subscription', { body: sub({ event_time: 'yesterday' }) }), 400, 'invalid_field', 'event_time')
  assertProblem(await d.call({ token: admin }, 'POST', '/billing/subscription', { body: sub({ event_time: d.clock.now + 2 * 86_400_000 }) }), 400, 'invalid_field', 'event_time')
  assertProblem(await d.call({ token: admin }, 'POST', '/billing/subscription', { body: sub({ event_time: 1, coupon: 'x' }) }), 400, 'unknown_field', 'coupon')
  assertProblem(await d.call({ token: admin }, 'POST', '/billing/subscription', { body: { tier: 'pro', status: 'active', event_time: 1 } }), 400, 'invalid_field', 'account_id')
  assert.equal(d.node.store.digest(), digest)
})

test('subscriptions: only admins of the project and services may write', async () => {
  const digest = d.node.store.digest()
  const body = sub({ tier: 'enterprise', event_time: d.clock.now })
  assertProblem(await d.call({ token: user }, 'POST', '/billing/subscription', { body }), 403, 'forbidden')
  assertProblem(await d.call({ token: dev }, 'POST', '/billing/subscription', { body }), 403, 'forbidden')
  assertProblem(await d.call({ token: otherAdmin }, 'POST', '/billing/subscription', { body }), 403, 'wrong_project')
  assertProblem(await d.call({ service: true }, 'POST', '/billing/subscription', { body: { ...body, account_id: `acc_${'3'.repeat(24)}` } }), 404, 'not_found', 'account_id')
  assert.equal(d.node.store.digest(), digest)
})

test('credits/add: the same key twice grants once; 201 then 200 with the same grant', async () => {
  const before = await balance()
  const body = { account_id: userId, amount: 250, idempotency_key: 'support-4711', reason: 'goodwill' }
  const first = await d.call({ token: admin }, 'POST', '/billing/credits/add', { body })
  assert.equal(first.status, 201, first.text)
  assert.equal(first.body.applied, true)
  assert.equal(first.body.grant.amount, 250)
  assert.equal(first.body.grant.by, ADMIN)
  assert.equal(first.body.balance, before + 250)
  const digest = d.node.store.digest()
  const second = await d.call({ token: admin }, 'POST', '/billing/credits/add', { body })
  assert.equal(second.status, 200)
  assert.equal(second.body.applied, false)
  assert.deepEqual(second.body.grant, first.body.grant)
  assert.equal(await balance(), before + 250)
  assert.equal(d.node.store.digest(), digest)
})

test('credits/add: the same key sent concurrently grants once', async () => {
  const before = await balance()
  const body = { account_id: userId, amount: 40, idempotency_key: 'race-1', reason: 'race' }
  const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => d.call(i % 2 === 0 ? { token: admin } : { service: true }, 'POST', '/billing/credits/add', { body })))
  assert.deepEqual(replies.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 200, 200, 200, 200, 201])
  assert.equal(await balance(), before + 40)
})

test('credits/add: the same key with another amount is a 409 and changes nothing', async () => {
  const body = { account_id: userId, amount: 10, idempotency_key: 'once-only', reason: 'x' }
  assert.equal((await d.call({ service: true }, 'POST', '/billing/credits/add', { body })).status, 201)
  const before = await balance()
  const digest = d.node.store.digest()
  assertProblem(await d.call({ service: true }, 'POST', '/billing/credits/add', { body: { ...body, amount: 11 } }), 409, 'idempotency_conflict', 'idempotency_key')
  assert.equal(await balance(), before)
  assert.equal(d.node.store.digest(), digest)
})

test('credits/add: amounts must be positive integers up to max_credit_amount', async () => {
  const digest = d.node.store.digest()
  const body = (amount: unknown): unknown => ({ account_id: userId, amount, idempotency_key: `amt-${String(amount)}`, reason: 'x' })
  for (const amount of [0, -5, 1.5, DEFAULT_BILLING_CONFIG.max_credit_amount + 1, 1e300, '100', null]) {
    assertProblem(await d.call({ token: admin }, 'POST', '/billing/credits/add', { body: body(amount) }), 400, 'invalid_field', 'amount')
  }
  assertProblem(await d.call({ token: admin }, 'POST', '/billing/credits/add', { body: { account_id: userId, amount: 1, idempotency_key: 'bad key!', reason: 'x' } }), 400, 'invalid_field', 'idempotency_key')
  assertProblem(await d.call({ token: admin }, 'POST', '/billing/credits/add', { body: { account_id: userId, amount: 1, idempotency_key: 'k', reason: 'line\nbreak' } }), 400, 'invalid_field', 'reason')
  assert.equal(d.node.store.digest(), digest)
  const max = await d.call({ service: true }, 'POST', '/billing/credits/add', { body: body(DEFAULT_BILLING_CONFIG.max_credit_amount) })
  assert.equal(max.status, 201, 'the maximum itself is accepted')
})

test('checkout/process: once per session (also concurrently); another amount is a 409 on checkout_session_id', async () => {
  const before = await balance()
  const body = { account_id: userId, checkout_session_id: 'cs_test_a1B2c3', credits: 5000 }
  const replies = await Promise.all(Array.from({ length: 6 }, () => d.call({ service: true }, 'POST', '/billing/checkout/process', { body })))
  assert.deepEqual(replies.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 201])
  assert.equal(await balance(), before + 5000)
  const created = replies.find((r) => r.status === 201)!
  assert.equal(created.body.grant.kind, 'checkout')
  assert.equal(created.body.grant.by, 'service:billing-frontend', 'services are recorded by name')
  assertProblem(await d.call({ token: admin }, 'POST', '/billing/checkout/process', { body: { ...body, credits: 50 } }), 409, 'idempotency_conflict', 'checkout_session_id')
  assert.equal(await balance(), before + 5000)
  // a manual grant whose key equals the session id is a different grant (namespaced keys)
  const manual = await d.call({ token: admin }, 'POST', '/billing/credits/add', { body: { account_id: userId, amount: 5000, idempotency_key: 'cs_test_a1B2c3', reason: 'unrelated' } })
  assert.equal(manual.status, 201)
  assert.equal(await balance(), before + 10_000)
})

test('checkout/process and credits/add: users and developers cannot grant themselves credits', async () => {
  const digest = d.node.store.digest()
  for (const t of [user, dev]) {
    assertProblem(await d.call({ token: t }, 'POST', '/billing/checkout/process', { body: { account_id: userId, checkout_session_id: 'cs_self', credits: 1 } }), 403, 'forbidden')
    assertProblem(await d.call({ token: t }, 'POST', '/billing/credits/add', { body: { account_id: userId, amount: 1, idempotency_key: 'self', reason: 'me' } }), 403, 'forbidden')
  }
  assertProblem(await d.call({ token: otherAdmin }, 'POST', '/billing/credits/add', { body: { account_id: userId, amount: 1, idempotency_key: 'x', reason: 'x' } }), 403, 'wrong_project')
  assert.equal(d.node.store.digest(), digest)
})

test('credits, transactions and period usage reflect grants, spends and usage', async () => {
  const t = await d.token('ledger@demo', 'user')
  assert.equal((await d.call({ token: t }, 'POST', '/accounts')).status, 201)
  const id = d.accountOf('ledger@demo')
  const now = d.clock.now
  const store = d.node.store
  d.clock.now = now + 500
  await d.call({ service: true }, 'POST', '/billing/credits/add', { body: { account_id: id, amount: 300, idempotency_key: 'g1', reason: 'bonus' } })
  d.clock.now = now + 1000
  await d.call({ service: true }, 'POST', '/billing/checkout/process', { body: { account_id: id, checkout_session_id: 'cs_l1', credits: 700 } })
  // spends and usage as the metered routes record them
  await store.commit(accountKey(id), spendChanges(store, id, 30, now - 3_600_000))
  await store.commit(accountKey(id), spendChanges(store, id, 12, now - 3 * 86_400_000))
  await store.commit(accountKey(id), usageChanges(store, id, { type: 'model', id: 'gpt-x' }, { tokens_in: 900, tokens_out: 100, requests: 2 }, now - 3_600_000))
  await store.commit(accountKey(id), usageChanges(store, id, { type: 'agent', id: 'writer' }, { 'invocations:run': 4 }, now - 2 * 86_400_000))
  // last month: outside this period
  await store.commit(accountKey(id), usageChanges(store, id, { type: 'model', id: 'gpt-x' }, { tokens_in: 7777 }, Date.parse('2025-02-20T00:00:00Z')))

  const credits = await d.call({ token: t }, 'GET', '/billing/credits')
  const included = DEFAULT_BILLING_CONFIG.tiers.free.included_credits
  assert.deepEqual(credits.body, { account_id: id, balance: included + 1000 - 42, granted: included + 1000, spent: 42 })

  const tx = await d.call({ token: t }, 'GET', '/billing/credits/transactions')
  assert.equal(tx.status, 200, tx.text)
  assert.deepEqual(tx.body.grants.map((g: { id: string, amount: number }) => [g.id, g.amount]), [['checkout:cs_l1', 700], ['manual:g1', 300], [`included:${id}:signup`, included]])
  assert.equal(tx.body.consumption.window, 'day')
  const day = (ms: number): number => Math.floor(ms / 86_400_000) * 86_400_000
  assert.deepEqual(tx.body.consumption.rows, [{ start: day(now - 3 * 86_400_000), credits: 12 }, { start: day(now - 3_600_000), credits: 30 }])
  const hourly = await d.call({ token: t }, 'GET', `/billing/credits/transactions?window=hour&from=${now - 5 * 3_600_000}&limit=1`)
  assert.deepEqual(hourly.body.consumption.rows, [{ start: Math.floor((now - 3_600_000) / 3_600_000) * 3_600_000, credits: 30 }])
  assert.equal(hourly.body.grants.length, 1)
  assertProblem(await d.call({ token: t }, 'GET', `/billing/credits/transactions?from=${now}&to=${now - 1}`), 400, 'invalid_field', 'from')
  assertProblem(await d.call({ token: t }, 'GET', '/billing/credits/transactions?limit=0'), 400, 'invalid_field', 'limit')

  const usage = await d.call({ token: t }, 'GET', '/billing/usage')
  assert.equal(usage.status, 200, usage.text)
  assert.deepEqual(usage.body.period, { start: Date.parse('2025-03-01T00:00:00Z'), end: Date.parse('2025-04-01T00:00:00Z') })
  assert.deepEqual(usage.body.models, [{ model: 'gpt-x', metrics: { tokens_in: 900, tokens_out: 100, requests: 2 } }])
  assert.deepEqual(usage.body.agents, [{ agent: 'writer', metrics: { 'invocations:run': 4 } }])
  assert.deepEqual(usage.body.totals, { tokens_in: 900, tokens_out: 100, requests: 2, 'invocations:run': 4 })
  assert.equal(usage.body.tokens, 1000)
  assert.deepEqual(usage.body.credits, { spent_this_period: 42, included, balance: included + 1000 - 42 })
})

test('billing reads: users see only their own account, admins their project, services any', async () => {
  const q = `?account_id=${d.accountOf(ADMIN)}`
  assertProblem(await d.call({ token: user }, 'GET', `/billing/credits${q}`), 403, 'forbidden')
  assert.equal((await d.call({ token: user }, 'GET', `/billing/credits?account_id=${userId}`)).status, 200)
  assert.equal((await d.call({ token: admin }, 'GET', `/billing/credits?account_id=${userId}`)).body.account_id, userId)
  assertProblem(await d.call({ token: otherAdmin }, 'GET', `/billing/credits?account_id=${userId}`), 403, 'wrong_project')
  assertProblem(await d.call({ service: true }, 'GET', '/billing/credits'), 400, 'invalid_field', 'account_id')
  assert.equal((await d.call({ service: true }, 'GET', `/billing/credits?account_id=${userId}`)).status, 200)
  assertProblem(await d.call({ token: user }, 'GET', '/billing/credits?account_id=nope'), 400, 'invalid_field', 'account_id')
  assertProblem(await d.call({ token: user }, 'GET', '/billing/credits?acount_id=x'), 400, 'unknown_field', 'acount_id')
})

test('a token scoped without billing:read cannot read billing', async () => {
  const scoped = await d.token(USER, 'user', undefined, 'usage:read')
  assertProblem(await d.call({ token: scoped }, 'GET', '/billing/credits'), 403, 'insufficient_scope')
  assert.equal((await d.call({ token: scoped }, 'GET', '/usage/forecast')).status, 200)
})
