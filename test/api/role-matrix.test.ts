// The role × route matrix of the account, billing and usage routes on a real devnet: every
// route against admin, developer, user (same project), an admin of another project, a
// service, no credentials, a forged token and an unknown API key. Refused calls must be
// problem+json with the expected code and leave the state digest unchanged.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { RouteTable } from '../../src/api/openapi.ts'
import { registerAccountRoutes } from '../../src/api/routes/accounts.ts'
import { registerBillingRoutes } from '../../src/api/routes/billing.ts'
import { registerUsageRoutes } from '../../src/api/routes/usage.ts'
import { createLogger } from '../../src/log.ts'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import { ADMIN, DEVELOPER, OTHER_PROJECT, startTestDevnet, USER, type Caller, type TestDevnet } from './devnet-helpers.ts'
import { assertProblem } from './problem.ts'

const WHO = ['admin', 'developer', 'user', 'other_project_admin', 'service', 'no_credentials', 'forged_token', 'unknown_api_key'] as const
type Who = (typeof WHO)[number]
/** A status, or a status and the problem code. */
type Expect = number | readonly [number, string]

interface Case {
  method: string
  /** The route as declared (to check the matrix covers every route). */
  route: string
  path: () => string
  body?: (who: Who, n: number) => unknown
  expect: Record<Who, Expect>
}

let d: TestDevnet
const callers = {} as Record<Who, Caller>
let userId: string
let seq = 0

before(async () => {
  d = await startTestDevnet()
  userId = d.accountOf(USER)
  const admin = await d.token(ADMIN, 'admin')
  const other = await d.token('boss@other', 'admin', OTHER_PROJECT)
  const valid = await d.token(USER, 'user')
  // Flip one character of the signature: a well-formed token that does not verify.
  const sig = valid.slice(valid.lastIndexOf('.') + 1)
  const forged = valid.slice(0, valid.lastIndexOf('.') + 1) + (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1)
  Object.assign(callers, {
    admin: { token: admin },
    developer: { token: await d.token(DEVELOPER, 'developer') },
    user: { token: valid },
    other_project_admin: { token: other },
    service: { service: true },
    no_credentials: { none: true },
    forged_token: { bearer: forged },
    unknown_api_key: { bearer: 'fs_test_' + 'a'.repeat(40) },
  } satisfies Record<Who, Caller>)
  assert.equal((await d.call(callers.other_project_admin, 'POST', '/accounts')).status, 201)
})
after(async () => { await d.close() })

const UNAUTH = { no_credentials: [401, 'unauthenticated'], forged_token: [401, 'invalid_token'], unknown_api_key: [401, 'invalid_api_key'] } as const
/** Reads of the seed user's account. */
const READ: Record<Who, Expect> = { admin: 200, developer: [403, 'forbidden'], user: 200, other_project_admin: [403, 'wrong_project'], service: 200, ...UNAUTH }
/** Writes on the seed user's account. */
const write = (ok: number): Record<Who, Expect> => ({ admin: ok, developer: [403, 'forbidden'], user: [403, 'forbidden'], other_project_admin: [403, 'wrong_project'], service: ok, ...UNAUTH })
const OWN: Record<Who, Expect> = { admin: 200, developer: 200, user: 200, other_project_admin: 200, service: [403, 'forbidden'], ...UNAUTH }

const q = (): string => `?account_id=${userId}`
const CASES: Case[] = [
  { method: 'POST', route: '/accounts', path: () => '/accounts', expect: OWN },
  { method: 'GET', route: '/accounts/me', path: () => '/accounts/me', expect: OWN },
  { method: 'GET', route: '/accounts/:id', path: () => `/accounts/${userId}`, expect: READ },
  { method: 'GET', route: '/billing/subscription', path: () => `/billing/subscription${q()}`, expect: READ },
  {
    method: 'POST', route: '/billing/subscription', path: () => '/billing/subscription', expect: write(200),
    body: (_w, n) => ({ account_id: userId, tier: 'pro', status: 'active', event_time: 1_700_000_000_000 + n }),
  },
  {
    method: 'POST', route: '/billing/checkout/process', path: () => '/billing/checkout/process', expect: write(201),
    body: (w, n) => ({ account_id: userId, checkout_session_id: `cs_${w}_${n}`, credits: 10 }),
  },
  {
    method: 'POST', route: '/billing/credits/add', path: () => '/billing/credits/add', expect: write(201),
    body: (w, n) => ({ account_id: userId, amount: 5, idempotency_key: `k_${w}_${n}`, reason: 'matrix' }),
  },
  { method: 'GET', route: '/billing/credits', path: () => `/billing/credits${q()}`, expect: READ },
  { method: 'GET', route: '/billing/credits/transactions', path: () => `/billing/credits/transactions${q()}`, expect: READ },
  { method: 'GET', route: '/billing/usage', path: () => `/billing/usage${q()}`, expect: READ },
  { method: 'GET', route: '/usage/stats', path: () => `/usage/stats${q()}`, expect: READ },
  { method: 'GET', route: '/usage/forecast', path: () => `/usage/forecast${q()}`, expect: READ },
]

test('the matrix covers every route the account, billing and usage files register', () => {
  const table = new RouteTable()
  const deps = { store: d.node.store, billing: DEFAULT_BILLING_CONFIG, log: createLogger({ level: 'silent' }), now: Date.now, mode: 'devnet' as const }
  registerAccountRoutes(table, deps)
  registerBillingRoutes(table, deps)
  registerUsageRoutes(table, deps)
  const declared = table.routes().map((r) => `${r.method} ${r.path}`).sort()
  assert.deepEqual(CASES.map((c) => `${c.method} ${c.route}`).sort(), declared)
})

for (const c of CASES) {
  test(`${c.method} ${c.route} × every caller`, async () => {
    for (const who of WHO) {
      const digest = d.node.store.digest()
      const r = await d.call(callers[who], c.method, c.path(), c.body !== undefined ? { body: c.body(who, ++seq) } : {})
      const e = c.expect[who]
      const [status, code] = typeof e === 'number' ? [e, undefined] : e
      if (code !== undefined) {
        assertProblem(r, status, code)
        assert.equal(d.node.store.digest(), digest, `${who}: a refused call changes nothing`)
      } else {
        assert.equal(r.status, status, `${who} ${c.method} ${c.path()}: ${r.text}`)
        assert.match(r.type, /^application\/json/)
      }
    }
  })
}
