// POST /internal/usage/record with an idempotency_key: a replay counts nothing and says so,
// the same key with another body is a 409, bad keys are 400s that change nothing; and in
// process, the same key recorded concurrently on two replicas counts once after merging.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createAccountChanges } from '../../src/state/account.ts'
import { accountKey } from '../../src/state/model.ts'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import { recordUsageOnce, recordedUsage, USAGE_KEYS_FIELD } from '../../src/state/usage-idempotency.ts'
import { usageRows } from '../../src/state/usage.ts'
import type { Replica } from '../../src/store/replica.ts'
import { assertProblem } from '../api/problem.ts'
import { startKeysDevnet, USER, type KeysDevnet } from './helpers.ts'
import { marketplaceReplica as replica } from '../support/marketplace-replica.ts'

let d: KeysDevnet
let account: string
before(async () => {
  d = await startKeysDevnet()
  const r = await d.as(await d.token(USER), 'POST', '/accounts')
  assert.ok(r.status === 201 || r.status === 200, r.text)
  account = d.accountOf(USER)
})
after(async () => { await d.close() })

async function tokensIn (model: string): Promise<number> {
  const stats = await d.service('GET', `/usage/stats?account_id=${account}`)
  assert.equal(stats.status, 200, stats.text)
  return stats.body.models.find((m: any) => m.model === model)?.metrics.tokens_in ?? 0
}

const record = (body: Record<string, unknown>) => d.service('POST', '/internal/usage/record', { account_id: account, ...body })

test('the same key and body counts once; the replay says so and carries the first call\'s time', async () => {
  const body = { subject: { type: 'model', id: 'idem-a' }, amounts: { tokens_in: 100, requests: 1 }, idempotency_key: 'call-1' }
  const first = await record(body)
  assert.equal(first.status, 200, first.text)
  assert.equal(first.body.replayed, false)
  assert.equal(first.body.idempotency_key, 'call-1')
  assert.equal(first.headers.get('idempotent-replayed'), null)
  const at = first.body.at as number
  d.clock.now += 5_000 // a retry without `at` later is still the same request
  const again = await record({ ...body, amounts: { requests: 1, tokens_in: 100 } }) // metric order does not matter
  assert.equal(again.status, 200, again.text)
  assert.equal(again.body.replayed, true)
  assert.equal(again.body.at, at)
  assert.equal(again.headers.get('idempotent-replayed'), 'true')
  assert.equal(await tokensIn('idem-a'), 100)
  // Without a key, every call counts (the old behaviour).
  await record({ subject: { type: 'model', id: 'idem-a' }, amounts: { tokens_in: 1 } })
  await record({ subject: { type: 'model', id: 'idem-a' }, amounts: { tokens_in: 1 } })
  assert.equal(await tokensIn('idem-a'), 102)
})

test('parallel identical calls on one node: exactly one counts', async () => {
  const body = { subject: { type: 'model', id: 'idem-b' }, amounts: { tokens_in: 7 }, idempotency_key: 'burst-1', at: d.clock.now }
  const replies = await Promise.all(Array.from({ length: 20 }, () => record(body)))
  assert.deepEqual(replies.map((r) => r.status).filter((s) => s !== 200), [])
  assert.equal(replies.filter((r) => r.body.replayed === false).length, 1)
  assert.equal(await tokensIn('idem-b'), 7)
})

test('the same key with another body is a 409 naming idempotency_key; bad keys are 400s; nothing changes', async () => {
  const ok = await record({ subject: { type: 'model', id: 'idem-c' }, amounts: { tokens_in: 5 }, idempotency_key: 'call-c', at: d.clock.now })
  assert.equal(ok.status, 200, ok.text)
  const digest = d.node.store.digest()
  const variants: Array<Record<string, unknown>> = [
    { subject: { type: 'model', id: 'idem-c' }, amounts: { tokens_in: 6 }, at: ok.body.at }, // another amount
    { subject: { type: 'model', id: 'other' }, amounts: { tokens_in: 5 }, at: ok.body.at }, // another subject
    { subject: { type: 'model', id: 'idem-c' }, amounts: { tokens_in: 5, requests: 1 }, at: ok.body.at }, // another metric
    { subject: { type: 'model', id: 'idem-c' }, amounts: { tokens_in: 5 }, at: ok.body.at - 1 }, // another time
    { subject: { type: 'model', id: 'idem-c' }, amounts: { tokens_in: 5 } }, // time left to the node
  ]
  for (const v of variants) assertProblem(await record({ ...v, idempotency_key: 'call-c' }), 409, 'idempotency_conflict', 'idempotency_key')
  for (const bad of ['', 'has space', 'a/b', 'x'.repeat(129), 42, null, ['k'], { k: 1 }, '-leading']) {
    const r = await record({ subject: { type: 'model', id: 'idem-c' }, amounts: { tokens_in: 5 }, idempotency_key: bad })
    assertProblem(r, 400, 'invalid_field', 'idempotency_key')
  }
  assert.equal(d.node.store.digest(), digest, 'no refused call changed the state')
  assert.equal(await tokensIn('idem-c'), 5)
})

function total (r: Replica, accountId: string, model: string, now: number): Record<string, number> {
  const out: Record<string, number> = {}
  for (const res of ['minute', 'hour', 'day'] as const) {
    out[res] = usageRows(r, accountId, res, 0, now + 1, now).filter((u) => u.subject.id === model && u.metric === 'tokens_in').reduce((a, u) => a + u.value, 0)
  }
  return out
}

test('in process: the same key recorded concurrently on two replicas counts once after merging; other keys add up', async () => {
  const a = await replica('A')
  const b = await replica('B')
  try {
    const now = 1_800_000_000_000
    const { id, changes } = createAccountChanges(a, DEFAULT_BILLING_CONFIG, 'proj_demo', 'user@demo', now)
    await a.commit(accountKey(id), changes!)
    await b.applyRemote(await a.opsAfter(new Map(), 1000))
    const input = { subject: { type: 'model' as const, id: 'm' }, amounts: { tokens_in: 40 }, at: now }
    const ra = await recordUsageOnce(a, id, 'dup', input, now, now)
    const rb = await recordUsageOnce(b, id, 'dup', input, now, now + 3)
    assert.equal(ra.replayed || rb.replayed, false, 'neither had seen the other')
    await recordUsageOnce(a, id, 'only-a', { ...input, amounts: { tokens_in: 2 } }, now, now)
    await recordUsageOnce(b, id, 'only-b', { ...input, amounts: { tokens_in: 1 } }, now, now)
    const toB = await a.opsAfter(b.versionVector(), 1000)
    const toA = await b.opsAfter(a.versionVector(), 1000)
    await a.applyRemote(toA)
    await b.applyRemote(toB)
    assert.equal(a.digest(), b.digest())
    for (const r of [a, b]) {
      assert.deepEqual(total(r, id, 'm', now), { minute: 43, hour: 43, day: 43 })
      assert.ok(recordedUsage(r, id, 'dup') !== undefined)
      // After the merge a third call with the key is a replay on either replica.
      assert.equal((await recordUsageOnce(r, id, 'dup', input, now, now + 10)).replayed, true)
    }
    assert.equal(a.digest(), b.digest(), 'replays wrote nothing')
  } finally {
    await a.stop()
    await b.stop()
  }
})

test('long idempotency keys are stored under a bounded id; keys differing in one character stay distinct', async () => {
  const long = 'k'.repeat(127)
  const a = await record({ subject: { type: 'model', id: 'idem-long' }, amounts: { tokens_in: 2 }, idempotency_key: long + 'a', at: d.clock.now })
  const b = await record({ subject: { type: 'model', id: 'idem-long' }, amounts: { tokens_in: 3 }, idempotency_key: long + 'b', at: d.clock.now })
  assert.equal(a.body.replayed, false, a.text)
  assert.equal(b.body.replayed, false, b.text)
  assert.equal((await record({ subject: { type: 'model', id: 'idem-long' }, amounts: { tokens_in: 3 }, idempotency_key: long + 'b', at: d.clock.now })).body.replayed, true)
  assert.equal(await tokensIn('idem-long'), 5)
  const ids = (d.node.store.fieldValue(`acct/${account}`, USAGE_KEYS_FIELD) as Array<[string, unknown]>).map(([id]) => id)
  // Each is this node's copy `<key id>@<replica>` (crdt/hmap.ts), the key id bounded.
  assert.ok(ids.every((id) => id.endsWith(`@${d.node.store.replicaId}`) && id.lastIndexOf('@') <= 22), ids.join())
  assert.ok(!ids.includes(long + 'a'), 'the long key itself is not stored')
})

test('a retry of a recorded call whose `at` has since aged past the 7-day window is still a replay; new or different bodies there are 400s', async () => {
  const DAY = 86_400_000
  const at = d.clock.now - 6.5 * DAY // within the window when first sent
  const body = { subject: { type: 'model', id: 'idem-old' }, amounts: { tokens_in: 9 }, idempotency_key: 'late-retry', at }
  const first = await record(body)
  assert.equal(first.status, 200, first.text)
  assert.equal(first.body.replayed, false)
  d.clock.now += DAY // the response was lost; the client retries a day later
  try {
    const digest = d.node.store.digest()
    const again = await record(body)
    assert.equal(again.status, 200, again.text)
    assert.equal(again.body.replayed, true)
    assert.equal(again.body.at, at)
    assert.equal(again.headers.get('idempotent-replayed'), 'true')
    // Not a replay: the window still applies.
    assertProblem(await record({ ...body, amounts: { tokens_in: 10 } }), 400, 'invalid_field', 'at')
    assertProblem(await record({ ...body, idempotency_key: 'late-new' }), 400, 'invalid_field', 'at')
    const { idempotency_key: _k, ...unkeyed } = body
    assertProblem(await record(unkeyed), 400, 'invalid_field', 'at')
    assert.equal(d.node.store.digest(), digest, 'nothing was written')
  } finally {
    d.clock.now -= DAY
  }
})
