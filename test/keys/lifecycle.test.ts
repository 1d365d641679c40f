// Key lifecycle over HTTP on a real devnet: create (secret once), list, show, patch, revoke,
// rotate with grace, the tier's active-key limit (402 with an upgrade hint), management by
// a keys:manage key (no scope escalation), audit events and usage; the secret appears in
// no later response and in no log line.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import { FAST_RATE, startKeysDevnet, USER, DEV, ADMIN, type KeysDevnet } from './helpers.ts'

let d: KeysDevnet
const secrets: string[] = []
const bodies: string[] = []

before(async () => { d = await startKeysDevnet({ billing: FAST_RATE }) })
after(async () => { await d.close() })

/** Every answer after creation is kept, so the last test can look for secrets in all of them. */
async function call (cred: string, method: string, path: string, body?: unknown): Promise<any> {
  const r = await d.as(cred, method, path, body)
  bodies.push(r.text)
  return r
}

test('create shows the secret once with a warning; list and show never do', async () => {
  const jwt = await d.token(USER)
  const r = await d.as(jwt, 'POST', '/api-keys/create', { name: 'ci deploy', scopes: ['usage:read', 'keys:manage', 'usage:read'] })
  assert.equal(r.status, 201, r.text)
  assert.match(r.body.key, /^fs_test_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/)
  assert.match(r.body.warning, /only once/)
  assert.deepEqual(r.body.scopes, ['keys:manage', 'usage:read'])
  assert.equal(r.body.status, 'active')
  assert.equal(r.body.prefix, `fs_test_${r.body.id}`)
  assert.equal(r.body.hash, undefined)
  secrets.push(r.body.key)
  const list = await call(jwt, 'GET', '/api-keys')
  assert.equal(list.status, 200)
  assert.equal(list.body.keys.length, 1)
  assert.equal(list.body.keys[0].id, r.body.id)
  assert.equal(list.body.keys[0].key, undefined)
  const one = await call(jwt, 'GET', `/api-keys/${r.body.id}`)
  assert.equal(one.body.name, 'ci deploy')
  assert.equal(one.body.key, undefined)
})

test('bad create input is a 400 naming the field and changes nothing', async () => {
  const jwt = await d.token(USER)
  const digest = d.node.store.digest()
  const cases: Array<[unknown, string]> = [
    [{ name: 'x', scopes: ['root'] }, 'scopes.0'],
    [{ name: 'x', scopes: [] }, 'scopes'],
    [{ name: '', scopes: ['usage:read'] }, 'name'],
    [{ name: 'x', scopes: ['usage:read'], expires_at: d.clock.now - 1 }, 'expires_at'],
    [{ name: 'x', scopes: ['usage:read'], expires_at: 'tomorrow' }, 'expires_at'],
    [{ name: 'x', scopes: ['usage:read'], secret: 'mine' }, 'secret'],
  ]
  for (const [body, field] of cases) {
    const r = await call(jwt, 'POST', '/api-keys/create', body)
    assert.equal(r.status, 400, r.text)
    assert.equal(r.body.field, field, r.text)
  }
  assert.equal(d.node.store.digest(), digest)
})

test('the active-key limit of the tier is a 402 with an upgrade hint; revoking frees a slot', async () => {
  const jwt = await d.token(DEV, 'developer')
  const limit = DEFAULT_BILLING_CONFIG.tiers.free.api_key_limit!
  const ids: string[] = []
  for (let i = 0; i < limit; i++) {
    const r = await call(jwt, 'POST', '/api-keys/create', { name: `k${i}`, scopes: ['usage:read'] })
    assert.equal(r.status, 201)
    ids.push(r.body.id)
  }
  const over = await call(jwt, 'POST', '/api-keys/create', { name: 'one too many', scopes: ['usage:read'] })
  assert.equal(over.status, 402)
  assert.equal(over.body.code, 'api_key_limit_reached')
  assert.equal(over.body.upgrade.tier, 'pro')
  assert.equal(over.body.upgrade.adds.api_key_limit, DEFAULT_BILLING_CONFIG.tiers.pro.api_key_limit)
  // Concurrent creates at the limit: none passes.
  const racing = await Promise.all([1, 2, 3].map(() => call(jwt, 'POST', '/api-keys/create', { name: 'race', scopes: ['usage:read'] })))
  assert.deepEqual(racing.map((r) => r.status), [402, 402, 402])
  // Rotation at the limit works (the old key stops counting), revocation frees a slot.
  assert.equal((await call(jwt, 'POST', `/api-keys/${ids[0]}/rotate`, { grace_seconds: 60 })).status, 201)
  assert.equal((await call(jwt, 'DELETE', `/api-keys/${ids[1]}`)).status, 200)
  const again = await call(jwt, 'POST', '/api-keys/create', { name: 'fits now', scopes: ['usage:read'] })
  assert.equal(again.status, 201)
  // A pro account has the pro limit.
  await d.setTier(DEV, 'pro')
  assert.equal((await call(jwt, 'POST', '/api-keys/create', { name: 'pro', scopes: ['usage:read'] })).status, 201)
  const me = await call(jwt, 'GET', '/accounts/me')
  assert.equal(me.body.api_keys.limit, DEFAULT_BILLING_CONFIG.tiers.pro.api_key_limit)
  assert.equal(me.body.api_keys.count, limit + 1)
})

test('patch edits name, scopes and expiry; a revoked key cannot be edited; revoke is idempotent and immediate', async () => {
  const jwt = await d.token(USER)
  const k = await d.createKey(jwt, ['usage:read'])
  secrets.push(k.key)
  const exp = d.clock.now + 3_600_000
  const p = await call(jwt, 'PATCH', `/api-keys/${k.id}`, { name: 'renamed', scopes: ['billing:read'], expires_at: new Date(exp).toISOString() })
  assert.equal(p.status, 200, p.text)
  assert.equal(p.body.name, 'renamed')
  assert.deepEqual(p.body.scopes, ['billing:read'])
  assert.equal(p.body.expires_at, exp)
  assert.equal((await call(jwt, 'PATCH', `/api-keys/${k.id}`, {})).status, 400)
  assert.equal((await d.req('GET', '/billing/credits', { 'x-api-key': k.key })).status, 200)
  const del = await call(jwt, 'DELETE', `/api-keys/${k.id}`)
  assert.equal(del.body.status, 'revoked')
  // The very next request with the key is refused (no cache, no replication delay).
  assert.equal((await d.req('GET', '/billing/credits', { 'x-api-key': k.key })).status, 401)
  assert.equal((await call(jwt, 'DELETE', `/api-keys/${k.id}`)).status, 200)
  const edit = await call(jwt, 'PATCH', `/api-keys/${k.id}`, { name: 'zombie' })
  assert.equal(edit.status, 409)
  assert.equal(edit.body.code, 'conflict')
})

test('rotate: new secret, same name/scopes/expiry; the old key works until the grace ends', async () => {
  const jwt = await d.token(USER)
  const exp = d.clock.now + 86_400_000
  const k = await d.createKey(jwt, ['usage:read'], { expires_at: exp })
  secrets.push(k.key)
  const r = await call(jwt, 'POST', `/api-keys/${k.id}/rotate`, { grace_seconds: 120 })
  assert.equal(r.status, 201, r.text)
  secrets.push(r.body.key)
  assert.notEqual(r.body.id, k.id)
  assert.equal(r.body.expires_at, exp)
  assert.deepEqual(r.body.scopes, ['usage:read'])
  assert.equal(r.body.rotated_from, k.id)
  assert.equal(r.body.old.rotated_to, r.body.id)
  assert.equal(r.body.old.grace_end, d.clock.now + 120_000)
  for (const key of [k.key, r.body.key]) assert.equal((await d.req('GET', '/usage/stats', { 'x-api-key': key })).status, 200)
  assert.equal((await call(jwt, 'POST', `/api-keys/${k.id}/rotate`, {})).status, 409, 'rotated once only')
  d.clock.now += 121_000
  assert.equal((await d.req('GET', '/usage/stats', { 'x-api-key': k.key })).status, 401)
  assert.equal((await d.req('GET', '/usage/stats', { 'x-api-key': r.body.key })).status, 200)
  assert.equal((await call(jwt, 'GET', `/api-keys/${k.id}`)).body.status, 'expired')
})

test('a keys:manage key manages its own account\'s keys but cannot grant scopes it lacks', async () => {
  const jwt = await d.token(ADMIN, 'admin')
  const manager = await d.createKey(jwt, ['keys:manage', 'usage:read'])
  secrets.push(manager.key)
  const made = await call(manager.key, 'POST', '/api-keys/create', { name: 'child', scopes: ['usage:read'] })
  assert.equal(made.status, 201, made.text)
  secrets.push(made.body.key)
  const stronger = await call(manager.key, 'POST', '/api-keys/create', { name: 'escalate', scopes: ['billing:read'] })
  assert.equal(stronger.status, 403)
  assert.equal(stronger.body.code, 'insufficient_scope')
  const ev = await call(jwt, 'GET', `/api-keys/${made.body.id}/events`)
  const created = ev.body.events.find((e: any) => e.type === 'created')
  assert.equal(created.by, `key:${manager.id}`)
})

test('events (lifecycle, usage per window, auth failures per window) and usage per key and per account', async () => {
  const jwt = await d.token(USER)
  await d.setTier(USER, 'enterprise')
  const k = await d.createKey(jwt, ['usage:read'])
  await d.node.keys!.activity.flush() // earlier tests' uses
  secrets.push(k.key)
  for (let i = 0; i < 5; i++) assert.equal((await d.req('GET', '/usage/stats', { 'x-api-key': k.key })).status, 200)
  const wrong = k.key.slice(0, -5) + (k.key.at(-5) === 'A' ? 'B' : 'A') + k.key.slice(-4)
  for (let i = 0; i < 3; i++) assert.equal((await d.req('GET', '/usage/stats', { 'x-api-key': wrong })).status, 401)
  await call(jwt, 'PATCH', `/api-keys/${k.id}`, { name: 'audited' })
  // Before the flush, reads merge this node's pending uses.
  const usage = await call(jwt, 'GET', `/api-keys/${k.id}/usage`)
  assert.equal(usage.status, 200)
  assert.equal(usage.body.total, 5)
  assert.equal(usage.body.last_used_at, d.clock.now)
  const ops0 = d.node.store.logLength()
  await d.node.keys!.activity.flush()
  assert.equal(d.node.store.logLength() - ops0, 1, 'five uses and three failures of one key: one op')
  const daily = await call(jwt, 'GET', `/api-keys/${k.id}/usage?window=day`)
  assert.equal(daily.body.total, 5)
  assert.equal((await call(jwt, 'GET', `/api-keys/${k.id}/usage`)).body.total, 5, 'flushed counts are not counted twice')

  const events = await call(jwt, 'GET', `/api-keys/${k.id}/events`)
  const types = events.body.events.map((e: any) => e.type)
  assert.ok(types.includes('created') && types.includes('updated'), types.join())
  const use = events.body.events.find((e: any) => e.type === 'usage')
  assert.equal(use.count, 5)
  assert.equal(use.window, 'hour')
  const failed = events.body.events.find((e: any) => e.type === 'auth_failed')
  assert.equal(failed.count, 3)
  assert.equal(failed.reason, 'bad_secret')
  const all = await call(jwt, 'GET', '/api-keys/events?limit=1000')
  assert.ok(all.body.events.some((e: any) => e.key_id === k.id && e.type === 'updated'))
  assert.ok(all.body.events.every((e: any, i: number, a: any[]) => i === 0 || a[i - 1].at >= e.at), 'newest first')
})

test('no secret appears in any later response or in any log line', async () => {
  assert.ok(secrets.length >= 5)
  const logs = d.logLines.join('\n')
  assert.ok(d.logLines.length > 20, 'the capturing logger saw the requests')
  for (const s of secrets) {
    const secretPart = s.slice(-43)
    // At most the one answer that created it (keys made through `call` are in `bodies`).
    const shown = bodies.filter((b) => b.includes(secretPart))
    assert.ok(shown.length <= 1, 'secret in a response after creation')
    if (shown.length === 1) assert.match(shown[0]!, /"warning"/)
    assert.ok(!logs.includes(secretPart), 'secret in a log line')
  }
})
