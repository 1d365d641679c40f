// Accounts routes on a real devnet: creation (idempotent, also concurrently), /accounts/me,
// /accounts/:id tenancy (another project and an unknown id look the same).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { viewOf } from '../../src/api/routes/accounts.ts'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import { ADMIN, DEVELOPER, OTHER_PROJECT, startTestDevnet, USER, type TestDevnet } from './devnet-helpers.ts'
import { assertProblem } from './problem.ts'

let d: TestDevnet
let admin: string, dev: string, user: string, otherAdmin: string

before(async () => {
  d = await startTestDevnet()
  admin = await d.token(ADMIN, 'admin')
  dev = await d.token(DEVELOPER, 'developer')
  user = await d.token(USER, 'user')
  otherAdmin = await d.token('boss@other', 'admin', OTHER_PROJECT)
})
after(async () => { await d.close() })

const included = DEFAULT_BILLING_CONFIG.tiers.free.included_credits

test('GET /accounts/me before POST /accounts is a 404 that points at POST /accounts', async () => {
  const t = await d.token('newbie@demo', 'user')
  const r = await d.call({ token: t }, 'GET', '/accounts/me')
  assertProblem(r, 404, 'not_found')
  assert.deepEqual(r.body.hint, { method: 'POST', path: '/accounts' })
  // and the billing reads of the own account say the same
  assertProblem(await d.call({ token: t }, 'GET', '/billing/credits'), 404, 'not_found')
})

test('POST /accounts: 201 the first time, 200 with the same body after; included credits once', async () => {
  const t = await d.token('fresh@demo', 'developer')
  const digest0 = d.node.store.digest()
  const first = await d.call({ token: t }, 'POST', '/accounts')
  assert.equal(first.status, 201, first.text)
  assert.equal(first.body.id, d.accountOf('fresh@demo'))
  assert.equal(first.body.project_id, 'proj_demo')
  assert.equal(first.body.owner, 'fresh@demo')
  assert.equal(first.body.tier, 'free')
  assert.equal(first.body.status, 'active')
  assert.deepEqual(first.body.credits, { balance: included, granted: included, spent: 0 })
  assert.deepEqual(first.body.agents, { hired: [], used: 0, available: DEFAULT_BILLING_CONFIG.tiers.free.agent_slots })
  assert.deepEqual(first.body.api_keys, { count: 0, limit: DEFAULT_BILLING_CONFIG.tiers.free.api_key_limit })
  assert.notEqual(d.node.store.digest(), digest0)

  const digest1 = d.node.store.digest()
  const again = await d.call({ token: t }, 'POST', '/accounts')
  assert.equal(again.status, 200)
  assert.deepEqual(again.body, first.body)
  assert.equal(d.node.store.digest(), digest1, 'a second create changes nothing')

  const me = await d.call({ token: t }, 'GET', '/accounts/me')
  assert.equal(me.status, 200)
  assert.deepEqual(me.body, first.body)
})

test('POST /accounts sent concurrently creates one account and grants the included credits once', async () => {
  const t = await d.token('racer@demo', 'user')
  const replies = await Promise.all(Array.from({ length: 8 }, () => d.call({ token: t }, 'POST', '/accounts')))
  assert.deepEqual(replies.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 200, 200, 201])
  assert.equal(new Set(replies.map((r) => r.body.id)).size, 1)
  const me = await d.call({ token: t }, 'GET', '/accounts/me')
  assert.equal(me.body.credits.balance, included)
  assert.equal(me.body.credits.granted, included)
})

test('POST /accounts takes no body and refuses API-key and service callers', async () => {
  const digest = d.node.store.digest()
  assertProblem(await d.call({ token: user }, 'POST', '/accounts', { body: { plan: 'pro' } }), 400, 'unknown_field', 'plan')
  assertProblem(await d.call({ service: true }, 'POST', '/accounts'), 403, 'forbidden')
  assertProblem(await d.call({ none: true }, 'POST', '/accounts'), 401, 'unauthenticated')
  assert.equal(d.node.store.digest(), digest)
})

test('GET /accounts/:id: own account, project admin, service; users only their own', async () => {
  const userId = d.accountOf(USER)
  const own = await d.call({ token: user }, 'GET', `/accounts/${userId}`)
  assert.equal(own.status, 200)
  assert.equal(own.body.owner, USER)
  assert.equal((await d.call({ token: admin }, 'GET', `/accounts/${userId}`)).body.id, userId)
  assert.equal((await d.call({ service: true }, 'GET', `/accounts/${userId}`)).body.id, userId)
  assertProblem(await d.call({ token: dev }, 'GET', `/accounts/${userId}`), 403, 'forbidden')
  assertProblem(await d.call({ token: user }, 'GET', `/accounts/${d.accountOf(ADMIN)}`), 403, 'forbidden')
})

test('GET /accounts/:id from another project: the same 403 for an existing and an unknown id', async () => {
  assert.equal((await d.call({ token: otherAdmin }, 'POST', '/accounts')).status, 201)
  const existing = await d.call({ token: otherAdmin }, 'GET', `/accounts/${d.accountOf(USER)}`)
  const unknown = await d.call({ token: otherAdmin }, 'GET', `/accounts/acc_${'0'.repeat(24)}`)
  assertProblem(existing, 403, 'wrong_project')
  assertProblem(unknown, 403, 'wrong_project')
  const strip = (b: Record<string, unknown>): Record<string, unknown> => { const { request_id: _r, ...rest } = b; return rest }
  assert.deepEqual(strip(existing.body), strip(unknown.body), 'nothing tells the two apart')
  // the same-project admin also cannot probe ids: unknown is 403 too
  assertProblem(await d.call({ token: admin }, 'GET', `/accounts/acc_${'1'.repeat(24)}`), 403, 'wrong_project')
  // and the other project's admin reads its own project's account
  assert.equal((await d.call({ token: otherAdmin }, 'GET', `/accounts/${d.accountOf('boss@other', OTHER_PROJECT)}`)).status, 200)
})

test('GET /accounts/:id: services see unknown ids as 404 and are held to a declared project', async () => {
  assertProblem(await d.call({ service: true }, 'GET', `/accounts/acc_${'2'.repeat(24)}`), 404, 'not_found', 'account_id')
  assertProblem(await d.call({ service: true, projectId: OTHER_PROJECT }, 'GET', `/accounts/${d.accountOf(USER)}`), 403, 'wrong_project')
  assert.equal((await d.call({ service: true, projectId: 'proj_demo' }, 'GET', `/accounts/${d.accountOf(USER)}`)).status, 200)
})

test('GET /accounts/:id with a malformed id is a 400 naming the field', async () => {
  assertProblem(await d.call({ token: admin }, 'GET', '/accounts/not-an-id'), 400, 'invalid_field', 'id')
  assertProblem(await d.call({ token: admin }, 'GET', `/accounts/acc_${'G'.repeat(24)}`), 400, 'invalid_field', 'id')
})

test('an X-Project-Id header that differs from the token is refused', async () => {
  assertProblem(await d.call({ token: user }, 'GET', '/accounts/me', { headers: { 'x-project-id': OTHER_PROJECT } }), 403, 'wrong_project')
})

test('the key count comes from the injected activeKeyCount (0 without one)', () => {
  const id = d.accountOf(USER)
  assert.equal(viewOf(d.node.store, DEFAULT_BILLING_CONFIG, {}, id).api_keys.count, 0)
  const seen: string[] = []
  const v = viewOf(d.node.store, DEFAULT_BILLING_CONFIG, { activeKeyCount: (a) => { seen.push(a); return 3 } }, id)
  assert.equal(v.api_keys.count, 3)
  assert.deepEqual(seen, [id])
})
