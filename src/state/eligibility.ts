/**
 * Eligibility: may this account spend these tokens, hire this agent? Limits that depend on
 * a balance are checked locally (see DESIGN: under a partition two nodes can both spend
 * the last credits). A refusal is a 402 with a stable code and an `upgrade` hint.
 */
import { FormStateError, type ErrorCode } from '../errors.ts'
import type { ReplicaStore } from '../store/types.ts'
import { hiredAgents, isHired } from './account.ts'
import { balanceOf } from './credits.ts'
import { effectiveTier, subscriptionOf } from './subscription.ts'
import { type BillingConfig, type Tier, upgradeHint } from './tiers.ts'

export interface Pricing {
  per_1k_input: number
  per_1k_output: number
}

/** Credits charged for a call: per-1k prices, rounded up so no call is free by rounding. */
export function tokenCost (price: Pricing, inputTokens: number, outputTokens: number): number {
  return Math.ceil((inputTokens * price.per_1k_input + outputTokens * price.per_1k_output) / 1000)
}

function refuse (cfg: BillingConfig, tier: Tier, code: ErrorCode, message: string, extra: Record<string, unknown> = {}): FormStateError {
  const upgrade = upgradeHint(cfg, tier)
  return new FormStateError(code, message, { extra: { ...extra, tier, ...(upgrade === undefined ? {} : { upgrade }) } })
}

/** Throws unless the subscription allows billable calls. */
export function assertSubscriptionActive (store: ReplicaStore, cfg: BillingConfig, accountId: string): Tier {
  const sub = subscriptionOf(store, accountId)
  const tier = effectiveTier(sub)
  if (sub.status === 'past_due') {
    throw refuse(cfg, tier, 'subscription_inactive', 'the subscription is past due; settle the open invoice to continue', { status: sub.status })
  }
  return tier
}

/** `canUseTokens`: returns the cost, or throws a 402 naming why not. */
export function canUseTokens (store: ReplicaStore, cfg: BillingConfig, accountId: string, price: Pricing, inputTokens: number, outputTokens: number): number {
  const tier = assertSubscriptionActive(store, cfg, accountId)
  const cost = tokenCost(price, inputTokens, outputTokens)
  const balance = balanceOf(store, accountId)
  if (cost > balance) {
    throw refuse(cfg, tier, 'credits_insufficient', `this call costs ${cost} credits and the balance is ${balance}`, { required: cost, balance })
  }
  return cost
}

/** `canHireAgent`: throws a 402 when every slot of the tier is taken. Re-hiring is allowed. */
export function canHireAgent (store: ReplicaStore, cfg: BillingConfig, accountId: string, agentId: string): void {
  const tier = assertSubscriptionActive(store, cfg, accountId)
  if (isHired(store, accountId, agentId)) return
  const slots = cfg.tiers[tier].agent_slots
  const used = hiredAgents(store, accountId).length
  if (slots !== null && used >= slots) {
    throw refuse(cfg, tier, 'agent_slots_exhausted', `all ${slots} agent slot(s) of the ${tier} tier are in use`, { slots, used })
  }
}
