// activeKeyCount (what the tier limit and GET /accounts/me count) reads fields directly
// instead of building records: it must agree with countsAsActive over the account's records
// for keys expiring at, before and after `now`, rotated keys in and past their grace, revoked
// keys, a listed id whose entity has not arrived and a listed id naming another account.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateApiKey } from '../../src/auth/api-key-format.ts'
import { createAccountChanges, keyIndexChange } from '../../src/state/account.ts'
import { accountApiKeys, activeKeyCount, countsAsActive, createKeyOps, lineageOf, readApiKey, revokeKeyOps, rotateOldKeyChanges } from '../../src/state/api-keys.ts'
import { accountKey, apiKeyKey } from '../../src/state/model.ts'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import type { Change } from '../../src/store/types.ts'
import { marketplaceReplica } from '../support/marketplace-replica.ts'

const T = 1_800_000_000_000

test('activeKeyCount equals countsAsActive over the records at every moment', async () => {
  const store = await marketplaceReplica('r1')
  const commit = async (ops: Array<{ target: string, changes: Change[] }>): Promise<void> => { for (const op of ops) await store.commit(op.target, op.changes) }
  const { id: accountId, changes } = createAccountChanges(store, DEFAULT_BILLING_CONFIG, 'proj_demo', 'u@demo', T)
  await store.commit(accountKey(accountId), changes!)
  const make = async (expiresAt: number | null, extra: { rotatedFrom?: string, lineage?: string[] } = {}): Promise<string> => {
    const id = generateApiKey('test').keyId
    await commit(createKeyOps(store, { keyId: id, accountId, projectId: 'proj_demo', name: 'k', scopes: [], expiresAt, hash: 'a'.repeat(64), at: T, by: 'u', ...extra }))
    return id
  }
  await make(null)
  await make(T + 1000) // expires during the checks
  await make(T - 1) // already expired
  await commit(revokeKeyOps(store, readApiKey(store, await make(null))!, 'u', T))
  // A rotation: the old key works until its grace ends but no longer counts; the new one counts.
  const old = readApiKey(store, await make(T + 5000))!
  const next = await make(old.expiresAt, { rotatedFrom: old.id, lineage: lineageOf(old) })
  await commit([{ target: apiKeyKey(old.id), changes: rotateOldKeyChanges(store, next, T + 500, 'u', T) }])
  // Listed, but the entity has not arrived; listed, but the entity names another account.
  await store.commit(accountKey(accountId), [keyIndexChange(store, accountId, generateApiKey('test').keyId)])
  const stranger = generateApiKey('test').keyId
  await commit(createKeyOps(store, { keyId: stranger, accountId: 'acc_' + '0'.repeat(24), projectId: 'proj_demo', name: 'x', scopes: [], expiresAt: null, hash: 'b'.repeat(64), at: T, by: 'u' }))
  await store.commit(accountKey(accountId), [keyIndexChange(store, accountId, stranger)])

  const counts: number[] = []
  for (const now of [T - 10, T, T + 499, T + 500, T + 999, T + 1000, T + 4999, T + 5000, T + 10_000]) {
    const want = accountApiKeys(store, accountId).filter((k) => countsAsActive(k, now)).length
    assert.equal(activeKeyCount(store, accountId, now), want, `at T${now - T >= 0 ? '+' : ''}${now - T}`)
    counts.push(want)
  }
  assert.deepEqual(counts, [4, 3, 3, 3, 3, 2, 2, 1, 1]) // the cases above really were exercised
  await store.stop()
})
