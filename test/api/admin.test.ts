// Operator inspection routes on a real devnet: who may call them, their shapes, the op log
// reflecting writes, per-replica state of an account, digests pagination, bad input.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { ADMIN, DEVELOPER, OTHER_PROJECT, startTestDevnet, USER, type Caller, type TestDevnet } from './devnet-helpers.ts'
import { assertProblem } from './problem.ts'

let d: TestDevnet
let admin: Caller
let userId: string

before(async () => {
  d = await startTestDevnet()
  admin = { token: await d.token(ADMIN, 'admin') }
  userId = d.accountOf(USER)
})
after(async () => { await d.close() })

const ROUTES = () => ['/admin/replica', `/admin/replica/accounts/${userId}`, `/admin/replica/entity?target=acct/${userId}`, '/admin/replica/ops', '/admin/replica/digests']

test('role matrix: operator admin and service 200; other-project admin, developer, user 403; no credentials 401', async () => {
  const callers: Array<[string, Caller, number, string?]> = [
    ['admin', admin, 200],
    ['other project admin (not an operator project)', { token: await d.token('boss@other', 'admin', OTHER_PROJECT) }, 403, 'forbidden'],
    ['service', { service: true }, 200],
    ['developer', { token: await d.token(DEVELOPER, 'developer') }, 403, 'forbidden'],
    ['user', { token: await d.token(USER, 'user') }, 403, 'forbidden'],
    ['no token', { none: true }, 401, 'unauthenticated'],
    ['unknown api key', { bearer: 'fs_test_' + 'a'.repeat(40) }, 401, 'invalid_api_key'],
  ]
  for (const path of ROUTES()) {
    for (const [who, caller, status, code] of callers) {
      const r = await d.call(caller, 'GET', path)
      if (code === undefined) assert.equal(r.status, 200, `${who} ${path}: ${r.text}`)
      else assertProblem(r, status, code)
    }
  }
})

test('GET /admin/replica on a devnet: no replication, reader n/a, vector and digest of this replica', async () => {
  const r = await d.call(admin, 'GET', '/admin/replica')
  assert.equal(r.status, 200, r.text)
  const b = r.body
  assert.equal(b.node.replica_id, d.node.store.replicaId)
  assert.equal(b.node.peer_id, null)
  assert.equal(b.node.mode, 'devnet')
  assert.equal(b.replication, 'absent')
  assert.equal(b.queue_reader, 'n/a')
  assert.deepEqual(b.peers, [])
  assert.deepEqual(b.members, [{ id: d.node.store.replicaId, via: 'self', connected: true, self: true, last_seen: b.time }])
  assert.equal(b.version_vector[d.node.store.replicaId], d.node.store.versionVector().get(d.node.store.replicaId))
  assert.equal(b.digest, d.node.store.digest())
  assert.equal(b.op_log.length, d.node.store.logLength())
  assert.deepEqual(b.gaps, [])
  assert.deepEqual(b.rejected, {})
  assert.equal(b.gossip, null)
  // digest=false skips the whole-state hash
  const light = await d.call(admin, 'GET', '/admin/replica?digest=false')
  assert.equal(light.body.digest, null)
})

test('a write shows up in the op log, the vector, the digest and the account\'s per-replica state', async () => {
  const me = d.node.store.replicaId
  const before = (await d.call(admin, 'GET', '/admin/replica')).body
  const seq0 = before.version_vector[me] as number
  const grant = await d.call(admin, 'POST', '/billing/credits/add', { body: { account_id: userId, amount: 77, idempotency_key: 'admin-test-1', reason: 'test' } })
  assert.equal(grant.status, 201, grant.text)

  const now = (await d.call(admin, 'GET', '/admin/replica')).body
  assert.ok(now.version_vector[me] > seq0)
  assert.notEqual(now.digest, before.digest)
  assert.ok(now.op_log.length > before.op_log.length)

  const ops = await d.call(admin, 'GET', `/admin/replica/ops?origin=${me}&after=${seq0}`)
  assert.equal(ops.status, 200, ops.text)
  assert.ok(ops.body.ops.length >= 1)
  assert.deepEqual(ops.body.ops.map((o: { seq: number }) => o.seq), Array.from({ length: ops.body.ops.length }, (_, i) => seq0 + 1 + i))
  const op = ops.body.ops.find((o: { target: string }) => o.target === `acct/${userId}`)
  assert.ok(op !== undefined, JSON.stringify(ops.body.ops))
  assert.equal(op.origin, me)
  const credits = op.changes.find((c: { field: string }) => c.field === 'credits')
  assert.ok(credits !== undefined)
  assert.equal(credits.kind, 'pncounter.v1')
  assert.match(JSON.stringify(credits.delta), /admin-test-1/)

  const acct = await d.call(admin, 'GET', `/admin/replica/accounts/${userId}`)
  assert.equal(acct.status, 200, acct.text)
  assert.equal(acct.body.account.target, `acct/${userId}`)
  const c = acct.body.account.fields.credits
  assert.equal(c.kind, 'pncounter.v1')
  // The grant is a P entry under its idempotency key, contributed once.
  const grantEntry = Object.entries(c.state.p as Record<string, number>).find(([k]) => k.includes('admin-test-1'))
  assert.deepEqual(grantEntry?.[1], 77)
  assert.equal(c.value, c.state.value)
  // An LWW register shows its timestamp and writer.
  const owner = acct.body.account.fields.owner
  assert.equal(owner.value, USER)
  assert.equal(typeof owner.state.t.wall, 'number')
  assert.equal(typeof owner.state.r, 'string')
  assert.equal(acct.body.account.digest, d.node.store.entityDigests(`acct/${userId}`).get(`acct/${userId}`))
  const entity = await d.call(admin, 'GET', `/admin/replica/entity?target=${encodeURIComponent(`acct/${userId}`)}`)
  assert.deepEqual(entity.body, acct.body.account)
})

test('ops without origin list every origin from the start; limit bounds the page and next continues it', async () => {
  const all = await d.call(admin, 'GET', '/admin/replica/ops?limit=3')
  assert.equal(all.status, 200, all.text)
  assert.equal(all.body.ops.length, 3)
  const last = all.body.ops[2]
  assert.deepEqual(all.body.next, { origin: last.origin, after: last.seq })
  const page2 = await d.call(admin, 'GET', `/admin/replica/ops?origin=${last.origin}&after=${last.seq}&limit=2`)
  assert.equal(page2.body.ops[0].seq, last.seq + 1)
  const tail = await d.call(admin, 'GET', `/admin/replica/ops?origin=${last.origin}&after=${d.node.store.versionVector().get(last.origin)}`)
  assert.deepEqual(tail.body, { ops: [], next: null })
})

test('bad ops / digests / accounts input is a 400 naming the field; unknown account 404', async () => {
  const bad: Array<[string, string, string]> = [
    ['/admin/replica/ops?limit=0', 'invalid_field', 'limit'],
    ['/admin/replica/ops?limit=100000', 'invalid_field', 'limit'],
    ['/admin/replica/ops?limit=abc', 'invalid_field', 'limit'],
    ['/admin/replica/ops?origin=x&after=-1', 'invalid_field', 'after'],
    ['/admin/replica/ops?after=3', 'invalid_field', 'after'],
    ['/admin/replica/ops?origin=a%20b', 'invalid_field', 'origin'],
    ['/admin/replica/ops?frob=1', 'unknown_field', 'frob'],
    ['/admin/replica/digests?limit=100001', 'invalid_field', 'limit'],
    ['/admin/replica?digest=maybe', 'invalid_field', 'digest'],
    ['/admin/replica/accounts/not-an-id', 'invalid_field', 'id'],
    ['/admin/replica/entity', 'invalid_field', 'target'],
  ]
  for (const [path, code, field] of bad) assertProblem(await d.call(admin, 'GET', path), 400, code, field)
  assertProblem(await d.call(admin, 'GET', `/admin/replica/accounts/acc_${'0'.repeat(24)}`), 404, 'not_found')
  assertProblem(await d.call(admin, 'GET', '/admin/replica/entity?target=nope/1'), 404, 'not_found', 'target')
})

test('digests: sorted, paginated with after/next, prefix filters, whole-state digest included', async () => {
  const first = await d.call(admin, 'GET', '/admin/replica/digests?limit=2')
  assert.equal(first.status, 200, first.text)
  assert.equal(first.body.digest, d.node.store.digest())
  assert.equal(first.body.total, d.node.store.targets().length)
  assert.equal(first.body.entities.length, 2)
  assert.equal(first.body.next, first.body.entities[1].target)
  const seen: string[] = []
  let next: string | null = null
  let pages = 0
  do {
    const q: string = next === null ? '' : `&after=${encodeURIComponent(next)}`
    const r = await d.call(admin, 'GET', `/admin/replica/digests?limit=5${q}`)
    seen.push(...r.body.entities.map((e: { target: string }) => e.target))
    if (next !== null) assert.equal(r.body.digest, null, 'whole-state digest on the first page only')
    next = r.body.next
    assert.ok(++pages < 1000)
  } while (next !== null)
  assert.deepEqual(seen, d.node.store.targets())
  const accts = await d.call(admin, 'GET', '/admin/replica/digests?prefix=acct/&limit=10000')
  assert.ok(accts.body.entities.length > 0)
  assert.ok(accts.body.entities.every((e: { target: string }) => e.target.startsWith('acct/')))
  const mine = accts.body.entities.find((e: { target: string }) => e.target === `acct/${userId}`)
  assert.equal(mine.digest, d.node.store.entityDigests(`acct/${userId}`).get(`acct/${userId}`))
})

test('an account\'s API keys are shown with their raw state; the secret hash never is (entity, account, ops)', async () => {
  const userJwt = await d.token(USER, 'user')
  const created = await d.call({ token: userJwt }, 'POST', '/api-keys/create', { body: { name: 'inspect me', scopes: ['usage:read'] } })
  assert.equal(created.status, 201, created.text)
  const keyId = created.body.id as string
  const hash = d.node.store.fieldValue(`key/${keyId}`, 'hash') as string
  assert.match(hash, /^[0-9a-f]{64}$/)

  const acct = await d.call(admin, 'GET', `/admin/replica/accounts/${userId}`)
  const key = acct.body.keys.find((k: { target: string }) => k.target === `key/${keyId}`)
  assert.ok(key !== undefined, JSON.stringify(acct.body.keys.map((k: { target: string }) => k.target)))
  assert.equal(key.fields.name.value, 'inspect me')
  assert.equal(key.fields.account.value, userId)
  assert.deepEqual(key.fields.hash, { kind: 'lww.v1', value: '[redacted]', state: '[redacted]' })
  const entity = await d.call(admin, 'GET', `/admin/replica/entity?target=key/${keyId}`)
  assert.equal(entity.body.fields.hash.value, '[redacted]')
  const ops = await d.call(admin, 'GET', `/admin/replica/ops?origin=${d.node.store.replicaId}&after=0&limit=1000`)
  assert.match(ops.text, new RegExp(`key/${keyId}`))
  for (const r of [acct, entity, ops]) assert.ok(!r.text.includes(hash), 'hash leaked')
  assert.ok(!ops.text.includes(created.body.key))
})

test('retiring a member: operators only; a devnet has no cluster (404 not_configured); bad input is a 400 naming the field', async () => {
  const path = '/admin/replica/members/12D3KooWSomePeer/retire'
  assertProblem(await d.call({ token: await d.token(USER, 'user') }, 'POST', path, { body: {} }), 403, 'forbidden')
  assertProblem(await d.call({ token: await d.token('boss@other', 'admin', OTHER_PROJECT) }, 'POST', path, { body: {} }), 403, 'forbidden')
  assertProblem(await d.call({ none: true }, 'POST', path, { body: {} }), 401, 'unauthenticated')
  assertProblem(await d.call(admin, 'POST', '/admin/replica/members/a%20b/retire', { body: {} }), 400, 'invalid_field', 'peer_id')
  assertProblem(await d.call(admin, 'POST', path, { body: { force: 'yes' } }), 400, 'invalid_field', 'force')
  assertProblem(await d.call(admin, 'POST', path, { body: { forse: true } }), 400, 'unknown_field', 'forse')
  const before = d.node.store.digest()
  assertProblem(await d.call(admin, 'POST', path, { body: {} }), 404, 'not_configured')
  assertProblem(await d.call({ service: true }, 'POST', path, { body: { force: true } }), 404, 'not_configured')
  assert.equal(d.node.store.digest(), before)
  assert.deepEqual((await d.call(admin, 'GET', '/admin/replica')).body.retired, [])
})
