// Stripe webhooks: signatures made with the stripe package's own test helper, verified
// offline; then the mapping of verified events to our intents.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import Stripe from 'stripe'
import { FormStateError } from '../../src/errors.ts'
import { verifyStripeWebhook } from '../../src/billing/stripe.ts'
import { mapSubscriptionStatus, stripeIntent, type StripeEventLike } from '../../src/billing/stripe-intents.ts'
import { checkoutGrantKey } from '../../src/state/billing-actions.ts'
import { DEFAULT_BILLING_CONFIG as CFG } from '../../src/state/tiers.ts'

const SECRET = 'whsec_test_secret'
const NOW_S = 1_800_000_000

function code (c: string): (err: unknown) => boolean {
  return (err: unknown) => err instanceof FormStateError && err.code === c
}

function signed (event: unknown, opts: { secret?: string, timestamp?: number } = {}): { body: string, header: string } {
  const body = JSON.stringify(event)
  const header = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: opts.secret ?? SECRET, timestamp: opts.timestamp ?? NOW_S })
  return { body, header }
}

function event (type: string, object: Record<string, unknown>, created = NOW_S - 10): StripeEventLike & { object: 'event' } {
  return { id: `evt_${type.replace(/\W/g, '_')}`, object: 'event', type, created, data: { object } }
}

const checkout = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: 'cs_test_1', object: 'checkout.session', mode: 'payment', payment_status: 'paid', client_reference_id: null,
  metadata: { account_id: 'acc_0123456789abcdef01234567', credits: '5000' }, ...over,
})

test('a good signature verifies (string and Buffer bodies) and yields the event', () => {
  const { body, header } = signed(event('checkout.session.completed', checkout()))
  const e = verifyStripeWebhook(body, header, SECRET, 300, NOW_S * 1000)
  assert.equal(e.type, 'checkout.session.completed')
  assert.equal(e.id, 'evt_checkout_session_completed')
  assert.equal(verifyStripeWebhook(Buffer.from(body), header, SECRET, 300, NOW_S * 1000).id, e.id)
})

test('bad, missing or foreign signatures, stale timestamps and tampered bodies are bad_signature', () => {
  const { body, header } = signed(event('checkout.session.completed', checkout()))
  const at = NOW_S * 1000
  assert.throws(() => verifyStripeWebhook(body, header, 'whsec_other', 300, at), code('bad_signature'), 'wrong secret')
  assert.throws(() => verifyStripeWebhook(body, undefined, SECRET, 300, at), code('bad_signature'), 'no header')
  assert.throws(() => verifyStripeWebhook(body, 'garbage', SECRET, 300, at), code('bad_signature'), 'garbled header')
  assert.throws(() => verifyStripeWebhook(body, header.replace(/v1=[0-9a-f]+/, 'v1=' + 'ab'.repeat(32)), SECRET, 300, at), code('bad_signature'), 'altered signature')
  assert.throws(() => verifyStripeWebhook(body.replace('5000', '9000'), header, SECRET, 300, at), code('bad_signature'), 'tampered body')
  assert.throws(() => verifyStripeWebhook(JSON.stringify(JSON.parse(body), null, 2), header, SECRET, 300, at), code('bad_signature'), 're-serialised body')
  // Stale: signed 301 s before "now" with a 300 s tolerance; 299 s is still fine.
  const stale = signed(event('checkout.session.completed', checkout()), { timestamp: NOW_S - 301 })
  assert.throws(() => verifyStripeWebhook(stale.body, stale.header, SECRET, 300, at), code('bad_signature'), 'stale')
  const fresh = signed(event('checkout.session.completed', checkout()), { timestamp: NOW_S - 299 })
  assert.equal(verifyStripeWebhook(fresh.body, fresh.header, SECRET, 300, at).type, 'checkout.session.completed')
  assert.throws(() => verifyStripeWebhook(body, header, '', 300, at), code('internal'), 'no secret configured')
  assert.throws(() => verifyStripeWebhook(body, header, SECRET, 0, at), code('internal'), 'tolerance 0 would disable the replay check')
  const err = (() => { try { verifyStripeWebhook(body, header, 'whsec_other', 300, at) } catch (e) { return e as FormStateError } })()!
  assert.equal(err.status, 400)
})

test('a signed body that is not an event is refused with a code', () => {
  const body = 'not json'
  const header = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: SECRET, timestamp: NOW_S })
  assert.throws(() => verifyStripeWebhook(body, header, SECRET, 300, NOW_S * 1000), code('invalid_json'))
  const notEvent = signed({ hello: 'world' })
  assert.throws(() => verifyStripeWebhook(notEvent.body, notEvent.header, SECRET, 300, NOW_S * 1000), code('invalid_request'))
})

test('checkout.session.completed → a credit grant keyed by the session (shared with the manual route)', () => {
  const i = stripeIntent(event('checkout.session.completed', checkout()), CFG)
  assert.equal(i.type, 'credit_grant')
  if (i.type !== 'credit_grant') return
  assert.deepEqual(i.grant, {
    accountId: 'acc_0123456789abcdef01234567', idempotencyKey: checkoutGrantKey('cs_test_1'), amount: 5000,
    kind: 'checkout', reason: 'checkout session cs_test_1', by: 'stripe', at: (NOW_S - 10) * 1000,
  })
  // client_reference_id stands in for metadata.account_id; async success maps the same way.
  const viaRef = stripeIntent(event('checkout.session.async_payment_succeeded', checkout({ client_reference_id: 'acc_ref', metadata: { credits: '7' } })), CFG)
  assert.ok(viaRef.type === 'credit_grant' && viaRef.grant.accountId === 'acc_ref' && viaRef.grant.amount === 7 && viaRef.grant.idempotencyKey === checkoutGrantKey('cs_test_1'))
  assert.equal(stripeIntent(event('checkout.session.completed', checkout({ payment_status: 'unpaid' })), CFG).type, 'ignored', 'async payment not settled')
  assert.equal(stripeIntent(event('checkout.session.completed', checkout({ mode: 'subscription', metadata: { account_id: 'acc_1' } })), CFG).type, 'ignored')
})

test('missing or bad metadata is invalid_field naming the field', () => {
  const field = (obj: Record<string, unknown>, type = 'checkout.session.completed'): string | undefined => {
    try { stripeIntent(event(type, obj), CFG) } catch (err) {
      assert.ok(err instanceof FormStateError && err.code === 'invalid_field', String(err))
      return err.field
    }
    assert.fail('expected invalid_field')
  }
  assert.equal(field(checkout({ metadata: { credits: '10' } })), 'data.object.client_reference_id')
  assert.equal(field(checkout({ metadata: { account_id: 'acc_1' } })), 'data.object.metadata.credits')
  for (const credits of ['0', '-5', '1.5', 'lots', String(CFG.max_credit_amount + 1)]) {
    assert.equal(field(checkout({ metadata: { account_id: 'acc_1', credits } })), 'data.object.metadata.credits', credits)
  }
  assert.equal(field(checkout({ metadata: { account_id: '../x', credits: '1' } })), 'data.object.metadata.account_id')
  assert.equal(field({ id: 'sub_1', status: 'active', metadata: { tier: 'pro' } }, 'customer.subscription.updated'), 'data.object.metadata.account_id')
  assert.equal(field({ id: 'sub_1', status: 'active', metadata: { account_id: 'acc_1', tier: 'platinum' } }, 'customer.subscription.updated'), 'data.object.metadata.tier')
  assert.equal(field({ id: 'sub_1', status: 'active', metadata: { account_id: 'acc_1' }, items: { data: [] } }, 'customer.subscription.created'), 'data.object.items.data.0.price.lookup_key')
})

test('customer.subscription.* → a subscription update ordered by the event time', () => {
  const sub = {
    id: 'sub_1', object: 'subscription', status: 'past_due', customer: { id: 'cus_1', object: 'customer' }, metadata: { account_id: 'acc_1' },
    items: { data: [{ price: { lookup_key: 'pro' }, current_period_end: NOW_S + 100 }, { price: { lookup_key: 'x' }, current_period_end: NOW_S + 200 }] },
  }
  const i = stripeIntent(event('customer.subscription.updated', sub, NOW_S - 50), CFG)
  assert.deepEqual(i, {
    event_id: 'evt_customer_subscription_updated', event_type: 'customer.subscription.updated', type: 'subscription_update', account_id: 'acc_1',
    subscription: { tier: 'pro', status: 'past_due', period_end: (NOW_S + 200) * 1000, stripe_customer_id: 'cus_1', stripe_subscription_id: 'sub_1', event_time: (NOW_S - 50) * 1000 },
  })
  // metadata.tier wins over the price; the older API's period end on the subscription is read.
  const older = stripeIntent(event('customer.subscription.created', { id: 'sub_2', status: 'trialing', customer: 'cus_2', current_period_end: NOW_S, metadata: { account_id: 'acc_1', tier: 'enterprise' } }), CFG)
  assert.ok(older.type === 'subscription_update' && older.subscription.tier === 'enterprise' && older.subscription.status === 'trialing' && older.subscription.period_end === NOW_S * 1000 && older.subscription.stripe_customer_id === 'cus_2')
  const deleted = stripeIntent(event('customer.subscription.deleted', { ...sub, status: 'active' }), CFG)
  assert.ok(deleted.type === 'subscription_update' && deleted.subscription.status === 'canceled')
})

test('Stripe statuses map onto ours', () => {
  const m = Object.fromEntries(['active', 'trialing', 'past_due', 'unpaid', 'incomplete', 'paused', 'canceled', 'incomplete_expired'].map((s) => [s, mapSubscriptionStatus(s)]))
  assert.deepEqual(m, { active: 'active', trialing: 'trialing', past_due: 'past_due', unpaid: 'past_due', incomplete: 'past_due', paused: 'past_due', canceled: 'canceled', incomplete_expired: 'canceled' })
})

test('invoice.paid → the new period\'s included credits keyed by invoice, else a status refresh', () => {
  const inv = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
    id: 'in_1', object: 'invoice', billing_reason: 'subscription_cycle',
    parent: { type: 'subscription_details', subscription_details: { subscription: 'sub_1', metadata: { account_id: 'acc_1', tier: 'pro' } } },
    lines: { data: [{ period: { start: NOW_S, end: NOW_S + 30 * 86400 } }] }, ...over,
  })
  const grant = stripeIntent(event('invoice.paid', inv()), CFG)
  assert.ok(grant.type === 'credit_grant')
  if (grant.type === 'credit_grant') {
    assert.equal(grant.grant.idempotencyKey, 'invoice:in_1')
    assert.equal(grant.grant.amount, CFG.tiers.pro.included_credits)
    assert.equal(grant.grant.kind, 'stripe_invoice')
  }
  // A proration invoice is no new period; an invoice without a tier cannot be priced.
  const proration = stripeIntent(event('invoice.paid', inv({ billing_reason: 'subscription_update' })), CFG)
  assert.deepEqual(proration.type === 'subscription_refresh' && [proration.account_id, proration.stripe_subscription_id, proration.status, proration.period_end], ['acc_1', 'sub_1', 'active', (NOW_S + 30 * 86400) * 1000])
  const noTier = stripeIntent(event('invoice.paid', inv({ parent: null, subscription: 'sub_9', subscription_details: { metadata: { account_id: 'acc_1' } } })), CFG)
  assert.ok(noTier.type === 'subscription_refresh' && noTier.stripe_subscription_id === 'sub_9', 'older API layout is read too')
  assert.equal(stripeIntent(event('invoice.paid', inv({ parent: null })), CFG).type, 'ignored', 'one-off invoice')
})

test('unknown event types are ignored, and the whole path works from a signed body', () => {
  const { body, header } = signed(event('charge.refunded', { id: 'ch_1' }))
  const i = stripeIntent(verifyStripeWebhook(body, header, SECRET, 300, NOW_S * 1000) as unknown as StripeEventLike, CFG)
  assert.deepEqual(i, { event_id: 'evt_charge_refunded', event_type: 'charge.refunded', type: 'ignored', reason: 'event type charge.refunded is not handled' })
})
