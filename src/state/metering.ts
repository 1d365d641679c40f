/**
 * Metered calls: invoking a model (tokens in/out) or an agent (one invocation of an
 * operation), and hiring / releasing agents.
 *
 * Each function runs ONE synchronous section: read the state, check eligibility, build the
 * changes and `commit` them as one op on the account — no `await` in between. The store
 * applies a commit to memory before it returns, so the next request on this node already
 * sees the new balance: concurrent calls on one node can never overspend. The outcome is
 * read back before durability is awaited (it describes this call, not later ones); the
 * caller awaits `durable` before answering.
 */
import { FormStateError } from '../errors.ts'
import type { Op, ReplicaStore } from '../store/types.ts'
import { hireChange, hiredAgents, isHired, releaseChange } from './account.ts'
import type { CatalogItem } from './catalog.ts'
import { balanceOf, spendChanges } from './credits.ts'
import { canHireAgent, canUseTokens, type Pricing } from './eligibility.ts'
import { accountKey } from './model.ts'
import { effectiveTier, subscriptionOf, type SubscriptionStatus } from './subscription.ts'
import type { BillingConfig, Tier } from './tiers.ts'
import { usageChanges, type UsageAmounts } from './usage.ts'

/** What a billable call answers with (besides its own fields). */
export interface MeteredOutcome {
  cost: number
  /** Balance right after this call. */
  balance: number
  tier: Tier
  status: SubscriptionStatus
  /** The usage this call recorded, metric → amount. */
  usage: UsageAmounts
  /** Resolves once the op is durable (undefined when nothing was written). */
  durable: Promise<Op> | undefined
}

function outcome (store: ReplicaStore, accountId: string, cost: number, usage: UsageAmounts, durable: Promise<Op> | undefined): MeteredOutcome {
  const sub = subscriptionOf(store, accountId)
  return { cost, balance: balanceOf(store, accountId), tier: effectiveTier(sub), status: sub.status, usage, durable }
}

/**
 * A model call: checks the subscription and the balance against `price` (402
 * `subscription_inactive` / `credits_insufficient` with an upgrade hint), then debits the
 * cost and records tokens in/out and one request, as one op.
 */
export function invokeModel (store: ReplicaStore, cfg: BillingConfig, accountId: string, modelId: string, price: Pricing, inputTokens: number, outputTokens: number, at: number): MeteredOutcome {
  const cost = canUseTokens(store, cfg, accountId, price, inputTokens, outputTokens)
  const usage: UsageAmounts = { tokens_in: inputTokens, tokens_out: outputTokens, requests: 1 }
  const changes = spendChanges(store, accountId, cost, at)
  for (const c of usageChanges(store, accountId, { type: 'model', id: modelId }, usage, at)) changes.push(c)
  const durable = store.commit(accountKey(accountId), changes)
  return outcome(store, accountId, cost, usage, durable)
}

/** The metric an agent invocation is counted under. */
export function invocationMetric (operation: string): string {
  return `invocations:${operation}`
}

/**
 * An agent call: the account must have hired the agent (409 `agent_not_hired`); charges
 * `price` credits (402 when the balance is short) and counts one invocation of
 * `operation`, as one op.
 */
export function invokeAgent (store: ReplicaStore, cfg: BillingConfig, accountId: string, agentId: string, price: number, operation: string, at: number): MeteredOutcome {
  if (!isHired(store, accountId, agentId)) {
    throw new FormStateError('agent_not_hired', `hire agent ${agentId} before invoking it`, { extra: { hint: { method: 'POST', path: `/agents/${agentId}/hire` } } })
  }
  // The same eligibility check as a model call, priced so that it costs exactly `price`
  // (one "token" at price × 1000 per 1k): one code path for the 402 and its upgrade hint.
  const cost = canUseTokens(store, cfg, accountId, { per_1k_input: price * 1000, per_1k_output: 0 }, 1, 0)
  const usage: UsageAmounts = { [invocationMetric(operation)]: 1 }
  const changes = spendChanges(store, accountId, cost, at)
  for (const c of usageChanges(store, accountId, { type: 'agent', id: agentId }, usage, at)) changes.push(c)
  const durable = store.commit(accountKey(accountId), changes)
  return outcome(store, accountId, cost, usage, durable)
}

/** Agent slots of an account after a hire or release. */
export interface HireOutcome {
  /** False when nothing changed (already hired / not hired). */
  changed: boolean
  hired: string[]
  used: number
  /** Free slots; null = unlimited. */
  available: number | null
  balance: number
  durable: Promise<Op> | undefined
}

function slots (store: ReplicaStore, cfg: BillingConfig, accountId: string, changed: boolean, durable: Promise<Op> | undefined): HireOutcome {
  const hired = hiredAgents(store, accountId)
  const limit = cfg.tiers[effectiveTier(subscriptionOf(store, accountId))].agent_slots
  return {
    changed,
    hired,
    used: hired.length,
    available: limit === null ? null : Math.max(0, limit - hired.length),
    balance: balanceOf(store, accountId),
    durable,
  }
}

/**
 * Hires `agent` for the account: idempotent (a hired agent answers `changed: false`);
 * 402 `agent_slots_exhausted` when every slot of the tier is in use.
 */
export function hireAgent (store: ReplicaStore, cfg: BillingConfig, accountId: string, agent: Pick<CatalogItem, 'id'>): HireOutcome {
  if (isHired(store, accountId, agent.id)) return slots(store, cfg, accountId, false, undefined)
  canHireAgent(store, cfg, accountId, agent.id)
  const durable = store.commit(accountKey(accountId), [hireChange(store, accountId, agent.id)])
  return slots(store, cfg, accountId, true, durable)
}

/** Releases a hired agent (frees its slot); idempotent. */
export function releaseAgent (store: ReplicaStore, cfg: BillingConfig, accountId: string, agentId: string): HireOutcome {
  if (!isHired(store, accountId, agentId)) return slots(store, cfg, accountId, false, undefined)
  const durable = store.commit(accountKey(accountId), [releaseChange(store, accountId, agentId)])
  return slots(store, cfg, accountId, true, durable)
}
