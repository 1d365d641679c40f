// A committed op is applied without decoding its header and names again (encodeOwnOp):
// these tests hold it to being exactly the op every peer decodes from the same bytes.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FormStateError } from '../../src/errors.ts'
import { hireAgent, invokeAgent, invokeModel, releaseAgent } from '../../src/state/metering.ts'
import { ensureAccount, grantCredits, recordSubscription } from '../../src/state/billing-actions.ts'
import { createKeyOps, readApiKey, revokeKeyOps } from '../../src/state/api-keys.ts'
import { marketplaceKinds } from '../../src/state/kinds.ts'
import { seedDevnet } from '../../src/state/seed.ts'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import { memoryKv } from '../../src/store/memory-kv.ts'
import { cachedEncoding, decodeOp, encodeOp, encodeOwnOp, joinEncodedOps } from '../../src/store/op-codec.ts'
import { Replica } from '../../src/store/replica.ts'
import type { Op, ReplicaStore } from '../../src/store/types.ts'
import { rng, testSeed } from '../support/seed.ts'
import { gInc, kinds, memReplica, op, pn } from './helpers.ts'

const cfg = DEFAULT_BILLING_CONFIG
const T0 = Date.UTC(2026, 0, 1)
const mkinds = marketplaceKinds()

async function replica (id: string): Promise<Replica> {
  const r = new Replica({ replicaId: id, kv: memoryKv(), kinds: marketplaceKinds(), now: () => T0 })
  await r.start()
  return r
}

function code (fn: () => unknown): string {
  try { fn() } catch (err) {
    assert.ok(err instanceof FormStateError, `expected FormStateError, got ${String(err)}`)
    return err.code
  }
  assert.fail('expected a throw')
}

test('encodeOwnOp: the op equals decodeOp of its bytes, and the bytes are encodeOp\'s', () => {
  const draft = op('node-a', 3, 'acct/42', [gInc('usage', 'node-a', 120), pn('credits', 'n', 'node-a', 5), gInc('usage', 'node-a', 121)])
  const { op: own, bytes } = encodeOwnOp(draft, kinds, true)
  assert.deepEqual(bytes, encodeOp(draft, kinds))
  assert.deepEqual(own, decodeOp(bytes, kinds))
  assert.equal(encodeOp(own, kinds), bytes, 'remembered: re-encoding is a lookup')
  assert.notEqual(encodeOwnOp(draft, kinds, false).op, draft, 'a new op, not the caller\'s draft')
})

test('encodeOwnOp: a delta is the decoded one, not the draft\'s (non-canonical draft values)', () => {
  // A side other than 'p' encodes as the N side: the applied delta must say so too.
  const draft = op('node-a', 1, 'acct/1', [{ field: 'credits', kind: 'pncounter.v1', delta: { side: 'x', key: 'k', value: 4 } }])
  const { op: own } = encodeOwnOp(draft, kinds, false)
  assert.deepEqual(own.changes[0]!.delta, { side: 'n', key: 'k', value: 4 })
})

test('encodeOwnOp: names with a lone surrogate are taken as the bytes decode them', () => {
  const draft = op('node-a', 1, 'acct/\uD800', [gInc('f\uDC00', 'node-a', 1)])
  const { op: own, bytes } = encodeOwnOp(draft, kinds, false)
  assert.deepEqual(own, decodeOp(bytes, kinds))
  assert.equal(own.target, 'acct/\uFFFD')
  assert.equal(own.changes[0]!.field, 'f\uFFFD')
})

test('encodeOwnOp: a delta its kind encodes but would refuse to decode is refused', () => {
  // A zero G-counter total encodes, and every peer's decoder refuses it.
  assert.equal(code(() => encodeOwnOp(op('node-a', 1, 't', [gInc('n', 'a', 0)]), kinds, false)), 'decode_invalid')
})

test('commit refuses an op its peers could not decode, and changes nothing', async () => {
  const r = memReplica('node-a')
  await r.start()
  await r.commit('t', [gInc('n', 'a', 1)])
  const before = r.digest()
  await assert.rejects(r.commit('t', [gInc('m', 'a', 2), gInc('n', 'a', 0)]), (err: unknown) => err instanceof FormStateError && err.code === 'invalid_op')
  assert.equal(r.digest(), before)
  assert.equal(r.logLength(), 1)
  assert.equal((await r.commit('t', [gInc('n', 'a', 2)])).seq, 2)
  await r.stop()
})

test('a committed op is remembered as its bytes only when a commit listener will encode it', async () => {
  const r = memReplica('node-a')
  await r.start()
  const quiet = await r.commit('t', [gInc('n', 'a', 1)])
  assert.equal(cachedEncoding(quiet), undefined)
  const seen: Op[] = []
  r.onCommit((ops) => { seen.push(...ops) })
  const heard = await r.commit('t', [gInc('n', 'a', 2)])
  assert.deepEqual(seen, [heard])
  const logged = await r.encodedOpsAfter(new Map(), 10)
  assert.equal(cachedEncoding(heard), logged[1]!.bytes)
  // The op that was not remembered re-encodes to its logged bytes all the same.
  assert.deepEqual(encodeOp(quiet, kinds), logged[0]!.bytes)
  await r.stop()
})

/** One random marketplace action on `store` (awaited until durable). */
async function act (store: ReplicaStore, pick: () => number, accounts: string[], step: number): Promise<void> {
  const at = T0 + step * 7_919
  const account = accounts[Math.floor(pick() * accounts.length)]!
  const roll = pick()
  if (roll < 0.45) {
    await invokeModel(store, cfg, account, `model-${Math.floor(pick() * 3)}`, { per_1k_input: 1, per_1k_output: 2 }, 1 + Math.floor(pick() * 2000), Math.floor(pick() * 500), at).durable
  } else if (roll < 0.6) {
    const agent = `agent-${Math.floor(pick() * 3)}`
    try {
      await invokeAgent(store, cfg, account, agent, 1 + Math.floor(pick() * 3), pick() < 0.5 ? 'run' : 'plan', at).durable
    } catch (err) {
      if (!(err instanceof FormStateError) || err.code !== 'agent_not_hired') throw err
      await hireAgent(store, cfg, account, { id: agent }).durable
    }
  } else if (roll < 0.7) {
    await releaseAgent(store, cfg, account, `agent-${Math.floor(pick() * 3)}`).durable
  } else if (roll < 0.8) {
    await grantCredits(store, { accountId: account, idempotencyKey: `k${Math.floor(pick() * 20)}`, amount: 500, kind: 'manual', reason: 'test', by: 'test', at }).catch((err: unknown) => {
      if (!(err instanceof FormStateError) || err.code !== 'idempotency_conflict') throw err
    })
  } else if (roll < 0.88) {
    const tier = pick() < 0.5 ? 'pro' : 'free'
    await recordSubscription(store, account, { tier, status: pick() < 0.9 ? 'active' : 'past_due', period_end: at + 86_400_000, stripe_customer_id: 'cus_1', stripe_subscription_id: null, event_time: at })
  } else {
    const keyId = `key_${step}`
    for (const o of createKeyOps(store, { keyId, accountId: account, projectId: 'proj', name: `n${step}`, scopes: ['invoke'], expiresAt: null, hash: `h${step}`, at, by: 'test' })) await store.commit(o.target, o.changes)
    if (pick() < 0.5) {
      for (const o of revokeKeyOps(store, readApiKey(store, keyId)!, 'test', at + 1)) await store.commit(o.target, o.changes)
    }
  }
}

test('seeded marketplace workload: every commit leaves the state a peer builds from its bytes, and the log replays to it', async () => {
  const seed = testSeed('own-op workload')
  const pick = rng(seed)
  const a = await replica('node-a')
  const peer = await replica('node-b')
  await seedDevnet(a, cfg, T0)
  const accounts: string[] = []
  for (let i = 0; i < 4; i++) {
    const { id } = await ensureAccount(a, cfg, 'proj', `user-${i}`, T0)
    await grantCredits(a, { accountId: id, idempotencyKey: 'start', amount: 5_000, kind: 'manual', reason: 'test', by: 'test', at: T0 })
    accounts.push(id)
  }
  let seen = new Map<string, number>()
  for (let step = 0; step < 400; step++) {
    try {
      await act(a, pick, accounts, step)
    } catch (err) {
      // Refusals (402s) write nothing; anything else is a failure.
      if (!(err instanceof FormStateError) || !['credits_insufficient', 'subscription_inactive', 'agent_slots_exhausted'].includes(err.code)) throw err
    }
    // The peer receives exactly the logged bytes, as gossip would carry them.
    const fresh = await a.encodedOpsAfter(seen, 10_000)
    if (fresh.length === 0) continue
    await peer.applyEncoded(joinEncodedOps(fresh.map((e) => e.bytes)))
    seen = a.versionVector()
    const targets = new Set(fresh.map((e) => decodeOp(e.bytes, mkinds).target))
    for (const t of targets) assert.deepEqual(peer.entityDigests(t), a.entityDigests(t), `step ${step}: ${t} differs from the peer's (seed ${seed})`)
  }
  // Refusals, replays and releases of agents not hired write nothing: most steps still do.
  assert.ok(a.logLength() > 250, `workload wrote ${a.logLength()} ops`)
  assert.equal(peer.digest(), a.digest(), `seed ${seed}`)
  // The whole log, replayed into a fresh replica as decoded ops, builds the same state.
  const replay = await replica('node-c')
  await replay.applyRemote(await a.opsAfter(new Map(), 100_000))
  assert.equal(replay.digest(), a.digest(), `seed ${seed}`)
  for (const r of [a, peer, replay]) await r.stop()
})
