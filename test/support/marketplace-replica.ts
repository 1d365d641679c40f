/**
 * In-memory replicas with the marketplace's kinds, for state-level tests that run several
 * replicas in one process and exchange their ops by hand.
 */
import { marketplaceKinds } from '../../src/state/kinds.ts'
import { memoryLevelKv } from '../../src/store/level-kv.ts'
import { Replica } from '../../src/store/replica.ts'

/** A started replica named `id` over a memory store (durability `none`, as for any memory store). */
export async function marketplaceReplica (id: string): Promise<Replica> {
  const r = new Replica({ replicaId: id, kv: memoryLevelKv(), kinds: marketplaceKinds() })
  await r.start()
  return r
}

/** Both directions of an anti-entropy round: each gets the ops the other has and it lacks. */
export async function exchange (a: Replica, b: Replica): Promise<void> {
  const toB = await a.opsAfter(b.versionVector(), 10_000)
  const toA = await b.opsAfter(a.versionVector(), 10_000)
  await b.applyRemote(toB)
  await a.applyRemote(toA)
}
