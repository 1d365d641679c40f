// Seeded random rotations, revokes and partial exchanges of one key family on three replicas
// (yjs style), checking the lineage revoke rules as a CRDT:
// - monotone: a key once read as revoked on a replica never reads live there again;
// - convergent: after everyone has everything, digests and every key's `revoked` agree;
// - the rule itself, from an oracle kept outside the code under test: key X is revoked iff
//   it was revoked itself, or some revoke of an ancestor K was issued on a replica that did
//   not hold the successor of K on X's path at that moment.
// Replay a failure with FORMSTATE_SEED=<seed>.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateApiKey } from '../../src/auth/api-key-format.ts'
import { createAccountChanges } from '../../src/state/account.ts'
import { accountApiKeys, activeKeyCount, countsAsActive, createKeyOps, keyStatusAt, lineageOf, readApiKey, revokeKeyOps, rotateOldKeyChanges } from '../../src/state/api-keys.ts'
import { accountKey, apiKeyKey } from '../../src/state/model.ts'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import type { Replica } from '../../src/store/replica.ts'
import { rng, testSeed } from '../support/seed.ts'
import { marketplaceReplica as replica } from '../support/marketplace-replica.ts'

const NOW = 1_800_000_000_000
const GRACE = 10 * 86_400_000 // nothing expires during a run

/** `to` receives everything `from` has that it lacks. */
async function send (from: Replica, to: Replica): Promise<void> {
  await to.applyRemote(await from.opsAfter(to.versionVector(), 100_000))
}

async function commitOps (r: Replica, ops: Array<{ target: string, changes: any[] }>): Promise<void> {
  for (const op of ops) await r.commit(op.target, op.changes)
}

for (let round = 0; round < 3; round++) {
  test(`lineage revokes: monotone, convergent and as the rule says under random interleavings (round ${round})`, async () => {
    const seed = testSeed(`lineage-convergence round ${round}`) + round
    const rand = rng(seed)
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!
    const rs = [await replica('A'), await replica('B'), await replica('C')]
    try {
      const { id: accountId, changes } = createAccountChanges(rs[0]!, DEFAULT_BILLING_CONFIG, 'proj_demo', 'user@demo', NOW)
      await rs[0]!.commit(accountKey(accountId), changes!)
      const root = generateApiKey('test').keyId
      await commitOps(rs[0]!, createKeyOps(rs[0]!, { keyId: root, accountId, projectId: 'proj_demo', name: 'k', scopes: [], expiresAt: null, hash: 'a'.repeat(64), at: NOW, by: 'u' }))
      for (const r of rs.slice(1)) await send(rs[0]!, r)

      // Oracle state, kept from what each replica held when it acted.
      const parent = new Map<string, string>() // key → the key it was rotated from
      const revokes: Array<{ key: string, held: Set<string> }> = []
      const all = [root]
      const seenRevoked = rs.map(() => new Set<string>())
      const pathSuccessor = (x: string, ancestor: string): string | undefined => {
        for (let k = x; parent.has(k); k = parent.get(k)!) if (parent.get(k) === ancestor) return k
        return undefined
      }

      for (let step = 1; step <= 40; step++) {
        const i = Math.floor(rand() * rs.length)
        const r = rs[i]!
        const at = NOW + step
        const held = all.filter((k) => readApiKey(r, k) !== undefined)
        const action = rand()
        if (action < 0.3) {
          const live = held.filter((k) => { const x = readApiKey(r, k)!; return keyStatusAt(x, at) === 'active' && x.rotatedTo === null })
          if (live.length > 0) {
            const old = readApiKey(r, pick(live))!
            const id = generateApiKey('test').keyId
            await commitOps(r, [
              ...createKeyOps(r, { keyId: id, accountId, projectId: 'proj_demo', name: 'k', scopes: [], expiresAt: null, hash: 'b'.repeat(64), at, by: 'u', rotatedFrom: old.id, lineage: lineageOf(old) }),
              { target: apiKeyKey(old.id), changes: rotateOldKeyChanges(r, id, at + GRACE, 'u', at) },
            ])
            parent.set(id, old.id)
            all.push(id)
          }
        } else if (action < 0.5) {
          const open = held.filter((k) => !readApiKey(r, k)!.revoked)
          if (open.length > 0) {
            const k = pick(open)
            revokes.push({ key: k, held: new Set(held) })
            await commitOps(r, revokeKeyOps(r, readApiKey(r, k)!, 'u', at))
          }
        } else {
          const other = rs[(i + 1 + Math.floor(rand() * (rs.length - 1))) % rs.length]!
          await send(r, other)
          if (rand() < 0.5) await send(other, r)
        }
        rs.forEach((x, j) => {
          for (const k of all) {
            const rec = readApiKey(x, k)
            if (rec?.revoked === true) seenRevoked[j]!.add(k)
            else if (seenRevoked[j]!.has(k)) assert.fail(`seed ${seed}: key ${k} read revoked on ${x.replicaId} and live again at step ${step}`)
          }
          // The tier limit's count (read field by field) agrees with the records it stands for.
          const at = NOW + step
          assert.equal(activeKeyCount(x, accountId, at), accountApiKeys(x, accountId).filter((k) => countsAsActive(k, at)).length, `seed ${seed}: active count on ${x.replicaId} at step ${step}`)
        })
      }

      for (let pass = 0; pass < 2; pass++) for (const a of rs) for (const b of rs) if (a !== b) await send(a, b)
      const digest = rs[0]!.digest()
      for (const r of rs) assert.equal(r.digest(), digest, `seed ${seed}: replicas converge`)
      for (const k of all) {
        const expected = revokes.some((v) => v.key === k) || revokes.some((v) => {
          const s = pathSuccessor(k, v.key)
          return s !== undefined && !v.held.has(s)
        })
        for (const r of rs) assert.equal(readApiKey(r, k)!.revoked, expected, `seed ${seed}: key ${k} on ${r.replicaId} (revokes ${JSON.stringify(revokes.map((v) => ({ key: v.key, held: [...v.held] })))}, parents ${JSON.stringify([...parent])})`)
      }
      assert.ok(all.length > 1 || revokes.length > 0, `seed ${seed}: the run did something`)
    } finally {
      for (const r of rs) await r.stop()
    }
  })
}
