// Key authentication on a real devnet: every bad key (malformed, wrong prefix, unknown,
// wrong secret, revoked, expired, rotated past its grace, huge) is refused with the same
// 401 body; the principal carries account, project, scopes and tier; scopes and tenancy
// are enforced; the comparison is secretMatches (constant time), also for unknown ids.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { StoreApiKeyAuthenticator } from '../../src/auth/api-key-auth.ts'
import { generateApiKey, secretMatches } from '../../src/auth/api-key-format.ts'
import { FAST_RATE, PROJECT, startKeysDevnet, USER, DEV, type KeysDevnet, type Reply } from './helpers.ts'

let d: KeysDevnet
let userJwt: string

before(async () => {
  d = await startKeysDevnet({ billing: { tiers: { ...FAST_RATE.tiers, free: { ...FAST_RATE.tiers.free, api_key_limit: 50 } } } })
  userJwt = await d.token(USER)
})
after(async () => { await d.close() })

/** The part of a 401 that must not vary between bad keys (request_id always differs). */
function shape (r: Reply): unknown {
  const { request_id: _r, ...rest } = r.body ?? {}
  const headers = ['www-authenticate', 'content-type', 'x-ratelimit-limit', 'retry-after'].map((h) => r.headers.get(h))
  return { status: r.status, body: rest, headers }
}

function flip (key: string): string {
  // Change one character of the secret, keeping the encoding canonical ('A' <-> 'B').
  const i = key.length - 10
  return key.slice(0, i) + (key[i] === 'A' ? 'B' : 'A') + key.slice(i + 1)
}

test('every bad key gets the same 401 body, by X-API-Key and by Authorization: Bearer', async () => {
  const live = await d.createKey(userJwt, ['usage:read'])
  const revoked = await d.createKey(userJwt, ['usage:read'])
  assert.equal((await d.as(userJwt, 'DELETE', `/api-keys/${revoked.id}`)).status, 200)
  const expiring = await d.createKey(userJwt, ['usage:read'], { expires_at: d.clock.now + 60_000 })
  const rotated = await d.createKey(userJwt, ['usage:read'])
  assert.equal((await d.as(userJwt, 'POST', `/api-keys/${rotated.id}/rotate`, { grace_seconds: 30 })).status, 201)
  // Both still work now.
  assert.equal((await d.req('GET', '/accounts/me', { 'x-api-key': expiring.key })).status, 200)
  assert.equal((await d.req('GET', '/accounts/me', { 'x-api-key': rotated.key })).status, 200)
  d.clock.now += 61_000 // past the expiry and past the rotation's grace

  const unknown = generateApiKey('test').display
  const bad: Record<string, string> = {
    malformed: 'fs_test_not-a-key',
    'wrong prefix (live key on a devnet)': live.key.replace('fs_test_', 'fs_live_'),
    'other prefix': 'sk_test_' + live.key.slice(8),
    'non-canonical secret': live.key.slice(0, -1) + (live.key.endsWith('A') ? 'B' : 'A'),
    unknown,
    'wrong secret': flip(live.key),
    revoked: revoked.key,
    expired: expiring.key,
    'rotated after grace': rotated.key,
    'huge X-API-Key': 'fs_test_' + 'a'.repeat(4000),
  }
  const shapes = new Map<string, unknown>()
  for (const [name, key] of Object.entries(bad)) {
    const viaHeader = await d.req('GET', '/accounts/me', { 'x-api-key': key })
    assert.equal(viaHeader.status, 401, `${name}: ${viaHeader.text}`)
    assert.equal(viaHeader.body.code, 'invalid_api_key', name)
    shapes.set(`${name} (X-API-Key)`, shape(viaHeader))
    if (key.startsWith('fs_') && key.length < 1000) {
      const viaBearer = await d.req('GET', '/accounts/me', { authorization: `Bearer ${key}` })
      shapes.set(`${name} (Bearer)`, shape(viaBearer))
    }
  }
  const distinct = new Set([...shapes.values()].map((s) => JSON.stringify(s)))
  assert.equal(distinct.size, 1, `bodies differ: ${JSON.stringify(Object.fromEntries(shapes), null, 1)}`)
  // The good key is unaffected.
  assert.equal((await d.req('GET', '/accounts/me', { 'x-api-key': live.key })).status, 200)
})

test('headers too large for the server are refused before any handler; large bearer credentials are 401', async () => {
  const huge = await d.req('GET', '/accounts/me', { authorization: `Bearer fs_test_${'x'.repeat(9000)}` })
  assert.equal(huge.status, 401)
  const res = await fetch(d.url + '/accounts/me', { headers: { 'x-api-key': 'fs_test_' + 'a'.repeat(70_000) } }).catch((e: Error) => e)
  // Node's parser rejects (431) or drops the connection; either way no 2xx and no crash.
  if (!(res instanceof Error)) assert.equal(res.status, 431)
  assert.equal((await d.req('GET', '/health')).status, 200, 'the server still serves')
})

test('the key principal carries account, project, scopes and tier; scopes are enforced', async () => {
  const k = await d.createKey(userJwt, ['keys:manage'])
  const me = await d.req('GET', '/accounts/me', { 'x-api-key': k.key })
  assert.equal(me.status, 200)
  assert.equal(me.body.id, d.accountOf(USER))
  assert.equal(me.body.project_id, PROJECT)
  // usage:read is missing from this key: 403 naming the scope.
  const stats = await d.req('GET', '/usage/stats', { 'x-api-key': k.key })
  assert.equal(stats.status, 403)
  assert.equal(stats.body.code, 'insufficient_scope')
  assert.match(stats.headers.get('www-authenticate') ?? '', /scope="usage:read"/)
  const withScope = await d.createKey(userJwt, ['usage:read'])
  assert.equal((await d.req('GET', '/usage/stats', { 'x-api-key': withScope.key })).status, 200)
  // …and that key cannot manage keys.
  const list = await d.req('GET', '/api-keys', { 'x-api-key': withScope.key })
  assert.equal(list.body.code, 'insufficient_scope')
})

test('a key used for another project is 403 wrong_project; another account\'s key id is 404', async () => {
  const k = await d.createKey(userJwt, ['keys:manage', 'usage:read'])
  const r = await d.req('GET', '/accounts/me', { 'x-api-key': k.key, 'x-project-id': 'proj_other' })
  assert.equal(r.status, 403)
  assert.equal(r.body.code, 'wrong_project')
  // The developer's account cannot see the user's key, and the answer is the unknown-id answer.
  const devJwt = await d.token(DEV, 'developer')
  const theirs = await d.as(devJwt, 'GET', `/api-keys/${k.id}`)
  const nobody = await d.as(devJwt, 'GET', '/api-keys/0123456789abcdef')
  assert.equal(theirs.status, 404)
  assert.deepEqual({ ...theirs.body, request_id: '' }, { ...nobody.body, request_id: '' })
})

test('sending both X-API-Key and Authorization is refused', async () => {
  const k = await d.createKey(userJwt, ['usage:read'])
  const r = await d.req('GET', '/accounts/me', { 'x-api-key': k.key, authorization: `Bearer ${userJwt}` })
  assert.equal(r.status, 401)
})

test('key checks compare with secretMatches, and an unknown id costs a compare too', async () => {
  const store = d.node.store
  const calls: string[] = []
  const spy = (hash: string, secret: string): boolean => { calls.push(hash); return secretMatches(hash, secret) }
  const auth = new StoreApiKeyAuthenticator({ store, env: 'test', now: () => d.clock.now, matches: spy })
  const k = await d.createKey(userJwt, ['usage:read'])
  assert.equal(auth.check(k.key).code, 'VALID')
  assert.equal(auth.check(flip(k.key)).code, 'NOT_FOUND')
  assert.equal(auth.check(generateApiKey('test').display).code, 'NOT_FOUND')
  assert.equal(calls.length, 3, 'one constant-time compare per well-formed key, found or not')
  assert.equal(auth.check('fs_test_short').code, 'NOT_FOUND')
  assert.equal(calls.length, 3, 'malformed keys never reach the store or the compare')
  // The authenticator the devnet runs uses secretMatches itself.
  const plain = new StoreApiKeyAuthenticator({ store, env: 'test', now: () => d.clock.now })
  assert.equal((plain as unknown as { matches: unknown }).matches, secretMatches)
})
