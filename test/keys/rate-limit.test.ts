// Rate limits on a real devnet with the default tier limits (free: burst 20): every
// authenticated answer carries X-RateLimit-*, a burst past the limit gets 429 with
// Retry-After and a problem body, keys and JWT subjects have separate buckets, and a
// key's limit follows its account's tier.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import { startKeysDevnet, USER, DEV, type KeysDevnet, type Reply } from './helpers.ts'

let d: KeysDevnet
const free = DEFAULT_BILLING_CONFIG.tiers.free.rate_limit
const pro = DEFAULT_BILLING_CONFIG.tiers.pro.rate_limit

before(async () => { d = await startKeysDevnet() })
after(async () => { await d.close() })

async function burst (n: number, headers: Record<string, string>, path = '/accounts/me'): Promise<Reply[]> {
  return Promise.all(Array.from({ length: n }, () => d.req('GET', path, headers)))
}

function assertRateHeaders (r: Reply, limit: number): void {
  assert.equal(r.headers.get('x-ratelimit-limit'), String(limit), `${r.status} ${r.text}`)
  assert.match(r.headers.get('x-ratelimit-remaining') ?? '', /^\d+$/)
  assert.match(r.headers.get('x-ratelimit-reset') ?? '', /^\d+$/)
}

test('a burst with a free key: the first `burst` pass, the rest are 429 with Retry-After and a problem body', async () => {
  const jwt = await d.token(USER)
  const k = await d.createKey(jwt, ['usage:read'])
  const started = Date.now()
  const replies = await burst(free.burst + 15, { 'x-api-key': k.key })
  const elapsedS = (Date.now() - started) / 1000
  const ok = replies.filter((r) => r.status === 200)
  const limited = replies.filter((r) => r.status === 429)
  // Tokens refill at the tier's rate while the burst is in flight (slow on a loaded machine):
  // at most burst + rate × elapsed pass, and never fewer than the burst.
  const refill = Math.ceil(elapsedS * free.per_second) + 1
  assert.ok(ok.length >= free.burst && ok.length <= free.burst + refill, `ok ${ok.length}, elapsed ${elapsedS}s`)
  assert.ok(limited.length > 0 || refill >= 15, 'a burst past the limit is refused')
  assert.equal(ok.length + limited.length, replies.length)
  for (const r of replies) assertRateHeaders(r, free.burst)
  for (const r of limited) {
    assert.match(r.type, /application\/problem\+json/)
    assert.equal(r.body.code, 'rate_limited')
    assert.ok(Number(r.headers.get('retry-after')) >= 1)
    assert.equal(r.body.retry_after, Number(r.headers.get('retry-after')))
  }
  const remaining = ok.map((r) => Number(r.headers.get('x-ratelimit-remaining')))
  assert.ok(Math.min(...remaining) <= 1, 'remaining counts down')
})

test('error answers of authenticated requests carry the headers too; keys and the owner\'s JWT have separate buckets', async () => {
  const jwt = await d.token(DEV, 'developer')
  const k = await d.createKey(jwt, ['keys:manage'])
  const missing = await d.req('GET', '/api-keys/0123456789abcdef', { 'x-api-key': k.key })
  assert.equal(missing.status, 404)
  assertRateHeaders(missing, free.burst)
  const replies = await burst(free.burst + 5, { 'x-api-key': k.key }, '/api-keys')
  assert.ok(replies.some((r) => r.status === 429))
  // The owner's own JWT is not throttled by its key's burst.
  const mine = await d.as(jwt, 'GET', '/accounts/me')
  assert.equal(mine.status, 200)
  assertRateHeaders(mine, free.burst)
})

test('a JWT subject is limited by its tier too', async () => {
  const jwt = await d.token('burst@demo')
  const replies = await burst(free.burst + 10, { authorization: `Bearer ${jwt}` }, '/api-keys')
  assert.ok(replies.filter((r) => r.status === 429).length >= 5)
})

test('a key of a pro account gets the pro limit, read from its account\'s tier', async () => {
  const sub = 'pro-user@demo'
  const jwt = await d.token(sub)
  assert.equal((await d.as(jwt, 'POST', '/accounts')).status, 201)
  const id = d.accountOf(sub)
  const { recordSubscription } = await import('../../src/state/billing-actions.ts')
  await recordSubscription(d.node.store, id, { tier: 'pro', status: 'active', period_end: null, stripe_customer_id: null, stripe_subscription_id: null, event_time: d.clock.now })
  const k = await d.createKey(jwt, ['usage:read'])
  const replies = await burst(free.burst + 20, { 'x-api-key': k.key })
  assert.equal(replies.filter((r) => r.status === 200).length, free.burst + 20, 'more than the free burst passes')
  for (const r of replies) assertRateHeaders(r, pro.burst)
})

test('an unauthenticated request has no rate-limit headers (nothing is counted for it)', async () => {
  const r = await d.req('GET', '/accounts/me', { 'x-api-key': 'fs_test_bad' })
  assert.equal(r.status, 401)
  assert.equal(r.headers.get('x-ratelimit-limit'), null)
})
