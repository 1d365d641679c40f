// Metered calls over HTTP on a real devnet: model invoke arithmetic (cost, balance, usage
// counters, and that /usage/stats and /billing/credits agree), 402s with their upgrade
// hints, no overspending under 50 concurrent calls, agent hiring bounded by the tier's
// slots, agent invocations by operation, and callers by API key and scoped token.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import { ADMIN, startTestDevnet, type Caller, type TestDevnet } from './devnet-helpers.ts'
import { assertProblem } from './problem.ts'

let d: TestDevnet
let admin: Caller
let n = 0

before(async () => {
  d = await startTestDevnet()
  admin = { token: await d.token(ADMIN, 'admin') }
})
after(async () => { await d.close() })

/** A fresh user with an account (free tier, 1,000 signup credits). */
async function freshUser (scope?: string): Promise<{ caller: Caller, id: string, sub: string }> {
  const sub = `meter-${++n}@demo`
  const caller = { token: await d.token(sub, 'user', undefined, scope) }
  const created = await d.call({ token: await d.token(sub, 'user') }, 'POST', '/accounts')
  assert.equal(created.status, 201, created.text)
  return { caller, id: created.body.id, sub }
}

const invoke = (c: Caller, model: string, input: number, output: number) =>
  d.call(c, 'POST', `/models/${model}/invoke`, { body: { input_tokens: input, output_tokens: output } })

async function setTier (id: string, tier: string, status = 'active'): Promise<void> {
  d.clock.now += 1
  const r = await d.call(admin, 'POST', '/billing/subscription', { body: { account_id: id, tier, status, event_time: d.clock.now } })
  assert.equal(r.status, 200, r.text)
}

test('model invoke: cost rounded up from per-1k prices, balance, usage; /usage/stats and /billing/credits agree', async () => {
  const u = await freshUser()
  // gpt-demo: 1 / 2 credits per 1k → (1500·1 + 700·2) / 1000 = 2.9 → 3
  const a = await invoke(u.caller, 'gpt-demo', 1500, 700)
  assert.equal(a.status, 200, a.text)
  assert.deepEqual(a.body, {
    model: 'gpt-demo',
    account_id: u.id,
    cost: 3,
    credits_remaining: 997,
    subscription: { tier: 'free', status: 'active' },
    usage: { tokens_in: 1500, tokens_out: 700, requests: 1 },
  })
  // gpt-demo-large: 5 / 15 per 1k → (200·5 + 100·15) / 1000 = 2.5 → 3
  const b = await invoke(u.caller, 'gpt-demo-large', 200, 100)
  assert.equal(b.body.cost, 3)
  assert.equal(b.body.credits_remaining, 994)
  // No tokens: free, but the request is counted.
  const c = await invoke(u.caller, 'gpt-demo', 0, 0)
  assert.equal(c.body.cost, 0)
  assert.equal(c.body.credits_remaining, 994)

  const stats = await d.call(u.caller, 'GET', '/usage/stats?window=minute')
  assert.equal(stats.status, 200, stats.text)
  assert.deepEqual(stats.body.models, [
    { model: 'gpt-demo', metrics: { requests: 2, tokens_in: 1500, tokens_out: 700 } },
    { model: 'gpt-demo-large', metrics: { requests: 1, tokens_in: 200, tokens_out: 100 } },
  ])
  assert.deepEqual(stats.body.totals, { requests: 3, tokens_in: 1700, tokens_out: 800 })
  const day = await d.call(u.caller, 'GET', '/usage/stats?window=day')
  assert.deepEqual(day.body.totals, stats.body.totals, 'every resolution counts the same calls')

  const credits = await d.call(u.caller, 'GET', '/billing/credits')
  assert.deepEqual({ balance: credits.body.balance, spent: credits.body.spent }, { balance: 994, spent: 6 })
  const tx = await d.call(u.caller, 'GET', '/billing/credits/transactions?window=hour')
  assert.equal(tx.body.consumption.rows.reduce((s: number, r: any) => s + r.credits, 0), 6)
  const usage = await d.call(u.caller, 'GET', '/billing/usage')
  assert.equal(usage.body.credits.spent_this_period, 6)
  assert.equal(usage.body.tokens, 2500)
})

test('402 credits_insufficient with the required amount and an upgrade hint; nothing changes', async () => {
  const u = await freshUser()
  const digest = d.node.store.digest()
  // gpt-demo-large at 5 per 1k input: 200,200 tokens cost 1,001 > 1,000.
  const r = await invoke(u.caller, 'gpt-demo-large', 200_200, 0)
  assertProblem(r, 402, 'credits_insufficient')
  assert.equal(r.body.required, 1001)
  assert.equal(r.body.balance, 1000)
  assert.equal(r.body.tier, 'free')
  assert.equal(r.body.upgrade.tier, 'pro')
  assert.equal(typeof r.body.upgrade.adds.included_credits, 'number')
  assert.equal(d.node.store.digest(), digest)
  // Exactly the balance is fine, and leaves 0.
  const all = await invoke(u.caller, 'gpt-demo-large', 200_000, 0)
  assert.equal(all.body.credits_remaining, 0)
})

test('402 subscription_inactive while past due', async () => {
  const u = await freshUser()
  await setTier(u.id, 'pro', 'past_due')
  assertProblem(await invoke(u.caller, 'gpt-demo', 10, 10), 402, 'subscription_inactive')
  await setTier(u.id, 'pro', 'active')
  const ok = await invoke(u.caller, 'gpt-demo', 10, 10)
  assert.deepEqual(ok.body.subscription, { tier: 'pro', status: 'active' })
})

test('50 concurrent invokes with a balance for 10: exactly 10 succeed, the balance ends at 0', async () => {
  const u = await freshUser()
  // gpt-demo-large: 20,000 input tokens at 5 per 1k = 100 credits; 1,000 / 100 = 10 calls.
  const replies = await Promise.all(Array.from({ length: 50 }, async () => invoke(u.caller, 'gpt-demo-large', 20_000, 0)))
  const ok = replies.filter((r) => r.status === 200)
  const refused = replies.filter((r) => r.status === 402)
  assert.equal(ok.length, 10)
  assert.equal(refused.length, 40)
  for (const r of refused) assert.equal(r.body.code, 'credits_insufficient')
  assert.deepEqual(ok.map((r) => r.body.credits_remaining).sort((a, b) => a - b), [0, 100, 200, 300, 400, 500, 600, 700, 800, 900])
  assert.equal((await d.call(u.caller, 'GET', '/billing/credits')).body.balance, 0)
  const stats = await d.call(u.caller, 'GET', '/usage/stats?window=minute')
  assert.deepEqual(stats.body.totals, { requests: 10, tokens_in: 200_000 })
})

test('invoke input: token bounds, unknown fields, invisible or missing models', async () => {
  const u = await freshUser()
  const digest = d.node.store.digest()
  const tooMany = DEFAULT_BILLING_CONFIG.max_tokens_per_call + 1
  assertProblem(await d.call(u.caller, 'POST', '/models/gpt-demo/invoke', { body: { input_tokens: tooMany, output_tokens: 0 } }), 400, 'invalid_field', 'input_tokens')
  assertProblem(await d.call(u.caller, 'POST', '/models/gpt-demo/invoke', { body: { input_tokens: 0, output_tokens: -1 } }), 400, 'invalid_field', 'output_tokens')
  assertProblem(await d.call(u.caller, 'POST', '/models/gpt-demo/invoke', { body: { input_tokens: 1.5, output_tokens: 0 } }), 400, 'invalid_field', 'input_tokens')
  assertProblem(await d.call(u.caller, 'POST', '/models/gpt-demo/invoke', { body: { input_tokens: 1 } }), 400, 'invalid_field', 'output_tokens')
  assertProblem(await d.call(u.caller, 'POST', '/models/gpt-demo/invoke', { body: { input_tokens: 1, output_tokens: 1, free: true } }), 400, 'unknown_field', 'free')
  assertProblem(await invoke(u.caller, 'no-such-model', 1, 1), 404, 'not_found')
  const other = { token: await d.token('dev@elsewhere', 'developer', 'proj_elsewhere') }
  assert.equal((await d.call(other, 'POST', '/models', { body: { id: 'elsewhere-private', name: 'E', pricing: { per_1k_input: 1, per_1k_output: 1 } } })).status, 201)
  const afterCreate = d.node.store.digest()
  assertProblem(await invoke(u.caller, 'elsewhere-private', 1, 1), 404, 'not_found')
  assert.equal(d.node.store.digest(), afterCreate)
  assert.notEqual(digest, afterCreate)
})

test('callers: an API key charges its own account; scopes are enforced; no account yet is 404 with a hint', async () => {
  const u = await freshUser()
  const key = await d.call(u.caller, 'POST', '/api-keys/create', { body: { name: 'invoker', scopes: ['models:invoke'] } })
  assert.equal(key.status, 201, key.text)
  const viaKey = await d.call({ none: true }, 'POST', '/models/gpt-demo/invoke', { body: { input_tokens: 1000, output_tokens: 0 }, headers: { 'x-api-key': key.body.key } })
  assert.equal(viaKey.status, 200, viaKey.text)
  assert.equal(viaKey.body.account_id, u.id)
  assert.equal(viaKey.body.credits_remaining, 999)
  assertProblem(await d.call({ bearer: key.body.key }, 'POST', '/agents/summarizer/hire'), 403, 'insufficient_scope')

  const scoped = { token: await d.token(u.sub, 'user', undefined, 'usage:read') }
  assertProblem(await invoke(scoped, 'gpt-demo', 1, 1), 403, 'insufficient_scope')
  assertProblem(await invoke({ service: true }, 'gpt-demo', 1, 1), 403, 'forbidden')
  assertProblem(await invoke({ none: true }, 'gpt-demo', 1, 1), 401, 'unauthenticated')

  const nobody = { token: await d.token('no-account@demo', 'user') }
  const r = await invoke(nobody, 'gpt-demo', 1, 1)
  assertProblem(r, 404, 'not_found')
  assert.deepEqual(r.body.hint, { method: 'POST', path: '/accounts' })
})

test('hiring: free tier has 1 slot (402 agent_slots_exhausted + upgrade), idempotent, release frees it; pro has 5', async () => {
  const u = await freshUser()
  const hire = (agent: string) => d.call(u.caller, 'POST', `/agents/${agent}/hire`)
  const first = await hire('summarizer')
  assert.equal(first.status, 201, first.text)
  assert.deepEqual(first.body.slots, { hired: ['summarizer'], used: 1, available: 0 })
  assert.equal(first.body.credits_remaining, 1000)

  const digest = d.node.store.digest()
  const again = await hire('summarizer')
  assert.equal(again.status, 200)
  assert.equal(again.body.changed, false)
  const full = await hire('translator')
  assertProblem(full, 402, 'agent_slots_exhausted')
  assert.equal(full.body.upgrade.tier, 'pro')
  assert.equal(full.body.upgrade.adds.agent_slots, 5)
  assert.equal(d.node.store.digest(), digest, 'a repeated hire and a refused one change nothing')

  const released = await d.call(u.caller, 'DELETE', '/agents/summarizer/hire')
  assert.equal(released.status, 200, released.text)
  assert.deepEqual([released.body.hired, released.body.changed, released.body.slots.available], [false, true, 1])
  assert.equal((await d.call(u.caller, 'DELETE', '/agents/summarizer/hire')).body.changed, false)
  assert.equal((await hire('translator')).status, 201)

  await setTier(u.id, 'pro')
  for (let i = 0; i < 5; i++) {
    const id = `slot-agent-${n}-${i}`
    assert.equal((await d.call(admin, 'POST', '/agents', { body: { id, name: id, pricing: { per_invocation: 1 }, visibility: 'public' } })).status, 201)
    const r = await hire(id)
    if (i < 4) assert.equal(r.status, 201, r.text)
    else {
      assertProblem(r, 402, 'agent_slots_exhausted')
      assert.equal(r.body.upgrade.tier, 'enterprise')
    }
  }
  const me = await d.call(u.caller, 'GET', '/accounts/me')
  assert.deepEqual([me.body.agents.used, me.body.agents.available], [5, 0])
  assertProblem(await hire('no-such-agent'), 404, 'not_found')
})

test('agent invoke: requires the agent hired, charges its price, counts invocations by operation', async () => {
  const u = await freshUser()
  const call = (operation: string, agent = 'summarizer') => d.call(u.caller, 'POST', `/agents/${agent}/invoke`, { body: { operation, input: { text: 'hello' } } })
  const r0 = await call('summarize')
  assertProblem(r0, 409, 'agent_not_hired')
  assert.deepEqual(r0.body.hint, { method: 'POST', path: '/agents/summarizer/hire' })
  await d.call(u.caller, 'POST', '/agents/summarizer/hire')

  const a = await call('summarize')
  assert.equal(a.status, 200, a.text)
  assert.deepEqual(a.body, {
    agent: 'summarizer', operation: 'summarize', account_id: u.id, cost: 5, credits_remaining: 995,
    subscription: { tier: 'free', status: 'active' }, usage: { 'invocations:summarize': 1 },
  })
  await call('summarize')
  assert.equal((await call('outline')).body.credits_remaining, 985)
  assertProblem(await call('translate'), 400, 'invalid_field', 'operation') // not one of summarizer's operations
  assertProblem(await call('bad/op'), 400, 'invalid_field', 'operation')

  const stats = await d.call(u.caller, 'GET', '/usage/stats?window=hour')
  assert.deepEqual(stats.body.agents, [{ agent: 'summarizer', metrics: { 'invocations:outline': 1, 'invocations:summarize': 2 } }])
  assert.equal((await d.call(u.caller, 'GET', '/billing/credits')).body.spent, 15)

  // The balance bounds agent calls too.
  const poor = await freshUser()
  await d.call(poor.caller, 'POST', '/models/gpt-demo-large/invoke', { body: { input_tokens: 199_200, output_tokens: 0 } }) // leaves 4
  await d.call(poor.caller, 'POST', '/agents/summarizer/hire')
  const broke = await d.call(poor.caller, 'POST', '/agents/summarizer/invoke', { body: { operation: 'summarize' } })
  assertProblem(broke, 402, 'credits_insufficient')
  assert.equal(broke.body.required, 5)
})

test('a price change applies to the next call (cached pricing follows the catalog doc)', async () => {
  const u = await freshUser()
  const dev = { token: await d.token('dev@demo', 'developer') }
  assert.equal((await d.call(dev, 'POST', '/models', { body: { id: 'repriced', name: 'R', pricing: { per_1k_input: 10, per_1k_output: 0 }, visibility: 'public' } })).status, 201)
  assert.equal((await invoke(u.caller, 'repriced', 1000, 0)).body.cost, 10)
  assert.equal((await invoke(u.caller, 'repriced', 1000, 0)).body.cost, 10)
  assert.equal((await d.call(dev, 'PATCH', '/models/repriced', { body: { pricing: { per_1k_input: 30 } } })).status, 200)
  assert.equal((await invoke(u.caller, 'repriced', 1000, 0)).body.cost, 30)
  assert.equal((await d.call(dev, 'PATCH', '/agents/translator', { body: { pricing: { per_invocation: 7 } } })).status, 200)
  await d.call(u.caller, 'POST', '/agents/translator/hire')
  assert.equal((await d.call(u.caller, 'POST', '/agents/translator/invoke', { body: { operation: 'translate' } })).body.cost, 7)
})
