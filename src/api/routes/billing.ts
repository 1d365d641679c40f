/**
 * Billing: subscriptions, credits and this period's usage.
 *
 * Roles (see `account-access.ts`): reads (`GET …`, scope `billing:read`) by the account's
 * own user or API key, a project admin for any account of the project, or a service for
 * any account. Writes (`POST /billing/subscription`, `/billing/checkout/process`,
 * `/billing/credits/add`) come from the trusted frontend: a project admin or a service,
 * never a plain user (that would be minting credits). Services are logged by name, and a
 * grant records who made it (`by`).
 */
import { z } from 'zod'
import type { Principal } from '../../auth/principal.ts'
import { FormStateError } from '../../errors.ts'
import { checkoutGrantKey, creditTransactions, grantCredits, manualGrantKey, recordSubscription } from '../../state/billing-actions.ts'
import { creditTotals, balanceOf } from '../../state/credits.ts'
import { SUBSCRIPTION_STATUSES, effectiveTier, subscriptionOf } from '../../state/subscription.ts'
import { TIERS } from '../../state/tiers.ts'
import { periodUsage } from '../../state/usage-summary.ts'
import { bucketOf, bucketStart, RESOLUTIONS, type Resolution } from '../../state/windows.ts'
import { accountFor } from '../account-access.ts'
import { accountId, accountQuery, clientId, grantSchema, MAX_TIME_MS, metricsSchema, subscriptionSchema, timeBody, timeQuery, windowName } from '../billing-schemas.ts'
import type { ApiDeps } from '../deps.ts'
import { defineRoute, type RouteTable } from '../openapi.ts'

/** Longest accepted free-text reason on a grant. */
const MAX_REASON = 500
/** How far ahead of our clock a billing event's time may lie (a far-future event would pin the subscription). */
const MAX_EVENT_SKEW_MS = 24 * 3_600_000

const stripeId = z.string().regex(/^[A-Za-z0-9_]{1,255}$/, 'a Stripe id: letters, digits and _')
const readQuery = z.strictObject(accountQuery)

const grantResponse = z.object({
  account_id: z.string(),
  applied: z.boolean().describe('false when this grant was already recorded (a replay)'),
  grant: grantSchema,
  balance: z.number(),
})

export function registerBillingRoutes (table: RouteTable, deps: ApiDeps): void {
  const { store, billing, log } = deps
  const maxAmount = billing.max_credit_amount
  const read = (p: Principal, requested: string | undefined, action: string): string => accountFor(store, log, p, { mode: 'read', requested, action })
  const write = (p: Principal, requested: string, action: string): string => accountFor(store, log, p, { mode: 'write', requested, action })

  table.add(defineRoute({
    method: 'GET',
    path: '/billing/subscription',
    summary: 'The account\'s subscription and the tier in force',
    auth: ['jwt', 'api_key', 'service'],
    scopes: ['billing:read'],
    query: readQuery,
    errors: ['not_found', 'wrong_project'],
    response: z.object({ account_id: z.string(), tier: z.enum(TIERS), subscription: subscriptionSchema }),
    handler: ({ principal, query }) => {
      const id = read(principal, query.account_id, 'GET /billing/subscription')
      const subscription = subscriptionOf(store, id)
      return { account_id: id, tier: effectiveTier(subscription), subscription }
    },
  }))

  table.add(defineRoute({
    method: 'POST',
    path: '/billing/subscription',
    summary: 'Record a billing event\'s subscription state (admin or service)',
    description: 'The event with the later event_time wins. An older event changes nothing and answers 200 with the current (newer) subscription and applied: false.',
    auth: ['jwt', 'service'],
    body: z.strictObject({
      account_id: accountId,
      tier: z.enum(TIERS),
      status: z.enum(SUBSCRIPTION_STATUSES),
      period_end: timeBody.nullable().optional(),
      stripe_customer_id: stripeId.nullable().optional(),
      stripe_subscription_id: stripeId.nullable().optional(),
      event_time: timeBody.describe('when the billing event happened (epoch ms or ISO 8601); orders concurrent updates'),
    }),
    errors: ['not_found', 'wrong_project'],
    response: z.object({ account_id: z.string(), applied: z.boolean(), subscription: subscriptionSchema }),
    handler: async ({ principal, body }) => {
      if (body.event_time > Math.min(MAX_TIME_MS, deps.now() + MAX_EVENT_SKEW_MS)) {
        throw new FormStateError('invalid_field', 'event_time lies more than a day in the future', { field: 'event_time' })
      }
      const id = write(principal, body.account_id, 'POST /billing/subscription')
      const outcome = await recordSubscription(store, id, {
        tier: body.tier,
        status: body.status,
        period_end: body.period_end ?? null,
        stripe_customer_id: body.stripe_customer_id ?? null,
        stripe_subscription_id: body.stripe_subscription_id ?? null,
        event_time: body.event_time,
      })
      log.info('subscription event', { account_id: id, by: principal.sub, applied: outcome.applied, event_time: body.event_time, tier: body.tier, status: body.status })
      return { account_id: id, ...outcome }
    },
  }))

  table.add(defineRoute({
    method: 'POST',
    path: '/billing/checkout/process',
    summary: 'Credit a completed checkout session, once (admin or service)',
    description: `Idempotent by checkout_session_id (also across nodes, and shared with the Stripe webhook): 201 when granted, 200 with the same grant on a replay, 409 idempotency_conflict when the session was credited with another amount. credits ≤ ${maxAmount}.`,
    auth: ['jwt', 'service'],
    status: 201,
    body: z.strictObject({
      account_id: accountId,
      checkout_session_id: clientId,
      credits: z.number().int().min(1).max(maxAmount),
    }),
    errors: ['idempotency_conflict', 'not_found', 'wrong_project'],
    response: grantResponse,
    handler: async ({ principal, body, ctx }) => {
      const id = write(principal, body.account_id, 'POST /billing/checkout/process')
      const outcome = await grantCredits(store, {
        accountId: id,
        idempotencyKey: checkoutGrantKey(body.checkout_session_id),
        amount: body.credits,
        kind: 'checkout',
        reason: `checkout session ${body.checkout_session_id}`,
        by: principal.sub,
        at: deps.now(),
      }, 'checkout_session_id')
      if (!outcome.applied) ctx.status = 200
      return { account_id: id, ...outcome }
    },
  }))

  table.add(defineRoute({
    method: 'POST',
    path: '/billing/credits/add',
    summary: 'Grant credits, once per idempotency key (admin or service)',
    description: `201 when granted, 200 with the same grant on a replay, 409 idempotency_conflict when the key was used with another amount. amount ≤ ${maxAmount}.`,
    auth: ['jwt', 'service'],
    status: 201,
    body: z.strictObject({
      account_id: accountId,
      amount: z.number().int().min(1).max(maxAmount),
      idempotency_key: clientId,
      reason: z.string().min(1).max(MAX_REASON).regex(/^[^\u0000-\u001f\u007f]*$/, 'no control characters'),
    }),
    errors: ['idempotency_conflict', 'not_found', 'wrong_project'],
    response: grantResponse,
    handler: async ({ principal, body, ctx }) => {
      const id = write(principal, body.account_id, 'POST /billing/credits/add')
      const outcome = await grantCredits(store, {
        accountId: id,
        idempotencyKey: manualGrantKey(body.idempotency_key),
        amount: body.amount,
        kind: 'manual',
        reason: body.reason,
        by: principal.sub,
        at: deps.now(),
      })
      if (!outcome.applied) ctx.status = 200
      else log.info('credits granted', { account_id: id, by: principal.sub, amount: body.amount, idempotency_key: body.idempotency_key })
      return { account_id: id, ...outcome }
    },
  }))

  table.add(defineRoute({
    method: 'GET',
    path: '/billing/credits',
    summary: 'Credit balance (granted and spent so far)',
    auth: ['jwt', 'api_key', 'service'],
    scopes: ['billing:read'],
    query: readQuery,
    errors: ['not_found', 'wrong_project'],
    response: z.object({ account_id: z.string(), balance: z.number(), granted: z.number(), spent: z.number() }),
    handler: ({ principal, query }) => {
      const id = read(principal, query.account_id, 'GET /billing/credits')
      return { account_id: id, balance: balanceOf(store, id), ...creditTotals(store, id) }
    },
  }))

  table.add(defineRoute({
    method: 'GET',
    path: '/billing/credits/transactions',
    summary: 'Credit history: grants and adjustments, and consumption per window',
    description: 'Consumption is aggregated per window (default day), for windows starting in [from, to); from defaults to the oldest kept window.',
    auth: ['jwt', 'api_key', 'service'],
    scopes: ['billing:read'],
    query: z.strictObject({
      ...accountQuery,
      window: windowName.optional(),
      from: timeQuery.optional(),
      to: timeQuery.optional(),
      limit: z.coerce.number().int().min(1).max(1000).optional().describe('most grants listed, newest first (default 100)'),
    }),
    errors: ['not_found', 'wrong_project'],
    response: z.object({
      account_id: z.string(),
      balance: z.number(),
      grants: z.array(grantSchema),
      consumption: z.object({ window: z.string(), from: z.number(), to: z.number(), rows: z.array(z.object({ start: z.number(), credits: z.number() })) }),
    }),
    handler: ({ principal, query }) => {
      const id = read(principal, query.account_id, 'GET /billing/credits/transactions')
      const res = (query.window ?? 'day') as Resolution
      const now = deps.now()
      const from = query.from ?? bucketStart(res, bucketOf(res, now) - RESOLUTIONS[res].retention + 1)
      const to = query.to ?? bucketStart(res, bucketOf(res, now) + 1)
      if (!(from < to)) throw new FormStateError('invalid_field', '`from` must be before `to`', { field: 'from' })
      const t = creditTransactions(store, id, res, from, to, now)
      return { account_id: id, balance: t.balance, grants: t.grants.slice(0, query.limit ?? 100), consumption: { window: res, from, to, rows: t.consumption } }
    },
  }))

  table.add(defineRoute({
    method: 'GET',
    path: '/billing/usage',
    summary: 'This billing period\'s usage: per model, per agent, totals, credits spent',
    auth: ['jwt', 'api_key', 'service'],
    scopes: ['billing:read'],
    query: readQuery,
    errors: ['not_found', 'wrong_project'],
    response: z.object({
      account_id: z.string(),
      tier: z.enum(TIERS),
      period: z.object({ start: z.number(), end: z.number() }),
      models: z.array(z.object({ model: z.string(), metrics: metricsSchema })),
      agents: z.array(z.object({ agent: z.string(), metrics: metricsSchema })),
      totals: metricsSchema,
      tokens: z.number(),
      credits: z.object({ spent_this_period: z.number(), included: z.number(), balance: z.number() }),
    }),
    handler: ({ principal, query }) => {
      const id = read(principal, query.account_id, 'GET /billing/usage')
      const tier = effectiveTier(subscriptionOf(store, id))
      const u = periodUsage(store, id, deps.now())
      return {
        account_id: id,
        tier,
        period: u.period,
        models: u.models,
        agents: u.agents,
        totals: u.totals,
        tokens: u.tokens,
        credits: { spent_this_period: u.credits_spent, included: billing.tiers[tier].included_credits, balance: balanceOf(store, id) },
      }
    },
  }))
}
