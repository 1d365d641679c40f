/**
 * Causal stability and log compaction.
 *
 * An op is stable once every member has it: the meet (pointwise min) of all members'
 * version vectors. Only stable ops may leave the log — a member that lacks an op must
 * still be able to pull it. A member whose vector we never heard counts as the empty
 * vector, so one silent member blocks compaction (safe: the log grows, nothing is lost).
 * A new member that joins after compaction bootstraps from a snapshot instead (sync.ts).
 *
 * Compaction runs after a snapshot that covers the stable vector, so a restart never
 * needs ops that were dropped.
 */
import { vvDominates, vvMeet, type VersionVector } from '../../crdt/version-vector.ts'
import type { ReplicaStore } from '../store/types.ts'
import type { ReplLogger } from './gossip-queue.ts'

/** The vector every member has seen. */
export function stableVector (self: VersionVector, members: readonly string[], selfId: string, vectors: ReadonlyMap<string, VersionVector>): VersionVector {
  const all: VersionVector[] = [self]
  for (const m of members) {
    if (m === selfId) continue
    all.push(vectors.get(m) ?? new Map())
  }
  return vvMeet(all)
}

export interface CompactionResult {
  stable: VersionVector
  snapshotTaken: boolean
  dropped: number
}

/**
 * Snapshot if the last snapshot does not cover `stable`, then compact the log up to it.
 * Does nothing (returns undefined) when `stable` adds nothing to what is compacted.
 */
export async function compactStable (store: ReplicaStore, stable: VersionVector, logger: ReplLogger): Promise<CompactionResult | undefined> {
  if (stable.size === 0 || vvDominates(store.compactedVv(), stable)) return undefined
  let snapshotTaken = false
  const last = store.lastSnapshot()
  if (last === undefined || !vvDominates(last.vv, stable)) {
    await store.snapshot()
    snapshotTaken = true
  }
  const dropped = await store.compact(stable)
  logger.debug('compacted the op log', { dropped, snapshotTaken })
  return { stable, snapshotTaken, dropped }
}
