// The request chain parses a key once and hands the parsed key to `authenticateParsed` (or
// its synchronous form): it must reach the same verdicts and the same principal as
// `authenticate(raw)`, count a use the same way, and the middleware must still refuse malformed keys before any lookup.
import '../../src/polyfill.ts'
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { StoreApiKeyAuthenticator } from '../../src/auth/api-key-auth.ts'
import { ApiKeyActivity } from '../../src/auth/api-key-activity.ts'
import { generateApiKey, parseApiKey } from '../../src/auth/api-key-format.ts'
import { isFormStateError } from '../../src/errors.ts'
import { FAST_RATE, startKeysDevnet, USER, type KeysDevnet } from './helpers.ts'

let d: KeysDevnet
let userJwt: string

before(async () => {
  d = await startKeysDevnet({ billing: { tiers: { ...FAST_RATE.tiers, free: { ...FAST_RATE.tiers.free, api_key_limit: 50 } } } })
  userJwt = await d.token(USER)
})
after(async () => { await d.close() })

function parsed (raw: string) {
  const p = parseApiKey(raw)
  assert.ok(p !== null, 'a well-formed key')
  return p
}

test('authenticateParsed gives the principal authenticate gives, and counts one use per call', async () => {
  const store = d.node.store
  const activity = new ApiKeyActivity({ store, log: d.node.log, now: () => d.clock.now })
  const auth = new StoreApiKeyAuthenticator({ store, env: 'test', now: () => d.clock.now, activity })
  const k = await d.createKey(userJwt, ['usage:read'])
  const a = await auth.authenticate(k.key)
  const b = await auth.authenticateParsed(parsed(k.key))
  const c = auth.authenticateParsedSync(parsed(k.key))
  assert.deepEqual(b, a)
  assert.deepEqual(c, a)
  assert.equal(b.kind, 'api_key')
  assert.equal(b.keyId, k.id)
  assert.deepEqual(activity.pendingUsage(k.id).map((u) => u.n), [3])
})

test('authenticateParsed refuses unknown, wrong-secret and revoked keys with invalid_api_key', async () => {
  const store = d.node.store
  const auth = new StoreApiKeyAuthenticator({ store, env: 'test', now: () => d.clock.now })
  const live = await d.createKey(userJwt, ['usage:read'])
  const revoked = await d.createKey(userJwt, ['usage:read'])
  assert.equal((await d.as(userJwt, 'DELETE', `/api-keys/${revoked.id}`)).status, 200)
  const wrong = { ...parsed(live.key), secret: parsed(generateApiKey('test').display).secret }
  for (const p of [parsed(generateApiKey('test').display), wrong, parsed(revoked.key)]) {
    await assert.rejects(auth.authenticateParsed(p), (e: unknown) => isFormStateError(e) && e.code === 'invalid_api_key')
    assert.throws(() => auth.authenticateParsedSync(p), (e: unknown) => isFormStateError(e) && e.code === 'invalid_api_key')
  }
  assert.equal(auth.checkParsed(parsed(revoked.key)).code, 'REVOKED')
})

test('over HTTP a key still authenticates, and a malformed one is 401 invalid_api_key', async () => {
  const k = await d.createKey(userJwt, ['usage:read'])
  const ok = await d.as(k.key, 'GET', '/accounts/me')
  assert.equal(ok.status, 200)
  const bad = await d.as('fs_test_short', 'GET', '/accounts/me')
  assert.equal(bad.status, 401)
  assert.equal(bad.body?.code, 'invalid_api_key')
})
