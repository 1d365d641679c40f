// A revoke wins over concurrent edits: rotate and revoke racing on one node (over HTTP),
// and rotate + patch on one replica concurrent with a revoke on another, merged both ways
// (more rotate/revoke cases in rotate-revoke.test.ts).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { StoreApiKeyAuthenticator } from '../../src/auth/api-key-auth.ts'
import { generateApiKey } from '../../src/auth/api-key-format.ts'
import { createAccountChanges } from '../../src/state/account.ts'
import { createKeyOps, readApiKey, revokeKeyOps, rotateOldKeyChanges, updateKeyChanges } from '../../src/state/api-keys.ts'
import { accountKey, apiKeyKey } from '../../src/state/model.ts'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import { Replica } from '../../src/store/replica.ts'
import { FAST_RATE, startKeysDevnet, USER, type KeysDevnet } from './helpers.ts'
import { marketplaceReplica as replica, exchange } from '../support/marketplace-replica.ts'

let d: KeysDevnet
before(async () => { d = await startKeysDevnet({ billing: { tiers: { ...FAST_RATE.tiers, free: { ...FAST_RATE.tiers.free, api_key_limit: 100 } } } }) })
after(async () => { await d.close() })

test('rotate and revoke sent together: the old key ends revoked, whichever ran first', async () => {
  const jwt = await d.token(USER)
  const outcomes = new Set<string>()
  for (let i = 0; i < 8; i++) {
    const k = await d.createKey(jwt, ['usage:read'])
    const calls = [
      d.as(jwt, 'POST', `/api-keys/${k.id}/rotate`, { grace_seconds: 3600 }),
      d.as(jwt, 'DELETE', `/api-keys/${k.id}`),
    ]
    if (i % 2 === 1) calls.reverse()
    const [a, b] = await Promise.all(calls)
    outcomes.add(`${a!.status}/${b!.status}`)
    const old = await d.as(jwt, 'GET', `/api-keys/${k.id}`)
    assert.equal(old.body.status, 'revoked')
    assert.equal((await d.req('GET', '/usage/stats', { 'x-api-key': k.key })).status, 401, 'the old secret is dead, grace or not')
    const rotated = [a!, b!].find((r) => r.status === 201)
    if (rotated !== undefined) {
      // On one node the revoke ran after the rotation and saw it: killing the old key early leaves the new one working.
      assert.equal((await d.req('GET', '/usage/stats', { 'x-api-key': rotated.body.key })).status, 200, 'the rotated key works')
      const ev = (await d.as(jwt, 'GET', `/api-keys/${k.id}/events`)).body.events.find((e: any) => e.type === 'revoked')
      assert.deepEqual(ev.details.saw_rotations, [rotated.body.id])
    }
  }
  // Every order is a legal outcome: rotate first (201, then revoke 200) or revoke first (rotate 409).
  for (const o of outcomes) assert.ok(['201/200', '200/201', '409/200', '200/409'].includes(o), o)
})

test('rotate + rename on one replica, revoke on another: after merging both ways the old key is revoked on both', async () => {
  const a = await replica('A')
  const b = await replica('B')
  try {
    const now = 1_800_000_000_000
    const { id: accountId, changes } = createAccountChanges(a, DEFAULT_BILLING_CONFIG, 'proj_demo', 'user@demo', now)
    await a.commit(accountKey(accountId), changes!)
    const gen = generateApiKey('test')
    for (const op of createKeyOps(a, { keyId: gen.keyId, accountId, projectId: 'proj_demo', name: 'k', scopes: ['usage:read'], expiresAt: null, hash: gen.hash, at: now, by: 'user@demo' })) {
      await a.commit(op.target, op.changes)
    }
    await exchange(a, b)
    assert.equal(b.digest(), a.digest())

    // Concurrently: A renames and rotates, B revokes.
    const next = generateApiKey('test')
    await a.commit(apiKeyKey(gen.keyId), updateKeyChanges(a, { name: 'renamed', scopes: ['usage:read', 'billing:read'] }, 'user@demo', now + 1))
    for (const op of createKeyOps(a, { keyId: next.keyId, accountId, projectId: 'proj_demo', name: 'renamed', scopes: ['usage:read'], expiresAt: null, hash: next.hash, at: now + 2, by: 'user@demo', rotatedFrom: gen.keyId })) {
      await a.commit(op.target, op.changes)
    }
    await a.commit(apiKeyKey(gen.keyId), rotateOldKeyChanges(a, next.keyId, now + 3_600_000, 'user@demo', now + 2))
    for (const op of revokeKeyOps(b, readApiKey(b, gen.keyId)!, 'admin@demo', now + 1)) await b.commit(op.target, op.changes)
    assert.equal(readApiKey(a, gen.keyId)!.revoked, false, 'not merged yet')

    await exchange(a, b)
    assert.equal(a.digest(), b.digest(), 'replicas converge')
    for (const r of [a, b]) {
      const old = readApiKey(r, gen.keyId)!
      assert.equal(old.revoked, true)
      assert.equal(old.name, 'renamed', 'the edit merged too, but does not undo the revoke')
      assert.equal(old.rotatedTo, next.keyId)
      const auth = new StoreApiKeyAuthenticator({ store: r, env: 'test', now: () => now + 10 })
      assert.equal(auth.check(gen.display).code, 'REVOKED')
      // The revoke did not see the rotation: it kills the credential's successor too.
      assert.equal(auth.check(next.display).code, 'REVOKED')
      assert.equal(readApiKey(r, next.keyId)!.revokedVia, gen.keyId)
    }
    // Applying the same ops again (duplicates, other order) changes nothing.
    const digest = a.digest()
    await b.applyRemote(await a.opsAfter(new Map(), 10_000))
    assert.equal(b.digest(), digest)
  } finally {
    await a.stop()
    await b.stop()
  }
})
