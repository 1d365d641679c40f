// API-key history that one bad clock cannot erase: a node whose clock runs 100 days ahead
// edits and uses a key; the other node's lifecycle events (kept 90 days, crdt/hmap.ts) and
// its usage windows (crdt/wcounter.ts) survive on both, since one node's horizon alone only
// drops that node's own entries.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateApiKey } from '../../src/auth/api-key-format.ts'
import { createAccountChanges } from '../../src/state/account.ts'
import { keyActivityChanges, keyEvents, keyUsageBuckets } from '../../src/state/api-key-audit.ts'
import { createKeyOps, updateKeyChanges } from '../../src/state/api-keys.ts'
import { accountKey, apiKeyKey } from '../../src/state/model.ts'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import { exchange, marketplaceReplica as replica } from '../support/marketplace-replica.ts'

const HOUR = 3_600_000
const DAY = 86_400_000
const T0 = Date.UTC(2026, 0, 1)

test('a node 100 days ahead editing and using a key leaves the other node\'s key events and usage windows intact, on both', async () => {
  const slow = await replica('slow')
  const fast = await replica('fast')
  try {
    const { id: accountId, changes } = createAccountChanges(slow, DEFAULT_BILLING_CONFIG, 'proj_demo', 'u@demo', T0)
    await slow.commit(accountKey(accountId), changes!)
    const gen = generateApiKey('test')
    for (const op of createKeyOps(slow, { keyId: gen.keyId, accountId, projectId: 'proj_demo', name: 'k', scopes: ['usage:read'], expiresAt: null, hash: gen.hash, at: T0, by: 'u@demo' })) await slow.commit(op.target, op.changes)
    const target = apiKeyKey(gen.keyId)
    const now = T0 + 20 * DAY + 12 * HOUR
    await slow.commit(target, updateKeyChanges(slow, { name: 'renamed' }, 'u@demo', T0 + 10 * DAY))
    await slow.commit(target, keyActivityChanges(slow, gen.keyId, [{ at: now - 2 * HOUR, n: 3 }, { at: now, n: 4 }], now))
    await exchange(slow, fast)
    // The fast node (its clock 100 days ahead) edits and uses the key, then they exchange.
    const later = now + 100 * DAY
    await fast.commit(target, updateKeyChanges(fast, { name: 'from the future' }, 'ops@demo', later))
    await fast.commit(target, keyActivityChanges(fast, gen.keyId, [{ at: later, n: 1 }], later))
    await exchange(slow, fast)
    assert.equal(slow.entityDigests(target).get(target), fast.entityDigests(target).get(target))
    for (const r of [slow, fast]) {
      // As the slow node's clock reads them: its creation and rename, and its usage windows.
      const events = keyEvents(r, gen.keyId, now).filter((e) => (e.type === 'created' || e.type === 'updated') && e.at <= now)
      assert.deepEqual(events.map((e) => e.type).sort(), ['created', 'updated'], `${r.replicaId}'s lifecycle events`)
      assert.deepEqual(keyUsageBuckets(r, gen.keyId, 'day', now - DAY, now + 1, now).map((b) => b.requests), [7], `${r.replicaId}'s day window`)
      assert.deepEqual(keyUsageBuckets(r, gen.keyId, 'hour', now - 3 * HOUR, now + 1, now).map((b) => b.requests), [3, 4], `${r.replicaId}'s hour windows`)
    }
  } finally {
    await slow.stop()
    await fast.stop()
  }
})
