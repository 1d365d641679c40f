// The role × route matrix of the catalog, metered-call and Stripe webhook routes on a real
// devnet: every route against admin, developer and user of the seed project, an admin of
// another project, a service, an API key (all scopes), a user token scoped to usage:read,
// no credentials, a forged token and an unknown API key. Refused calls must be
// problem+json with the expected code and leave the state digest unchanged. The matrix
// must cover every such route the served OpenAPI document lists.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { ADMIN, DEVELOPER, OTHER_PROJECT, startTestDevnet, USER, type Caller, type TestDevnet } from './devnet-helpers.ts'
import { assertProblem } from './problem.ts'

const WHO = ['admin', 'developer', 'user', 'other_project_admin', 'service', 'api_key', 'scoped_token', 'no_credentials', 'forged_token', 'unknown_api_key'] as const
type Who = (typeof WHO)[number]
type Expect = number | readonly [number, string]

interface Case {
  method: string
  /** The route as declared (OpenAPI path). */
  route: string
  path: string
  body?: (who: Who, n: number) => unknown
  expect: Record<Who, Expect>
}

let d: TestDevnet
const callers = {} as Record<Who, Caller>
let seq = 0

before(async () => {
  d = await startTestDevnet()
  const valid = await d.token(USER, 'user')
  const sig = valid.slice(valid.lastIndexOf('.') + 1)
  const forged = valid.slice(0, valid.lastIndexOf('.') + 1) + (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1)
  // The API key belongs to an account of its own, so its hires do not meet the user's.
  const holder = { token: await d.token('keyholder@demo', 'user') }
  assert.equal((await d.call(holder, 'POST', '/accounts')).status, 201)
  const key = await d.call(holder, 'POST', '/api-keys/create', { body: { name: 'matrix', scopes: ['models:invoke', 'agents:invoke', 'agents:hire', 'usage:read'] } })
  assert.equal(key.status, 201, key.text)
  Object.assign(callers, {
    admin: { token: await d.token(ADMIN, 'admin') },
    developer: { token: await d.token(DEVELOPER, 'developer') },
    user: { token: valid },
    other_project_admin: { token: await d.token('boss@other', 'admin', OTHER_PROJECT) },
    service: { service: true },
    api_key: { bearer: key.body.key },
    scoped_token: { token: await d.token(USER, 'user', undefined, 'usage:read') },
    no_credentials: { none: true },
    forged_token: { bearer: forged },
    unknown_api_key: { bearer: 'fs_test_' + 'a'.repeat(40) },
  } satisfies Record<Who, Caller>)
  assert.equal((await d.call(callers.other_project_admin, 'POST', '/accounts')).status, 201)
})
after(async () => { await d.close() })

const UNAUTH = { forged_token: [401, 'invalid_token'], unknown_api_key: [401, 'invalid_api_key'] } as const
/** Public reads: anyone, with or without credentials; bad credentials are still refused. */
const READ: Record<Who, Expect> = { admin: 200, developer: 200, user: 200, other_project_admin: 200, service: 200, api_key: 200, scoped_token: 200, no_credentials: 200, ...UNAUTH }
const CREATE: Record<Who, Expect> = {
  admin: 201, developer: 201, user: [403, 'forbidden'], other_project_admin: 201, service: [400, 'invalid_field'],
  api_key: [403, 'forbidden'], scoped_token: [403, 'forbidden'], no_credentials: [401, 'unauthenticated'], ...UNAUTH,
}
const PATCH: Record<Who, Expect> = { ...CREATE, admin: 200, developer: 200, other_project_admin: [403, 'wrong_project'], service: 200 }
const HISTORY: Record<Who, Expect> = {
  admin: 200, developer: 200, user: 200, other_project_admin: [403, 'wrong_project'], service: 200, api_key: 200, scoped_token: 200,
  no_credentials: [401, 'unauthenticated'], ...UNAUTH,
}
/** Billable calls on the caller's own account: people and keys with the scope. */
const billable = (ok: number): Record<Who, Expect> => ({
  admin: ok, developer: ok, user: ok, other_project_admin: ok, service: [403, 'forbidden'], api_key: ok,
  scoped_token: [403, 'insufficient_scope'], no_credentials: [401, 'unauthenticated'], ...UNAUTH,
})
/** The webhook is public and answers by its secret alone (none here), whatever else is sent. */
const WEBHOOK = Object.fromEntries(WHO.map((w) => [w, [404, 'not_configured']])) as unknown as Record<Who, Expect>

const modelBody = (_w: Who, n: number) => ({ id: `matrix-model-${n}`, name: 'M', pricing: { per_1k_input: 1, per_1k_output: 1 } })
const agentBody = (_w: Who, n: number) => ({ id: `matrix-agent-${n}`, name: 'A', pricing: { per_invocation: 1 } })
const describe = (_w: Who, n: number) => ({ description: `edited ${n}` })

const CASES: Case[] = [
  { method: 'GET', route: '/models', path: '/models', expect: READ },
  { method: 'GET', route: '/models/{id}', path: '/models/gpt-demo', expect: READ },
  { method: 'POST', route: '/models', path: '/models', body: modelBody, expect: CREATE },
  { method: 'PATCH', route: '/models/{id}', path: '/models/gpt-demo', body: describe, expect: PATCH },
  { method: 'GET', route: '/models/{id}/history', path: '/models/gpt-demo/history', expect: HISTORY },
  { method: 'POST', route: '/models/{id}/invoke', path: '/models/gpt-demo/invoke', body: () => ({ input_tokens: 10, output_tokens: 10 }), expect: billable(200) },
  { method: 'GET', route: '/agents', path: '/agents', expect: READ },
  { method: 'GET', route: '/agents/{id}', path: '/agents/summarizer', expect: READ },
  { method: 'POST', route: '/agents', path: '/agents', body: agentBody, expect: CREATE },
  { method: 'PATCH', route: '/agents/{id}', path: '/agents/summarizer', body: describe, expect: PATCH },
  { method: 'GET', route: '/agents/{id}/history', path: '/agents/summarizer/history', expect: HISTORY },
  { method: 'POST', route: '/agents/{id}/hire', path: '/agents/summarizer/hire', expect: billable(201) },
  { method: 'POST', route: '/agents/{id}/invoke', path: '/agents/summarizer/invoke', body: () => ({ operation: 'summarize' }), expect: billable(200) },
  { method: 'DELETE', route: '/agents/{id}/hire', path: '/agents/summarizer/hire', expect: billable(200) },
  { method: 'POST', route: '/billing/webhooks/stripe', path: '/billing/webhooks/stripe', body: () => ({ id: 'evt_1', type: 'invoice.paid' }), expect: WEBHOOK },
]

test('the matrix covers every catalog, metered-call and webhook route the API serves', async () => {
  const doc = (await d.call({ none: true }, 'GET', '/openapi.json')).body
  const served: string[] = []
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    if (!/^\/(models|agents|billing\/webhooks)(\/|$)/.test(path)) continue
    for (const method of Object.keys(ops)) served.push(`${method.toUpperCase()} ${path}`)
  }
  assert.deepEqual(served.sort(), CASES.map((c) => `${c.method} ${c.route}`).sort())
})

/**
 * Digest of everything but API-key entities, after flushing key activity: a request made
 * with a key records its use on the key (last used, per-window usage, audit) whatever the
 * route answers — the keys feature's bookkeeping, not a change made by the route.
 */
async function stateDigest (): Promise<string> {
  await d.node.keys!.activity.flush()
  return [...d.node.store.entityDigests()].filter(([target]) => !target.startsWith('key/')).map(([t, h]) => `${t}=${h}`).join('\n')
}

// Cases run in order (hire before invoke before release), each caller once per route.
for (const c of CASES) {
  test(`${c.method} ${c.route}`, async () => {
    for (const who of WHO) {
      const want = c.expect[who]
      const [status, code] = typeof want === 'number' ? [want, undefined] : want
      const before = await stateDigest()
      const r = await d.call(callers[who], c.method, c.path, c.body !== undefined ? { body: c.body(who, ++seq) } : {})
      if (code !== undefined) {
        assertProblem(r, status, code)
        assert.equal(await stateDigest(), before, `${who}: a refused call changes nothing`)
      } else {
        assert.equal(r.status, status, `${who}: ${r.text}`)
      }
    }
  })
}
