// Rotation concurrent with revoke, in process: two replicas that have not seen each other's
// ops, then merged in both orders (two fresh replicas applying A-then-B and B-then-A). A
// revoke that did not see a rotation kills the rotated key too; a revoke issued after the
// rotation was seen (killing the old key early, during grace) does not. Chains A→B→C.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { StoreApiKeyAuthenticator } from '../../src/auth/api-key-auth.ts'
import { generateApiKey } from '../../src/auth/api-key-format.ts'
import { createAccountChanges } from '../../src/state/account.ts'
import { keyEvents } from '../../src/state/api-key-audit.ts'
import { activeKeyCount, createKeyOps, keyStatusAt, lineageOf, readApiKey, revokeKeyOps, rotateOldKeyChanges } from '../../src/state/api-keys.ts'
import { gmapPut } from '../../crdt/gmap.ts'
import { accountKey, apiKeyKey, KIND } from '../../src/state/model.ts'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import type { Replica } from '../../src/store/replica.ts'
import { marketplaceReplica as replica, exchange } from '../support/marketplace-replica.ts'

const NOW = 1_800_000_000_000
const GRACE = 3_600_000
type Key = { keyId: string, display: string }

async function commitOps (r: Replica, ops: Array<{ target: string, changes: any[] }>): Promise<void> {
  for (const op of ops) await r.commit(op.target, op.changes)
}

/** Two replicas sharing an account with one key. */
async function setup (): Promise<{ a: Replica, b: Replica, accountId: string, key: Key, close: () => Promise<void> }> {
  const a = await replica('A')
  const b = await replica('B')
  const { id: accountId, changes } = createAccountChanges(a, DEFAULT_BILLING_CONFIG, 'proj_demo', 'user@demo', NOW)
  await a.commit(accountKey(accountId), changes!)
  const gen = generateApiKey('test')
  await commitOps(a, createKeyOps(a, { keyId: gen.keyId, accountId, projectId: 'proj_demo', name: 'k', scopes: ['usage:read'], expiresAt: null, hash: gen.hash, at: NOW, by: 'user@demo' }))
  await exchange(a, b)
  return { a, b, accountId, key: gen, close: async () => { await a.stop(); await b.stop() } }
}

/** Rotates `oldId` on `r` as the route does (new key with the lineage, old key marked). */
async function rotate (r: Replica, oldId: string, at: number): Promise<Key> {
  const old = readApiKey(r, oldId)!
  const gen = generateApiKey('test')
  await commitOps(r, [
    ...createKeyOps(r, { keyId: gen.keyId, accountId: old.accountId, projectId: old.projectId, name: old.name, scopes: old.scopes, expiresAt: old.expiresAt, hash: gen.hash, at, by: 'user@demo', rotatedFrom: old.id, lineage: lineageOf(old) }),
    { target: apiKeyKey(old.id), changes: rotateOldKeyChanges(r, gen.keyId, at + GRACE, 'user@demo', at) },
  ])
  return gen
}

async function revoke (r: Replica, keyId: string, at: number): Promise<void> {
  await commitOps(r, revokeKeyOps(r, readApiKey(r, keyId)!, 'admin@demo', at))
}

/** Fresh replicas that received A's ops then B's, and B's then A's; they must agree. */
async function mergedBothOrders (a: Replica, b: Replica): Promise<Replica[]> {
  const opsA = await a.opsAfter(new Map(), 10_000)
  const opsB = await b.opsAfter(new Map(), 10_000)
  const ab = await replica('C')
  const ba = await replica('D')
  await ab.applyRemote(opsA); await ab.applyRemote(opsB)
  await ba.applyRemote(opsB); await ba.applyRemote(opsA)
  assert.equal(ab.digest(), ba.digest(), 'merge order does not matter')
  return [ab, ba]
}

function code (r: Replica, k: Key, at = NOW + 10): string {
  return new StoreApiKeyAuthenticator({ store: r, env: 'test', now: () => at }).check(k.display).code
}

test('rotate on one replica, revoke on the other (neither saw the other): both keys end revoked, in either merge order', async () => {
  const s = await setup()
  try {
    const next = await rotate(s.a, s.key.keyId, NOW + 2)
    await revoke(s.b, s.key.keyId, NOW + 1)
    assert.equal(code(s.a, next), 'VALID', 'before the merge the rotated key works where it was made')
    for (const r of await mergedBothOrders(s.a, s.b)) {
      assert.equal(code(r, s.key), 'REVOKED')
      assert.equal(code(r, next), 'REVOKED', 'the revoke did not see the rotation: it kills the successor')
      const k = readApiKey(r, next.keyId)!
      assert.equal(k.revokedVia, s.key.keyId)
      assert.equal(keyStatusAt(k, NOW + 10), 'revoked')
      assert.equal(activeKeyCount(r, s.accountId, NOW + 10), 0, 'neither counts against the tier')
      const ev = keyEvents(r, next.keyId, NOW + 10).find((e) => e.type === 'revoked')
      assert.ok(ev !== undefined, 'the successor\'s audit shows the revoke')
      assert.equal(ev.details?.via, s.key.keyId)
      assert.deepEqual(ev.details?.saw_rotations, [])
      assert.deepEqual(keyEvents(r, s.key.keyId, NOW + 10).find((e) => e.type === 'revoked')?.details?.saw_rotations, [])
      await r.stop()
    }
    await exchange(s.a, s.b)
    assert.equal(s.a.digest(), s.b.digest())
    assert.equal(code(s.a, next), 'REVOKED')
  } finally { await s.close() }
})

test('a revoke of the old key issued after the rotation was seen (early, during grace) leaves the new key working', async () => {
  const s = await setup()
  try {
    const next = await rotate(s.a, s.key.keyId, NOW + 2)
    await exchange(s.a, s.b)
    await revoke(s.b, s.key.keyId, NOW + 3)
    for (const r of await mergedBothOrders(s.a, s.b)) {
      assert.equal(code(r, s.key), 'REVOKED')
      assert.equal(code(r, next), 'VALID')
      assert.equal(readApiKey(r, next.keyId)!.revokedVia, null)
      assert.equal(keyEvents(r, next.keyId, NOW + 10).some((e) => e.type === 'revoked'), false)
      assert.deepEqual(keyEvents(r, s.key.keyId, NOW + 10).find((e) => e.type === 'revoked')?.details?.saw_rotations, [next.keyId])
      await r.stop()
    }
  } finally { await s.close() }
})

test('two revokes of the old key, one that saw the rotation and one concurrent with it: the concurrent one wins', async () => {
  const s = await setup()
  try {
    const next = await rotate(s.a, s.key.keyId, NOW + 2)
    await revoke(s.a, s.key.keyId, NOW + 3) // saw it
    await revoke(s.b, s.key.keyId, NOW + 1) // did not
    for (const r of await mergedBothOrders(s.a, s.b)) {
      assert.equal(code(r, next), 'REVOKED')
      await r.stop()
    }
  } finally { await s.close() }
})

test('chain A→B→C made on one replica while A is revoked on the other: B and C end revoked', async () => {
  const s = await setup()
  try {
    const b1 = await rotate(s.a, s.key.keyId, NOW + 2)
    const c1 = await rotate(s.a, b1.keyId, NOW + 3)
    assert.deepEqual(readApiKey(s.a, c1.keyId)!.lineage, [s.key.keyId, b1.keyId])
    await revoke(s.b, s.key.keyId, NOW + 1)
    for (const r of await mergedBothOrders(s.a, s.b)) {
      assert.equal(code(r, b1), 'REVOKED')
      assert.equal(code(r, c1), 'REVOKED')
      assert.equal(readApiKey(r, c1.keyId)!.revokedVia, s.key.keyId)
      await r.stop()
    }
  } finally { await s.close() }
})

test('chain: a revoke of A that saw A→B, concurrent with B→C, leaves B and C working; a revoke of B concurrent with B→C kills C only', async () => {
  const s = await setup()
  try {
    const b1 = await rotate(s.a, s.key.keyId, NOW + 2)
    await exchange(s.a, s.b)
    const c1 = await rotate(s.a, b1.keyId, NOW + 3)
    await revoke(s.b, s.key.keyId, NOW + 4) // saw A→B, not B→C
    let merged = await mergedBothOrders(s.a, s.b)
    for (const r of merged) {
      assert.equal(code(r, s.key), 'REVOKED')
      assert.equal(code(r, b1), 'VALID', 'in grace: B→C was made on a node that knew B was live')
      assert.equal(code(r, c1), 'VALID')
      await r.stop()
    }
    await revoke(s.b, b1.keyId, NOW + 5) // B's revoke on B has not seen B→C
    merged = await mergedBothOrders(s.a, s.b)
    for (const r of merged) {
      assert.equal(code(r, b1), 'REVOKED')
      assert.equal(code(r, c1), 'REVOKED')
      assert.equal(readApiKey(r, c1.keyId)!.revokedVia, b1.keyId)
      assert.equal(code(r, s.key), 'REVOKED')
      await r.stop()
    }
  } finally { await s.close() }
})

test('a key revoked through its lineage stays so when every op is delivered again, in any order', async () => {
  const s = await setup()
  try {
    const next = await rotate(s.a, s.key.keyId, NOW + 2)
    await revoke(s.b, s.key.keyId, NOW + 1)
    await exchange(s.a, s.b)
    const k = readApiKey(s.a, next.keyId)!
    assert.equal(k.revoked, true)
    const digest = s.a.digest()
    // Duplicates in any order change nothing.
    await s.b.applyRemote(await s.a.opsAfter(new Map(), 10_000))
    await s.a.applyRemote(await s.b.opsAfter(new Map(), 10_000))
    assert.equal(s.a.digest(), digest)
    assert.equal(s.b.digest(), digest)
  } finally { await s.close() }
})

test('two concurrent rotations of one key (A→B here, A→B\' there): a revoke counts every successor it knows, not only rotated_to', async () => {
  const s = await setup()
  try {
    const b1 = await rotate(s.a, s.key.keyId, NOW + 2)
    const b2 = await rotate(s.b, s.key.keyId, NOW + 2)
    await exchange(s.a, s.b)
    // Both successors are known on A now (rotated_to names one of them only).
    await revoke(s.a, s.key.keyId, NOW + 3)
    const saw = keyEvents(s.a, s.key.keyId, NOW + 10).find((e) => e.type === 'revoked')?.details?.saw_rotations
    assert.deepEqual(saw, [b1.keyId, b2.keyId].sort())
    await exchange(s.a, s.b)
    for (const r of [s.a, s.b]) {
      assert.equal(code(r, b1), 'VALID')
      assert.equal(code(r, b2), 'VALID')
    }
  } finally { await s.close() }
})

test('two concurrent rotations, and a revoke on one side before they merge: the successor it never saw is revoked, the one it saw is not', async () => {
  const s = await setup()
  try {
    const b1 = await rotate(s.a, s.key.keyId, NOW + 2)
    const b2 = await rotate(s.b, s.key.keyId, NOW + 2)
    await revoke(s.a, s.key.keyId, NOW + 3) // saw b1 only
    for (const r of await mergedBothOrders(s.a, s.b)) {
      assert.equal(code(r, b1), 'VALID')
      assert.equal(code(r, b2), 'REVOKED')
      await r.stop()
    }
  } finally { await s.close() }
})

test('a malformed lineage record (not written by this code) is ignored, never a crash on the auth path', async () => {
  const s = await setup()
  try {
    const next = await rotate(s.a, s.key.keyId, NOW + 2)
    for (const [i, bad] of [42, 'x', null, [1], { key: s.key.keyId }, { key: s.key.keyId, saw: 'nope' }, { key: 7, saw: [] }].entries()) {
      await s.a.commit(apiKeyKey(s.key.keyId), [{ field: 'lineage_revokes', kind: KIND.gmap, delta: gmapPut(`junk-${i}`, bad as any) }])
    }
    assert.equal(code(s.a, next), 'VALID')
    assert.equal(code(s.a, s.key), 'VALID', 'in grace')
  } finally { await s.close() }
})
