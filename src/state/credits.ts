/**
 * Credits: a PN-counter per account. Grants go on the P side under `g:<idempotency key>`
 * with their exact amount, so the same grant received twice, or by two nodes, counts once;
 * spends go on the N side under the spending replica's id. History is a grow-only map of
 * grant records plus per-window consumption counters (usage.ts), never one entry per call.
 */
import { pnEntry, pnDecrementKey, pnGrant, type PnCounter } from '../../crdt/pncounter.ts'
import type { Value } from '../../crdt/value-codec.ts'
import { gmapGet, gmapPut, type GMap } from '../../crdt/gmap.ts'
import { FormStateError } from '../errors.ts'
import type { Change, ReplicaStore } from '../store/types.ts'
import { accountKey, fieldState, KIND } from './model.ts'
import { spendWindowChanges } from './usage.ts'

export type GrantKind = 'checkout' | 'manual' | 'included' | 'stripe_invoice'

export interface GrantInput {
  accountId: string
  idempotencyKey: string
  amount: number
  kind: GrantKind
  reason: string
  /** Who asked for it (principal sub or service name). */
  by: string
  at: number
}

export interface GrantRecord {
  id: string
  amount: number
  kind: GrantKind
  reason: string
  by: string
  at: number
}

export function balanceOf (store: ReplicaStore, accountId: string): number {
  return (store.fieldValue(accountKey(accountId), 'credits') as number | undefined) ?? 0
}

/** Credits granted and spent so far (P and N totals). */
export function creditTotals (store: ReplicaStore, accountId: string): { granted: number, spent: number } {
  const s = fieldState<PnCounter>(store, accountKey(accountId), 'credits')
  if (s === undefined) return { granted: 0, spent: 0 }
  let granted = 0
  let spent = 0
  for (let i = 1; i < s.p.length; i += 2) granted += s.p[i] as number
  for (let i = 1; i < s.n.length; i += 2) spent += s.n[i] as number
  return { granted, spent }
}

/**
 * The changes for a grant, or `undefined` when this exact grant is already recorded (an
 * idempotent replay). The same key with another amount is a 409 `idempotency_conflict`.
 */
export function grantChanges (store: ReplicaStore, g: GrantInput): Change[] | undefined {
  const target = accountKey(g.accountId)
  const entryKey = `g:${g.idempotencyKey}`
  const credits = fieldState<PnCounter>(store, target, 'credits')
  const existing = credits === undefined ? 0 : pnEntry(credits, 'p', entryKey)
  if (existing !== 0) {
    if (existing === g.amount) return undefined
    throw new FormStateError('idempotency_conflict', `idempotency key ${g.idempotencyKey} was already used for a grant of ${existing} credits`, { field: 'idempotency_key' })
  }
  const record: Value = { amount: g.amount, kind: g.kind, reason: g.reason, by: g.by, at: g.at }
  return [
    { field: 'credits', kind: KIND.pn, delta: pnGrant(entryKey, g.amount) },
    { field: 'grants', kind: KIND.gmap, delta: gmapPut(entryKey, record) },
  ]
}

/** The recorded grant under an idempotency key, if any. */
export function grantRecord (store: ReplicaStore, accountId: string, idempotencyKey: string): GrantRecord | undefined {
  const s = fieldState<GMap>(store, accountKey(accountId), 'grants')
  const v = s === undefined ? undefined : gmapGet(s, `g:${idempotencyKey}`) as Record<string, Value> | undefined
  return v === undefined ? undefined : { id: idempotencyKey, ...(v as unknown as Omit<GrantRecord, 'id'>) }
}

/** Every grant, newest first. */
export function grantHistory (store: ReplicaStore, accountId: string): GrantRecord[] {
  const v = store.fieldValue(accountKey(accountId), 'grants') as Array<[string, Value]> | undefined
  if (v === undefined) return []
  return v.map(([id, rec]) => ({ id: id.replace(/^g:/, ''), ...(rec as unknown as Omit<GrantRecord, 'id'>) }))
    .sort((a, b) => b.at - a.at)
}

/** The changes for spending `credits` now (counter + consumption windows). */
export function spendChanges (store: ReplicaStore, accountId: string, credits: number, at: number): Change[] {
  if (credits <= 0) return []
  const target = accountKey(accountId)
  const s = fieldState<PnCounter>(store, target, 'credits') ?? { p: [], n: [] }
  return [
    { field: 'credits', kind: KIND.pn, delta: pnDecrementKey(s, store.replicaId, credits) },
    ...spendWindowChanges(store, accountId, credits, at),
  ]
}
