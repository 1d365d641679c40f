// `POST /billing/webhooks/stripe` on a real devnet configured with a webhook secret, with
// events signed by the `stripe` package's own test header generator: checkout → credits
// (once, shared with POST /billing/checkout/process), subscription updates ordered by the
// event's time (a stale one changes nothing), invoice → a period's included credits,
// replays, bad signatures (wrong secret, tampered, missing, stale), ignored types, and a
// node without a secret.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import Stripe from 'stripe'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import { ADMIN, startTestDevnet, type Caller, type Reply, type TestDevnet } from './devnet-helpers.ts'
import { assertProblem } from './problem.ts'

const SECRET = 'whsec_test_' + 'b'.repeat(32)
let d: TestDevnet
let admin: Caller
let n = 0

before(async () => {
  d = await startTestDevnet({ args: ['--stripe-webhook-secret', SECRET] })
  admin = { token: await d.token(ADMIN, 'admin') }
})
after(async () => { await d.close() })

async function freshAccount (): Promise<{ id: string, caller: Caller }> {
  const caller = { token: await d.token(`stripe-${++n}@demo`, 'user') }
  const r = await d.call(caller, 'POST', '/accounts')
  assert.equal(r.status, 201)
  return { id: r.body.id, caller }
}

const nowS = (): number => Math.floor(d.clock.now / 1000)

function event (type: string, object: Record<string, unknown>, opts: { id?: string, created?: number } = {}): Record<string, unknown> {
  return { id: opts.id ?? `evt_${++n}_${type.replace(/\./g, '_')}`, object: 'event', type, created: opts.created ?? nowS(), livemode: false, api_version: '2025-01-27', data: { object } }
}

/** Posts `body` signed with `secret` at `timestamp` (default: the devnet's clock). */
async function deliver (body: unknown, opts: { secret?: string, timestamp?: number, signature?: string | null, raw?: string } = {}): Promise<Reply> {
  const payload = opts.raw ?? JSON.stringify(body)
  const header = Stripe.webhooks.generateTestHeaderString({ payload: JSON.stringify(body), secret: opts.secret ?? SECRET, timestamp: opts.timestamp ?? nowS() })
  const headers: Record<string, string> = {}
  if (opts.signature !== null) headers['stripe-signature'] = opts.signature ?? header
  return d.call({ none: true }, 'POST', '/billing/webhooks/stripe', { raw: payload, headers })
}

const balance = async (c: Caller): Promise<number> => (await d.call(c, 'GET', '/billing/credits')).body.balance
const subscription = async (c: Caller): Promise<any> => (await d.call(c, 'GET', '/billing/subscription')).body

const checkout = (accountId: string, session: string, credits: string) =>
  event('checkout.session.completed', { id: session, object: 'checkout.session', mode: 'payment', payment_status: 'paid', metadata: { account_id: accountId, credits } })

test('checkout.session.completed grants its credits once: a replay and the manual route change nothing', async () => {
  const a = await freshAccount()
  const session = `cs_test_${n}`
  const ev = checkout(a.id, session, '500')
  const r = await deliver(ev)
  assert.equal(r.status, 200, r.text)
  assert.deepEqual({ action: r.body.action, applied: r.body.applied, account_id: r.body.account_id, balance: r.body.balance }, { action: 'credit_grant', applied: true, account_id: a.id, balance: 1500 })
  assert.equal(await balance(a.caller), 1500)

  const digest = d.node.store.digest()
  d.clock.now += 10_000 // Stripe retries later, with a fresh signature
  const replay = await deliver(ev)
  assert.equal(replay.status, 200)
  assert.equal(replay.body.applied, false)
  const manual = await d.call(admin, 'POST', '/billing/checkout/process', { body: { account_id: a.id, checkout_session_id: session, credits: 500 } })
  assert.equal(manual.status, 200, manual.text)
  assert.equal(manual.body.applied, false)
  assert.equal(d.node.store.digest(), digest)
  assert.equal(await balance(a.caller), 1500)
  const grants = (await d.call(a.caller, 'GET', '/billing/credits/transactions')).body.grants
  assert.deepEqual(grants.filter((g: any) => g.kind === 'checkout').map((g: any) => [g.amount, g.by]), [[500, 'stripe']])
})

test('bad signatures are 400 bad_signature and change nothing: wrong secret, tampered body, missing header, stale timestamp', async () => {
  const a = await freshAccount()
  const ev = checkout(a.id, `cs_test_bad_${n}`, '700')
  const digest = d.node.store.digest()
  assertProblem(await deliver(ev, { secret: 'whsec_wrong_' + 'c'.repeat(32) }), 400, 'bad_signature')
  const tampered = JSON.stringify({ ...ev, data: { object: { ...(ev.data as any).object, metadata: { account_id: a.id, credits: '70000' } } } })
  assertProblem(await deliver(ev, { raw: tampered }), 400, 'bad_signature')
  assertProblem(await deliver(ev, { signature: null }), 400, 'bad_signature')
  assertProblem(await deliver(ev, { signature: 't=1,v1=deadbeef' }), 400, 'bad_signature')
  assertProblem(await deliver(ev, { timestamp: nowS() - 3_600 }), 400, 'bad_signature')
  assert.equal(d.node.store.digest(), digest)
  assert.equal(await balance(a.caller), 1000)
})

test('subscription events: the later event wins by its own time; a stale one changes nothing; deleted cancels', async () => {
  const a = await freshAccount()
  const sub = (status: string, tier: string) => ({ id: `sub_${a.id.slice(4, 12)}`, object: 'subscription', customer: 'cus_123', status, metadata: { account_id: a.id, tier }, current_period_end: nowS() + 30 * 86_400 })
  const t = nowS()
  const newer = await deliver(event('customer.subscription.updated', sub('active', 'pro'), { created: t }))
  assert.equal(newer.status, 200, newer.text)
  assert.deepEqual([newer.body.action, newer.body.applied], ['subscription_update', true])
  let s = await subscription(a.caller)
  assert.deepEqual([s.tier, s.subscription.status, s.subscription.stripe_customer_id, s.subscription.event_time], ['pro', 'active', 'cus_123', t * 1000])

  const digest = d.node.store.digest()
  const stale = await deliver(event('customer.subscription.updated', sub('active', 'enterprise'), { created: t - 60 }))
  assert.equal(stale.status, 200)
  assert.equal(stale.body.applied, false)
  assert.equal(d.node.store.digest(), digest, 'an older event arriving late changes nothing')
  assert.equal((await subscription(a.caller)).tier, 'pro')

  const dup = await deliver(event('customer.subscription.updated', sub('active', 'pro'), { created: t }))
  assert.equal(dup.body.applied, false, 'the same state again is a replay')
  assert.equal(d.node.store.digest(), digest)

  const deleted = await deliver(event('customer.subscription.deleted', sub('canceled', 'pro'), { created: t + 60 }))
  assert.equal(deleted.body.applied, true)
  s = await subscription(a.caller)
  assert.deepEqual([s.tier, s.subscription.status], ['free', 'canceled'])
})

test('invoice.paid for a new period grants the tier\'s included credits once per invoice', async () => {
  const a = await freshAccount()
  const invoice = (id: string) => event('invoice.paid', {
    id, object: 'invoice', billing_reason: 'subscription_cycle',
    parent: { subscription_details: { subscription: 'sub_inv', metadata: { account_id: a.id, tier: 'pro' } } },
    lines: { data: [{ period: { end: nowS() + 30 * 86_400 } }] },
  })
  const inv = invoice(`in_${n}_1`)
  const r = await deliver(inv)
  assert.equal(r.status, 200, r.text)
  assert.equal(r.body.action, 'credit_grant')
  const included = DEFAULT_BILLING_CONFIG.tiers.pro.included_credits
  assert.equal(await balance(a.caller), 1000 + included)
  assert.equal((await deliver(inv)).body.applied, false)
  assert.equal((await deliver(invoice(`in_${n}_2`))).body.applied, true, 'the next invoice is the next period')
  assert.equal(await balance(a.caller), 1000 + 2 * included)
})

test('unhandled types are acknowledged and ignored; an event for an unknown account is a 404 that changes nothing', async () => {
  const digest = d.node.store.digest()
  const r = await deliver(event('customer.created', { id: 'cus_1', object: 'customer' }))
  assert.equal(r.status, 200)
  assert.deepEqual([r.body.action, r.body.applied, r.body.account_id], ['ignored', false, null])
  assertProblem(await deliver(checkout('acc_000000000000000000000000', 'cs_nobody', '10')), 404, 'not_found', 'account_id')
  assertProblem(await deliver(event('checkout.session.completed', { id: 'cs_x', object: 'checkout.session', payment_status: 'paid', metadata: {} })), 400, 'invalid_field', 'data.object.metadata.credits')
  assert.equal(d.node.store.digest(), digest)
})

test('a node without a webhook secret answers 404 not_configured, never a 5xx', async () => {
  const plain = await startTestDevnet()
  try {
    const r = await plain.call({ none: true }, 'POST', '/billing/webhooks/stripe', { body: { id: 'evt_1', type: 'checkout.session.completed' }, headers: { 'stripe-signature': 't=1,v1=00' } })
    assertProblem(r, 404, 'not_configured')
    assert.match(r.body.detail, /FORMSTATE_STRIPE_WEBHOOK_SECRET/)
  } finally { await plain.close() }
})
