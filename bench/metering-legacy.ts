// The metered call as it was before usage windows moved onto windowed counters: 13
// changes per invoke (credits, 3 `spent/<res>/<bucket>` and 9 `u/<metric>/<subject>/<res>/<bucket>`
// G-counter fields, one field per window, never pruned). bench/metering.ts runs it beside
// today's invokeModel as the same-run baseline. Same checks and reads as invokeModel.
import { gcounterIncrement, type GCounter } from '../crdt/gcounter.ts'
import { pnDecrementKey, type PnCounter } from '../crdt/pncounter.ts'
import { balanceOf } from '../src/state/credits.ts'
import { canUseTokens, type Pricing } from '../src/state/eligibility.ts'
import { accountKey, fieldState, KIND } from '../src/state/model.ts'
import { effectiveTier, subscriptionOf } from '../src/state/subscription.ts'
import type { BillingConfig } from '../src/state/tiers.ts'
import { bucketOf, RESOLUTION_NAMES, RESOLUTIONS } from '../src/state/windows.ts'
import type { Change, Op, ReplicaStore } from '../src/store/types.ts'

function gInc (store: ReplicaStore, target: string, field: string, n: number): Change {
  const s = fieldState<GCounter>(store, target, field) ?? []
  return { field, kind: KIND.g, delta: gcounterIncrement(s, store.replicaId, n) }
}

/** invokeModel with the one-field-per-window layout; returns the op's durability promise. */
export function legacyInvokeModel (store: ReplicaStore, cfg: BillingConfig, accountId: string, modelId: string, price: Pricing, inputTokens: number, outputTokens: number, at: number): Promise<Op> {
  const cost = canUseTokens(store, cfg, accountId, price, inputTokens, outputTokens)
  const target = accountKey(accountId)
  const credits = fieldState<PnCounter>(store, target, 'credits') ?? { p: [], n: [] }
  const changes: Change[] = [{ field: 'credits', kind: KIND.pn, delta: pnDecrementKey(credits, store.replicaId, cost) }]
  for (const res of RESOLUTION_NAMES) changes.push(gInc(store, target, `spent/${RESOLUTIONS[res].code}/${bucketOf(res, at)}`, cost))
  const usage: Record<string, number> = { tokens_in: inputTokens, tokens_out: outputTokens, requests: 1 }
  for (const metric in usage) {
    for (const res of RESOLUTION_NAMES) changes.push(gInc(store, target, `u/${metric}/model:${modelId}/${RESOLUTIONS[res].code}/${bucketOf(res, at)}`, usage[metric]!))
  }
  const durable = store.commit(target, changes)
  // invokeModel's outcome reads.
  balanceOf(store, accountId)
  effectiveTier(subscriptionOf(store, accountId))
  return durable
}
