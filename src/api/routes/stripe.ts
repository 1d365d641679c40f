/**
 * `POST /billing/webhooks/stripe`: Stripe's webhook. Public (Stripe signs instead of
 * authenticating): the raw body (`ctx.request.rawBody`, the exact bytes received) is
 * verified against the endpoint's signing secret (`FORMSTATE_STRIPE_WEBHOOK_SECRET`) with
 * the `stripe` package's offline check, the event is mapped to an intent
 * (src/billing/stripe-intents.ts) and carried out with billing-actions' `grantCredits` /
 * `recordSubscription`.
 *
 * - No secret configured: 404 `not_configured` saying so (a node without Stripe simply has
 *   no webhook endpoint; Stripe keeps retrying and its dashboard shows the answer).
 * - Bad or missing signature, stale timestamp, tampered body: 400 `bad_signature`, nothing changes.
 * - Idempotent by event: a grant is keyed by the checkout session / invoice (the same key
 *   as `POST /billing/checkout/process`), a subscription update is LWW by the event's own
 *   time; so a replayed event (Stripe retries) changes nothing, and an older event arriving
 *   after a newer one changes nothing either. The answer says which (`applied`).
 */
import { z } from 'zod'
import { DEFAULT_TOLERANCE_S, verifyStripeWebhook } from '../../billing/stripe.ts'
import { stripeIntent, type StripeIntent } from '../../billing/stripe-intents.ts'
import { FormStateError } from '../../errors.ts'
import { balanceOf } from '../../state/credits.ts'
import { grantCredits, recordSubscription } from '../../state/billing-actions.ts'
import { subscriptionOf, type Subscription } from '../../state/subscription.ts'
import type { ReplicaStore } from '../../store/types.ts'
import type { ApiDeps } from '../deps.ts'
import { defineRoute, type RouteTable } from '../openapi.ts'

const answer = z.object({
  received: z.literal(true),
  event_id: z.string(),
  event_type: z.string(),
  action: z.enum(['credit_grant', 'subscription_update', 'subscription_refresh', 'ignored']),
  applied: z.boolean().describe('false when the event changed nothing (a replay, an older event, or ignored)'),
  account_id: z.string().nullable(),
  reason: z.string().optional().describe('why an event was ignored'),
  balance: z.number().optional().describe('the account\'s credit balance after the event'),
})

type Answer = z.input<typeof answer>

/** A paid invoice's refresh: status and period from the invoice, tier and customer as recorded. */
function refreshed (store: ReplicaStore, intent: Extract<StripeIntent, { type: 'subscription_refresh' }>): Subscription {
  const current = subscriptionOf(store, intent.account_id)
  return {
    ...current,
    status: intent.status,
    period_end: intent.period_end ?? current.period_end,
    stripe_subscription_id: intent.stripe_subscription_id,
    event_time: intent.event_time,
  }
}

function same (a: Subscription, b: Subscription): boolean {
  return a.tier === b.tier && a.status === b.status && a.period_end === b.period_end && a.event_time === b.event_time &&
    a.stripe_customer_id === b.stripe_customer_id && a.stripe_subscription_id === b.stripe_subscription_id
}

/** Records `sub`; `applied` is whether the state changed (false for a replay or an older event). */
async function applySubscription (store: ReplicaStore, accountId: string, sub: Subscription): Promise<boolean> {
  const before = subscriptionOf(store, accountId)
  const r = await recordSubscription(store, accountId, sub)
  return r.applied && !same(before, sub)
}

async function carryOut (store: ReplicaStore, intent: StripeIntent): Promise<Answer> {
  const base = { received: true as const, event_id: intent.event_id, event_type: intent.event_type }
  switch (intent.type) {
    case 'ignored':
      return { ...base, action: 'ignored', applied: false, account_id: null, reason: intent.reason }
    case 'credit_grant': {
      const r = await grantCredits(store, intent.grant)
      return { ...base, action: 'credit_grant', applied: r.applied, account_id: intent.grant.accountId, balance: r.balance }
    }
    case 'subscription_update': {
      const applied = await applySubscription(store, intent.account_id, intent.subscription)
      return { ...base, action: 'subscription_update', applied, account_id: intent.account_id, balance: balanceOf(store, intent.account_id) }
    }
    case 'subscription_refresh': {
      const applied = await applySubscription(store, intent.account_id, refreshed(store, intent))
      return { ...base, action: 'subscription_refresh', applied, account_id: intent.account_id, balance: balanceOf(store, intent.account_id) }
    }
  }
}

export function registerStripeRoutes (table: RouteTable, deps: ApiDeps): void {
  const { store, billing, log } = deps

  table.add(defineRoute({
    method: 'POST',
    path: '/billing/webhooks/stripe',
    summary: 'Stripe webhook (signed by Stripe; no credentials)',
    description: 'Verified against the node\'s Stripe webhook secret over the raw body. Handles checkout.session.completed, ' +
      'customer.subscription.created|updated|deleted and invoice.paid; other types answer 200 with action ignored. ' +
      'Idempotent by event: a replay changes nothing. 400 bad_signature changes nothing; 404 not_configured without a secret.',
    auth: 'public',
    tag: 'billing',
    // Any JSON object: the signature, not a schema, decides what we trust.
    body: z.record(z.string(), z.unknown()),
    errors: ['bad_signature', 'not_configured', 'not_found'],
    response: answer,
    handler: async ({ ctx }) => {
      const secret = deps.stripeWebhookSecret
      if (secret === undefined || secret === '') {
        throw new FormStateError('not_configured', 'Stripe webhooks are not configured on this node: set FORMSTATE_STRIPE_WEBHOOK_SECRET (--stripe-webhook-secret)')
      }
      const raw = (ctx.request as { rawBody?: string }).rawBody ?? ''
      const signature = ctx.get('stripe-signature')
      let event
      try {
        event = verifyStripeWebhook(raw, signature === '' ? undefined : signature, secret, DEFAULT_TOLERANCE_S, deps.now())
      } catch (err) {
        if (err instanceof FormStateError && err.code === 'bad_signature') log.warn('stripe webhook refused', { reason: err.message })
        throw err
      }
      const intent = stripeIntent(event, billing)
      const out = await carryOut(store, intent)
      log.info('stripe event', { event_id: out.event_id, event_type: out.event_type, action: out.action, applied: out.applied, account_id: out.account_id })
      return out
    },
  }))
}
