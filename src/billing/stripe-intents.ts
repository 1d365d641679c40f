/**
 * What a verified Stripe event means for form-state: a pure mapping from the events we
 * handle to intents the webhook route carries out with src/state/billing-actions.ts
 * (`grantCredits`, `recordSubscription`). Pure, so it is tested without a store or Stripe.
 *
 * Idempotency: a checkout grant is keyed by the session id (the same key as the manual
 * `POST /billing/checkout/process`, so one session counts once whichever path credits it);
 * a period's included credits by the invoice id; subscriptions are LWW by `event.created`,
 * so a late, older event changes nothing.
 *
 * Missing metadata is a 400 naming the field: Stripe retries and the dashboard shows it,
 * which beats acknowledging a payment we cannot attribute.
 */
import { FormStateError } from '../errors.ts'
import { checkoutGrantKey } from '../state/billing-actions.ts'
import type { GrantInput } from '../state/credits.ts'
import { ID_PATTERN } from '../state/model.ts'
import type { Subscription, SubscriptionStatus } from '../state/subscription.ts'
import { TIERS, type BillingConfig, type Tier } from '../state/tiers.ts'

/** Who our grants say made them. */
export const STRIPE_ACTOR = 'stripe'

interface Base { event_id: string, event_type: string }

export type StripeIntent =
  | Base & { type: 'credit_grant', grant: GrantInput }
  | Base & { type: 'subscription_update', account_id: string, subscription: Subscription }
  /** A paid invoice we cannot price (no tier): mark the subscription active, keep its tier. */
  | Base & { type: 'subscription_refresh', account_id: string, stripe_subscription_id: string, status: SubscriptionStatus, period_end: number | null, event_time: number }
  | Base & { type: 'ignored', reason: string }

/** The fields of an event this module reads (Stripe's own types vary by API version). */
export interface StripeEventLike { id: string, type: string, created: number, data: { object: unknown } }

type Obj = Record<string, unknown>

const obj = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Obj : undefined)
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined)
/** An id that may be expanded into an object. */
const idOf = (v: unknown): string | null => str(v) ?? str(obj(v)?.id) ?? null

function bad (field: string, message: string): FormStateError {
  return new FormStateError('invalid_field', message, { field: `data.object.${field}` })
}

function accountIdFrom (value: string | undefined, field: string): string {
  if (value === undefined) throw bad(field, `no account id in ${field}`)
  if (!ID_PATTERN.test(value)) throw bad(field, `${field} is not an account id`)
  return value
}

function tierFrom (value: string | undefined, field: string): Tier {
  if (value === undefined) throw bad(field, `no tier in ${field}`)
  if (!(TIERS as readonly string[]).includes(value)) throw bad(field, `unknown tier ${JSON.stringify(value)}`)
  return value as Tier
}

/** Stripe's subscription statuses onto ours: anything not paid up is past_due or canceled. */
export function mapSubscriptionStatus (status: string): SubscriptionStatus {
  switch (status) {
    case 'active': return 'active'
    case 'trialing': return 'trialing'
    case 'canceled':
    case 'incomplete_expired': return 'canceled'
    default: return 'past_due' // past_due, unpaid, incomplete, paused
  }
}

const secondsToMs = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v * 1000 : null)

function checkoutIntent (base: Base, at: number, s: Obj, cfg: BillingConfig): StripeIntent {
  const sessionId = str(s.id)
  if (sessionId === undefined) throw bad('id', 'checkout session without an id')
  if (s.payment_status === 'unpaid') return { ...base, type: 'ignored', reason: 'payment not settled yet (async payment pending)' }
  const md = obj(s.metadata) ?? {}
  const rawCredits = str(md.credits)
  if (rawCredits === undefined) {
    if (s.mode === 'subscription') return { ...base, type: 'ignored', reason: 'subscription checkout: handled by subscription and invoice events' }
    throw bad('metadata.credits', 'checkout session without metadata.credits')
  }
  const credits = /^[1-9][0-9]{0,15}$/.test(rawCredits) ? Number(rawCredits) : NaN
  if (!(credits <= cfg.max_credit_amount)) throw bad('metadata.credits', `metadata.credits must be an integer in 1..${cfg.max_credit_amount}`)
  const accountId = accountIdFrom(str(md.account_id) ?? str(s.client_reference_id), str(md.account_id) !== undefined ? 'metadata.account_id' : 'client_reference_id')
  return {
    ...base,
    type: 'credit_grant',
    grant: { accountId, idempotencyKey: checkoutGrantKey(sessionId), amount: credits, kind: 'checkout', reason: `checkout session ${sessionId}`, by: STRIPE_ACTOR, at },
  }
}

/** End of the current period: on the subscription (older API versions) or its items (2025+). */
function periodEnd (s: Obj): number | null {
  const own = secondsToMs(s.current_period_end)
  if (own !== null) return own
  let max: number | null = null
  for (const it of (obj(s.items)?.data as unknown[] | undefined) ?? []) {
    const end = secondsToMs(obj(it)?.current_period_end)
    if (end !== null && (max === null || end > max)) max = end
  }
  return max
}

function firstLookupKey (list: unknown): string | undefined {
  const first = obj(((obj(list)?.data as unknown[] | undefined) ?? [])[0])
  return str(obj(first?.price)?.lookup_key)
}

function subscriptionIntent (base: Base, at: number, s: Obj, deleted: boolean): StripeIntent {
  const md = obj(s.metadata) ?? {}
  const accountId = accountIdFrom(str(md.account_id), 'metadata.account_id')
  const tier = tierFrom(str(md.tier) ?? firstLookupKey(s.items), str(md.tier) !== undefined ? 'metadata.tier' : 'items.data.0.price.lookup_key')
  const status = deleted ? 'canceled' : mapSubscriptionStatus(String(s.status))
  return {
    ...base,
    type: 'subscription_update',
    account_id: accountId,
    subscription: { tier, status, period_end: periodEnd(s), stripe_customer_id: idOf(s.customer), stripe_subscription_id: idOf(s.id), event_time: at },
  }
}

/** Invoice → its subscription's metadata and id (under `parent` since API 2025-03, at the top before). */
function invoiceSubscription (inv: Obj): { md: Obj, id: string | null } {
  const details = obj(obj(inv.parent)?.subscription_details) ?? obj(inv.subscription_details)
  return { md: { ...obj(details?.metadata), ...obj(inv.metadata) }, id: idOf(details?.subscription) ?? idOf(inv.subscription) }
}

/** Billing reasons that start a new period (and so its included credits). */
const NEW_PERIOD = new Set(['subscription_create', 'subscription_cycle'])

function invoiceIntent (base: Base, at: number, inv: Obj, cfg: BillingConfig): StripeIntent {
  const invoiceId = str(inv.id)
  if (invoiceId === undefined) throw bad('id', 'invoice without an id')
  const { md, id: subscriptionId } = invoiceSubscription(inv)
  if (subscriptionId === null) return { ...base, type: 'ignored', reason: 'invoice is not for a subscription' }
  const accountId = accountIdFrom(str(md.account_id), 'parent.subscription_details.metadata.account_id')
  const tierName = str(md.tier) ?? firstLookupKey(inv.lines)
  const firstLine = obj(((obj(inv.lines)?.data as unknown[] | undefined) ?? [])[0])
  const refresh: StripeIntent = {
    ...base,
    type: 'subscription_refresh',
    account_id: accountId,
    stripe_subscription_id: subscriptionId,
    status: 'active',
    period_end: secondsToMs(obj(firstLine?.period)?.end),
    event_time: at,
  }
  if (tierName === undefined || !NEW_PERIOD.has(String(inv.billing_reason))) return refresh
  const tier = tierFrom(tierName, str(md.tier) !== undefined ? 'metadata.tier' : 'lines.data.0.price.lookup_key')
  const amount = cfg.tiers[tier].included_credits
  if (amount <= 0) return refresh
  return {
    ...base,
    type: 'credit_grant',
    grant: { accountId, idempotencyKey: `invoice:${invoiceId}`, amount, kind: 'stripe_invoice', reason: `${tier} included credits, invoice ${invoiceId}`, by: STRIPE_ACTOR, at },
  }
}

/**
 * The intent of a verified event. Types we do not handle are `ignored` (answer 200,
 * change nothing). Malformed events of handled types throw `invalid_field` naming the
 * field under `data.object`.
 */
export function stripeIntent (event: StripeEventLike, cfg: BillingConfig): StripeIntent {
  const base: Base = { event_id: event.id, event_type: event.type }
  const at = event.created * 1000
  const o = obj(event.data.object)
  if (o === undefined) throw new FormStateError('invalid_field', 'event without data.object', { field: 'data.object' })
  switch (event.type) {
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded':
      return checkoutIntent(base, at, o, cfg)
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted':
      return subscriptionIntent(base, at, o, event.type === 'customer.subscription.deleted')
    case 'invoice.paid':
      return invoiceIntent(base, at, o, cfg)
    default:
      return { ...base, type: 'ignored', reason: `event type ${event.type} is not handled` }
  }
}
