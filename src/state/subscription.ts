/**
 * Subscriptions: one LWW register per account ordered by the billing event's own time
 * (not the time we received it), so a delayed, older event never overwrites a newer one.
 */
import { lwwSet } from '../../crdt/lww.ts'
import type { Value } from '../../crdt/value-codec.ts'
import type { Change, ReplicaStore } from '../store/types.ts'
import { accountKey, KIND, lwwValue } from './model.ts'
import type { Tier } from './tiers.ts'

export const SUBSCRIPTION_STATUSES = ['active', 'trialing', 'past_due', 'canceled'] as const
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number]

export interface Subscription {
  tier: Tier
  status: SubscriptionStatus
  /** End of the current period (ms since epoch), or null. */
  period_end: number | null
  stripe_customer_id: string | null
  stripe_subscription_id: string | null
  /** Time of the billing event this state came from (ms). */
  event_time: number
}

/** An account with no subscription record is on the free tier, active. */
export const DEFAULT_SUBSCRIPTION: Subscription = Object.freeze({
  tier: 'free',
  status: 'active',
  period_end: null,
  stripe_customer_id: null,
  stripe_subscription_id: null,
  event_time: 0,
})

export function subscriptionOf (store: ReplicaStore, accountId: string): Subscription {
  const v = lwwValue(store, accountKey(accountId), 'sub')
  return v === undefined ? DEFAULT_SUBSCRIPTION : (v as unknown as Subscription)
}

/**
 * The change recording `sub`. The register's timestamp is the event time; ties at the same
 * millisecond fall to replica id, then to the value bytes, identically on every node.
 * Returns undefined when the current state is already newer (the update would lose).
 */
export function subscriptionChange (store: ReplicaStore, accountId: string, sub: Subscription): Change | undefined {
  const current = subscriptionOf(store, accountId)
  if (current !== DEFAULT_SUBSCRIPTION && current.event_time > sub.event_time) return undefined
  return {
    field: 'sub',
    kind: KIND.lww,
    delta: lwwSet(sub as unknown as Value, { wall: sub.event_time, logical: 0 }, store.replicaId),
  }
}

/** Tier in force: a canceled subscription falls back to free. */
export function effectiveTier (sub: Subscription): Tier {
  return sub.status === 'canceled' ? 'free' : sub.tier
}
