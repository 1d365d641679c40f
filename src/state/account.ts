/**
 * Accounts: identity registers written once at creation, plus the read model the API
 * answers with (plan, status, balance, slots, key count).
 */
import { lwwSet } from '../../crdt/lww.ts'
import { awsetAdd, awsetHas, awsetRemove, awsetSize, awsetType, type AwSet } from '../../crdt/awset.ts'
import { FormStateError } from '../errors.ts'
import type { Change, ReplicaStore } from '../store/types.ts'
import { balanceOf, creditTotals, grantChanges } from './credits.ts'
import { accountIdFor, accountKey, fieldState, KIND, lwwValue } from './model.ts'
import { effectiveTier, subscriptionOf, type Subscription } from './subscription.ts'
import type { BillingConfig, Tier } from './tiers.ts'

export interface AccountView {
  id: string
  project_id: string
  owner: string
  created_at: number
  tier: Tier
  subscription: Subscription
  credits: { balance: number, granted: number, spent: number }
  agents: { hired: string[], used: number, available: number | null }
  api_keys: { count: number, limit: number | null }
}

export function accountExists (store: ReplicaStore, accountId: string): boolean {
  return lwwValue(store, accountKey(accountId), 'project') !== undefined
}

/** The account's project, or undefined when it does not exist. */
export function accountProject (store: ReplicaStore, accountId: string): string | undefined {
  return lwwValue(store, accountKey(accountId), 'project') as string | undefined
}

/**
 * Changes creating the account of `sub` in `projectId`, with the free tier's included
 * credits granted under a key derived from the account (so it counts once however many
 * nodes create it). Undefined when it already exists.
 */
export function createAccountChanges (store: ReplicaStore, cfg: BillingConfig, projectId: string, sub: string, at: number): { id: string, changes: Change[] | undefined } {
  const id = accountIdFor(projectId, sub)
  if (accountExists(store, id)) return { id, changes: undefined }
  // Identity registers all carry time zero: concurrent creations on two nodes write the
  // same (value, time) and differ only in replica, so every node ends with the same values.
  const t0 = { wall: 0, logical: 0 }
  const changes: Change[] = [
    { field: 'project', kind: KIND.lww, delta: lwwSet(projectId, t0, '') },
    { field: 'owner', kind: KIND.lww, delta: lwwSet(sub, t0, '') },
    { field: 'created_at', kind: KIND.lww, delta: lwwSet(at, { wall: at, logical: 0 }, store.replicaId) },
  ]
  const included = cfg.tiers.free.included_credits
  if (included > 0) {
    changes.push(...(grantChanges(store, { accountId: id, idempotencyKey: `included:${id}:signup`, amount: included, kind: 'included', reason: 'free tier signup credits', by: 'system', at }) ?? []))
  }
  return { id, changes }
}

export function hiredAgents (store: ReplicaStore, accountId: string): string[] {
  return (store.fieldValue(accountKey(accountId), 'hired') as string[] | undefined) ?? []
}

export function isHired (store: ReplicaStore, accountId: string, agentId: string): boolean {
  const s = fieldState<AwSet>(store, accountKey(accountId), 'hired')
  return s !== undefined && awsetHas(s, agentId)
}

export function hireChange (store: ReplicaStore, accountId: string, agentId: string): Change {
  const s = fieldState<AwSet>(store, accountKey(accountId), 'hired') ?? emptyAwSet()
  return { field: 'hired', kind: KIND.awset, delta: awsetAdd(s, store.replicaId, agentId) }
}

export function releaseChange (store: ReplicaStore, accountId: string, agentId: string): Change {
  const s = fieldState<AwSet>(store, accountKey(accountId), 'hired') ?? emptyAwSet()
  return { field: 'hired', kind: KIND.awset, delta: awsetRemove(s, agentId) }
}

export function apiKeyIds (store: ReplicaStore, accountId: string): string[] {
  return (store.fieldValue(accountKey(accountId), 'keys') as string[] | undefined) ?? []
}

export function keyIndexChange (store: ReplicaStore, accountId: string, keyId: string): Change {
  const s = fieldState<AwSet>(store, accountKey(accountId), 'keys') ?? emptyAwSet()
  return { field: 'keys', kind: KIND.awset, delta: awsetAdd(s, store.replicaId, keyId) }
}

function emptyAwSet (): AwSet {
  return awsetType.empty()
}

/** The account as the API shows it; 404 when it does not exist. */
export function accountView (store: ReplicaStore, cfg: BillingConfig, accountId: string, activeKeyCount: (id: string) => number): AccountView {
  const target = accountKey(accountId)
  const project = lwwValue(store, target, 'project') as string | undefined
  if (project === undefined) throw new FormStateError('not_found', 'no such account')
  const subscription = subscriptionOf(store, accountId)
  const tier = effectiveTier(subscription)
  const limits = cfg.tiers[tier]
  const hired = hiredAgents(store, accountId)
  const s = fieldState<AwSet>(store, target, 'hired')
  const used = s === undefined ? 0 : awsetSize(s)
  const totals = creditTotals(store, accountId)
  return {
    id: accountId,
    project_id: project,
    owner: lwwValue(store, target, 'owner') as string,
    created_at: (lwwValue(store, target, 'created_at') as number | undefined) ?? 0,
    tier,
    subscription,
    credits: { balance: balanceOf(store, accountId), granted: totals.granted, spent: totals.spent },
    agents: { hired, used, available: limits.agent_slots === null ? null : Math.max(0, limits.agent_slots - used) },
    api_keys: { count: activeKeyCount(accountId), limit: limits.api_key_limit },
  }
}
