/**
 * Account and billing writes as the API performs them: each reads, checks and commits
 * with no `await` in between (the store applies a commit synchronously), so two identical
 * requests racing on one node cannot both apply; across nodes the CRDTs make them count
 * once (grants are keyed by idempotency key, identity registers are deterministic).
 */
import { FormStateError } from '../errors.ts'
import type { ReplicaStore } from '../store/types.ts'
import { accountExists, createAccountChanges } from './account.ts'
import { balanceOf, grantChanges, grantHistory, grantRecord, type GrantInput, type GrantRecord } from './credits.ts'
import { accountKey } from './model.ts'
import { subscriptionChange, subscriptionOf, type Subscription } from './subscription.ts'
import type { BillingConfig } from './tiers.ts'
import { spendRows } from './usage.ts'
import type { Resolution } from './windows.ts'

/**
 * Writes applied in memory but not yet durable, per store and entity/key. A replay that
 * finds such a write waits for it before answering, so it never reports as recorded a
 * write that a crash could still lose.
 */
const inflight = new WeakMap<ReplicaStore, Map<string, Promise<unknown>>>()

function track (store: ReplicaStore, key: string, durable: Promise<unknown>): void {
  let m = inflight.get(store)
  if (m === undefined) inflight.set(store, (m = new Map()))
  m.set(key, durable)
  const done = (): void => { if (m.get(key) === durable) m.delete(key) }
  durable.then(done, done)
}

async function settled (store: ReplicaStore, key: string): Promise<void> {
  await inflight.get(store)?.get(key)
}

/** The grant key of a checkout session; the Stripe webhook must use the same, so a session paid through both paths counts once. */
export function checkoutGrantKey (sessionId: string): string {
  return `checkout:${sessionId}`
}

/** The grant key of a manual `POST /billing/credits/add` (namespaced so it cannot collide with checkout or invoice keys). */
export function manualGrantKey (idempotencyKey: string): string {
  return `manual:${idempotencyKey}`
}

/** Creates the account of `sub` in `projectId` unless it exists. */
export async function ensureAccount (store: ReplicaStore, cfg: BillingConfig, projectId: string, sub: string, at: number): Promise<{ id: string, created: boolean }> {
  const { id, changes } = createAccountChanges(store, cfg, projectId, sub, at)
  if (changes === undefined) {
    await settled(store, `create/${id}`)
    return { id, created: false }
  }
  const durable = store.commit(accountKey(id), changes)
  track(store, `create/${id}`, durable)
  await durable
  return { id, created: true }
}

export interface GrantOutcome {
  /** False when this exact grant was already recorded (an idempotent replay). */
  applied: boolean
  grant: GrantRecord
  balance: number
}

/**
 * Grants credits once per idempotency key. A replay with the same amount answers the
 * recorded grant with `applied: false`; the same key with another amount is a 409
 * `idempotency_conflict` naming `conflictField`.
 */
export async function grantCredits (store: ReplicaStore, g: GrantInput, conflictField = 'idempotency_key'): Promise<GrantOutcome> {
  if (!accountExists(store, g.accountId)) throw new FormStateError('not_found', 'no such account', { field: 'account_id' })
  let changes
  try {
    changes = grantChanges(store, g)
  } catch (err) {
    if (err instanceof FormStateError && err.code === 'idempotency_conflict') {
      throw new FormStateError('idempotency_conflict', err.message, { field: conflictField, cause: err })
    }
    throw err
  }
  const key = `grant/${g.accountId}/${g.idempotencyKey}`
  if (changes === undefined) {
    const replay = { applied: false, grant: grantRecord(store, g.accountId, g.idempotencyKey)!, balance: balanceOf(store, g.accountId) }
    await settled(store, key)
    return replay
  }
  const durable = store.commit(accountKey(g.accountId), changes)
  track(store, key, durable)
  // Read back before awaiting: the answer describes this grant, not later writes.
  const outcome = { applied: true, grant: grantRecord(store, g.accountId, g.idempotencyKey)!, balance: balanceOf(store, g.accountId) }
  await durable
  return outcome
}

function sameSubscription (a: Subscription, b: Subscription): boolean {
  return a.tier === b.tier && a.status === b.status && a.period_end === b.period_end && a.event_time === b.event_time &&
    a.stripe_customer_id === b.stripe_customer_id && a.stripe_subscription_id === b.stripe_subscription_id
}

export interface SubscriptionOutcome {
  /** True when `sub` is now the account's subscription; false when a newer event already won. */
  applied: boolean
  subscription: Subscription
}

/**
 * Records a billing event's subscription state. The later event wins by its own
 * `event_time`; an older one changes nothing and answers the current (newer) state.
 */
export async function recordSubscription (store: ReplicaStore, accountId: string, sub: Subscription): Promise<SubscriptionOutcome> {
  if (!accountExists(store, accountId)) throw new FormStateError('not_found', 'no such account', { field: 'account_id' })
  if (sameSubscription(subscriptionOf(store, accountId), sub)) return { applied: true, subscription: sub } // a replay
  const change = subscriptionChange(store, accountId, sub)
  if (change === undefined) return { applied: false, subscription: subscriptionOf(store, accountId) }
  const durable = store.commit(accountKey(accountId), [change])
  // An event at the very same millisecond is ordered by replica and value: it may lose.
  const current = subscriptionOf(store, accountId)
  await durable
  return { applied: sameSubscription(current, sub), subscription: current }
}

export interface CreditTransactions {
  balance: number
  /** Grants and adjustments, newest first. */
  grants: GrantRecord[]
  /** Credits consumed per window (ascending start). */
  consumption: Array<{ start: number, credits: number }>
}

/** Credit history: grants and adjustments, plus consumption per `res` window in `[from, to)`. */
export function creditTransactions (store: ReplicaStore, accountId: string, res: Resolution, from: number, to: number, now: number): CreditTransactions {
  return {
    balance: balanceOf(store, accountId),
    grants: grantHistory(store, accountId),
    consumption: spendRows(store, accountId, res, from, to, now),
  }
}
