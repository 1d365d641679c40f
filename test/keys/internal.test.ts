// Service-to-service routes on a real devnet: /internal/keys/validate answers each distinct
// code, only to service credentials; /internal/usage/record lands in the account's usage;
// every service call is audited with the service's name and the account it acts for.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { generateApiKey } from '../../src/auth/api-key-format.ts'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import { SERVICE, startKeysDevnet, USER, type KeysDevnet } from './helpers.ts'

let d: KeysDevnet
let jwt: string

before(async () => {
  // Free: fast. Pro: burst 3 and a slow refill, so RATE_LIMITED is reachable in a few calls
  // once the account is moved to pro.
  d = await startKeysDevnet({
    billing: {
      tiers: {
        free: { rate_limit: { per_second: 100_000, burst: 100_000 }, api_key_limit: 50 },
        pro: { rate_limit: { per_second: 0.01, burst: 3 }, api_key_limit: 50 },
      },
    },
  })
  jwt = await d.token(USER)
})
after(async () => { await d.close() })

async function validate (body: unknown, headers: Record<string, string> = {}): Promise<any> {
  const r = await d.service('POST', '/internal/keys/validate', body, headers)
  assert.equal(r.status, 200, r.text)
  return r.body
}

test('validate: VALID with the key\'s account, project, scopes, rate limit and credits', async () => {
  const k = await d.createKey(jwt, ['models:invoke', 'usage:read'])
  const v = await validate({ api_key: k.key, scope: 'models:invoke', cost: 10 })
  assert.equal(v.valid, true)
  assert.equal(v.code, 'VALID')
  assert.equal(v.key_id, k.id)
  assert.equal(v.account_id, d.accountOf(USER))
  assert.equal(v.project_id, 'proj_demo')
  assert.deepEqual(v.scopes, ['models:invoke', 'usage:read'])
  assert.equal(v.ratelimit.limit, 100_000)
  assert.equal(v.credits_remaining, DEFAULT_BILLING_CONFIG.tiers.free.included_credits)
  const audit = d.logLines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'service call' && l.key_id === k.id)
  assert.equal(audit.length, 1)
  assert.equal(audit[0].service, SERVICE)
  assert.equal(audit[0].acting_for, d.accountOf(USER))
  assert.equal(audit[0].code, 'VALID')
})

test('validate: NOT_FOUND, REVOKED, EXPIRED, FORBIDDEN, INSUFFICIENT_CREDITS, RATE_LIMITED', async () => {
  assert.equal((await validate({ api_key: 'garbage' })).code, 'NOT_FOUND')
  const unknown = await validate({ api_key: generateApiKey('test').display })
  assert.deepEqual(unknown, { valid: false, code: 'NOT_FOUND', key_id: null, account_id: null, project_id: null, scopes: null, ratelimit: null, credits_remaining: null })

  const revoked = await d.createKey(jwt, ['usage:read'])
  await d.as(jwt, 'DELETE', `/api-keys/${revoked.id}`)
  const rv = await validate({ api_key: revoked.key })
  assert.equal(rv.code, 'REVOKED')
  assert.equal(rv.valid, false)
  assert.equal(rv.key_id, revoked.id)

  const expiring = await d.createKey(jwt, ['usage:read'], { expires_at: d.clock.now + 1000 })
  d.clock.now += 1001
  assert.equal((await validate({ api_key: expiring.key })).code, 'EXPIRED')

  const k = await d.createKey(jwt, ['usage:read'])
  assert.equal((await validate({ api_key: k.key, scope: 'agents:hire' })).code, 'FORBIDDEN')
  // A service acting for another project may not use this project's keys.
  assert.equal((await validate({ api_key: k.key }, { 'x-project-id': 'proj_other' })).code, 'FORBIDDEN')
  const poor = await validate({ api_key: k.key, cost: 10_000_000 })
  assert.equal(poor.code, 'INSUFFICIENT_CREDITS')
  assert.equal(poor.credits_remaining, DEFAULT_BILLING_CONFIG.tiers.free.included_credits)
  // Pro here: burst 3. One used by the next check, two more pass, then limited.
  d.clock.now += 1
  await d.setTier(USER, 'pro')
  const poorPro = await validate({ api_key: k.key, cost: 10_000_000 })
  assert.equal(poorPro.code, 'INSUFFICIENT_CREDITS')
  assert.equal(poorPro.ratelimit.limit, 3)
  const codes = []
  for (let i = 0; i < 4; i++) codes.push((await validate({ api_key: k.key })).code)
  assert.deepEqual(codes, ['VALID', 'VALID', 'RATE_LIMITED', 'RATE_LIMITED'])
  const limited = await validate({ api_key: k.key })
  assert.equal(limited.ratelimit.remaining, 0)
  assert.ok(limited.ratelimit.reset >= 1)
  // The same bucket limits the key's direct use of the API.
  assert.equal((await d.req('GET', '/usage/stats', { 'x-api-key': k.key })).status, 429)
  d.clock.now += 1
  await d.setTier(USER, 'free')
})

test('validate and usage/record are for services only; bad service credentials are 401', async () => {
  const k = await d.createKey(jwt, ['usage:read'])
  const asUser = await d.as(jwt, 'POST', '/internal/keys/validate', { api_key: k.key })
  assert.equal(asUser.status, 403)
  const asKey = await d.req('POST', '/internal/usage/record', { 'x-api-key': k.key, 'content-type': 'application/json' }, { account_id: d.accountOf(USER), subject: { type: 'model', id: 'm' }, amounts: { requests: 1 } })
  assert.equal(asKey.status, 403)
  const wrong = await d.req('POST', '/internal/keys/validate', { authorization: 'Bearer not-the-secret-at-all', 'x-service-name': SERVICE }, { api_key: k.key })
  assert.equal(wrong.status, 401)
  assert.equal(wrong.body.code, 'invalid_service_credentials')
})

test('usage/record adds to the account\'s usage windows, audited with the service name', async () => {
  const account = d.accountOf(USER)
  const r = await d.service('POST', '/internal/usage/record', { account_id: account, subject: { type: 'model', id: 'gpt-x' }, amounts: { tokens_in: 120, tokens_out: 40, requests: 1 } })
  assert.equal(r.status, 200, r.text)
  await d.service('POST', '/internal/usage/record', { account_id: account, subject: { type: 'model', id: 'gpt-x' }, amounts: { tokens_in: 30 } })
  const stats = await d.service('GET', `/usage/stats?account_id=${account}`)
  assert.equal(stats.status, 200, stats.text)
  const model = stats.body.models.find((m: any) => m.model === 'gpt-x')
  assert.equal(model.metrics.tokens_in, 150)
  assert.equal(model.metrics.tokens_out, 40)
  const audit = d.logLines.map((l) => JSON.parse(l)).filter((l) => l.action === 'POST /internal/usage/record')
  assert.equal(audit.length, 2)
  assert.equal(audit[0].service, SERVICE)
  assert.equal(audit[0].account_id, account)
  // Bad input: 400 naming the field, nothing recorded.
  const digest = d.node.store.digest()
  const bad = await d.service('POST', '/internal/usage/record', { account_id: account, subject: { type: 'model', id: 'gpt-x' }, amounts: { 'tokens/in': 1 } })
  assert.equal(bad.status, 400)
  const missing = await d.service('POST', '/internal/usage/record', { account_id: 'acc_000000000000000000000000', subject: { type: 'model', id: 'x' }, amounts: { requests: 1 } })
  assert.equal(missing.status, 404)
  assert.equal(d.node.store.digest(), digest)
})
