// Billing actions on a real memory replica: a replay never answers before the write it
// replays is durable. Durability is gated by wrapping the replica's commit promise.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ensureAccount, grantCredits, manualGrantKey } from '../../src/state/billing-actions.ts'
import { marketplaceKinds } from '../../src/state/kinds.ts'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import { memoryLevelKv } from '../../src/store/level-kv.ts'
import { Replica } from '../../src/store/replica.ts'
import type { ReplicaStore } from '../../src/store/types.ts'

/** The replica with commits whose durability resolves only when `release()` is called. */
function gated (inner: Replica): { store: ReplicaStore, release: () => void } {
  let open!: () => void
  const gate = { promise: new Promise<void>((resolve) => { open = resolve }) }
  const store = new Proxy(inner, {
    get (target, prop) {
      if (prop === 'commit') {
        return (t: string, changes: Parameters<Replica['commit']>[1]) => {
          const p = target.commit(t, changes) // applied to memory now
          return p.then(async (op) => { await gate.promise; return op })
        }
      }
      const v = Reflect.get(target, prop, target)
      return typeof v === 'function' ? v.bind(target) : v
    },
  }) as ReplicaStore
  return { store, release: () => open() }
}

test('a replayed grant or account creation waits until the original is durable', async () => {
  const replica = new Replica({ replicaId: 'r1', kv: memoryLevelKv(), kinds: marketplaceKinds() })
  await replica.start()
  try {
    const { store, release } = gated(replica)
    const order: string[] = []
    const create1 = ensureAccount(store, DEFAULT_BILLING_CONFIG, 'p1', 'alice', 1000).then((r) => { order.push(`create:${r.created}`); return r })
    const create2 = ensureAccount(store, DEFAULT_BILLING_CONFIG, 'p1', 'alice', 1000).then((r) => { order.push(`create:${r.created}`); return r })
    const { id } = await Promise.race([create1, create2, new Promise<{ id: string }>((resolve) => setTimeout(() => resolve({ id: 'pending' }), 30))])
    assert.equal(id, 'pending', 'neither creation answers before the write is durable')
    assert.deepEqual(order, [])
    release()
    const [a, b] = await Promise.all([create1, create2])
    assert.equal(a.id, b.id)
    assert.deepEqual([a.created, b.created].sort(), [false, true])

    // grants: gate a fresh store wrapper again
    const g = gated(replica)
    const grant = { accountId: a.id, idempotencyKey: manualGrantKey('k1'), amount: 7, kind: 'manual' as const, reason: 'r', by: 'admin', at: 2000 }
    let replayDone = false
    const first = grantCredits(g.store, grant)
    const replay = grantCredits(g.store, grant).then((o) => { replayDone = true; return o })
    await new Promise((resolve) => setTimeout(resolve, 30))
    assert.equal(replayDone, false, 'the replay waits for the first grant to be durable')
    g.release()
    const [o1, o2] = await Promise.all([first, replay])
    assert.equal(o1.applied, true)
    assert.equal(o2.applied, false)
    assert.deepEqual(o2.grant, o1.grant)
    assert.equal(o1.balance, DEFAULT_BILLING_CONFIG.tiers.free.included_credits + 7)
  } finally {
    await replica.stop()
  }
})
