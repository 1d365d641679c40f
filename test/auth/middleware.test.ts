// authenticate() in a real Koa app on 127.0.0.1, driven with node's fetch.
import '../../src/polyfill.ts'
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import Koa from 'koa'
import { generateApiKey, parseApiKey, secretMatches, type GeneratedApiKey, type ParsedApiKey } from '../../src/auth/api-key-format.ts'
import { createDevnetIssuer, type DevnetIssuer } from '../../src/auth/devnet-issuer.ts'
import { createJwtVerifier } from '../../src/auth/jwt.ts'
import { authenticate, principalOf, type ApiKeyAuthenticator, type AuthenticateOptions } from '../../src/auth/middleware.ts'
import { createServiceVerifier } from '../../src/auth/service-auth.ts'
import { FormStateError, isFormStateError } from '../../src/errors.ts'

const SERVICE_SECRET = 's'.repeat(40)

/** A key store standing in for the keys feature: one key, checked by hash. */
class OneKeyStore implements ApiKeyAuthenticator {
  calls = 0
  constructor (private readonly key: GeneratedApiKey) {}
  keyOf (): GeneratedApiKey { return this.key }
  async authenticate (raw: string) {
    this.calls++
    const parsed = parseApiKey(raw)
    if (parsed === null || parsed.keyId !== this.key.keyId || !secretMatches(this.key.hash, parsed.secret)) {
      throw new FormStateError('invalid_api_key', 'invalid api key')
    }
    return {
      kind: 'api_key' as const, sub: 'owner-1', projectId: 'proj_k', role: 'developer' as const,
      scopes: new Set(['usage:read']), keyId: parsed.keyId, accountId: 'acct_1', tier: 'pro',
    }
  }
}

/** The same store answering at once too (as the keys feature's authenticator does). */
class SyncKeyStore extends OneKeyStore {
  syncCalls = 0
  authenticateParsedSync (parsed: ParsedApiKey) {
    this.syncCalls++
    const key = this.keyOf()
    if (parsed.keyId !== key.keyId || !secretMatches(key.hash, parsed.secret)) throw new FormStateError('invalid_api_key', 'invalid api key')
    return {
      kind: 'api_key' as const, sub: 'owner-1', projectId: 'proj_k', role: 'developer' as const,
      scopes: new Set(['usage:read']), keyId: parsed.keyId, accountId: 'acct_1', tier: 'pro',
    }
  }
}

interface App { url: string, close: () => Promise<void> }

/** A Koa app: a minimal error renderer (the API's own is not under test), auth, an echo route. */
async function startApp (opts: AuthenticateOptions): Promise<App> {
  const app = new Koa()
  app.use(async (ctx, next) => {
    try {
      await next()
    } catch (err) {
      if (!isFormStateError(err)) throw err
      ctx.status = err.status
      for (const [k, v] of Object.entries(err.headers ?? {})) ctx.set(k, v)
      ctx.body = { code: err.code }
    }
  })
  app.use(authenticate(opts))
  app.use((ctx) => {
    const p = ctx.state.principal === undefined ? null : principalOf(ctx)
    ctx.body = p === null ? { principal: null } : { principal: { ...p, scopes: [...p.scopes] } }
  })
  const server: Server = app.listen(0, '127.0.0.1')
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: async () => { server.closeAllConnections(); await new Promise<void>((r) => server.close(() => r())) },
  }
}

async function call (app: App, headers: Record<string, string>) {
  const res = await fetch(app.url, { headers })
  const body = await res.json() as { code?: string, principal?: Record<string, unknown> | null }
  return { status: res.status, body, headers: res.headers }
}

describe('authenticate middleware', () => {
  let issuer: DevnetIssuer
  let key: GeneratedApiKey
  let store: OneKeyStore
  let app: App
  let optionalApp: App
  let noKeysApp: App
  let jwt: string

  before(async () => {
    issuer = await createDevnetIssuer({ host: '127.0.0.1', port: 4999 })
    key = generateApiKey('test')
    store = new OneKeyStore(key)
    const base = {
      jwt: createJwtVerifier(issuer.verifierOptions()),
      apiKeys: store,
      services: createServiceVerifier({ billing: SERVICE_SECRET }),
    }
    app = await startApp(base)
    optionalApp = await startApp({ ...base, optional: true })
    noKeysApp = await startApp({ jwt: base.jwt })
    jwt = await issuer.sign({ sub: 'dev-1', project_id: 'proj_a', role: 'developer' })
  })
  after(async () => { await Promise.all([app.close(), optionalApp.close(), noKeysApp.close()]) })

  test('no credentials: 401 unauthenticated with a Bearer challenge', async () => {
    const r = await call(app, {})
    assert.equal(r.status, 401)
    assert.equal(r.body.code, 'unauthenticated')
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="form-state"')
  })

  test('a JWT bearer sets a user principal', async () => {
    const r = await call(app, { authorization: `Bearer ${jwt}` })
    assert.equal(r.status, 200)
    assert.equal(r.body.principal?.kind, 'user')
    assert.equal(r.body.principal?.sub, 'dev-1')
    assert.equal(r.body.principal?.projectId, 'proj_a')
  })

  test('a bad JWT is 401 invalid_token with the RFC 6750 challenge', async () => {
    const other = await createDevnetIssuer({ host: '127.0.0.1', port: 4999 })
    const forged = await other.sign({ sub: 'dev-1', project_id: 'proj_a', role: 'admin' })
    const r = await call(app, { authorization: `Bearer ${forged}` })
    assert.equal(r.status, 401)
    assert.equal(r.body.code, 'invalid_token')
    assert.match(r.headers.get('www-authenticate') ?? '', /error="invalid_token", error_description="[^"]+"/)
  })

  test('API key via X-API-Key and via Bearer', async () => {
    for (const headers of [{ 'x-api-key': key.display }, { authorization: `Bearer ${key.display}` }] as Array<Record<string, string>>) {
      const r = await call(app, headers)
      assert.equal(r.status, 200)
      assert.equal(r.body.principal?.kind, 'api_key')
      assert.equal(r.body.principal?.keyId, key.keyId)
      assert.deepEqual(r.body.principal?.scopes, ['usage:read'])
    }
  })

  test('malformed keys are refused without a store lookup; a wrong secret by the store', async () => {
    const before = store.calls
    for (const bad of ['fs_test_nope', `${key.display}x`, 'fs_' + 'a'.repeat(300)]) {
      const r = await call(app, { 'x-api-key': bad })
      assert.equal(r.status, 401)
      assert.equal(r.body.code, 'invalid_api_key')
    }
    assert.equal(store.calls, before)
    const wrong = generateApiKey('test')
    const forged = `fs_test_${key.keyId}_${wrong.secret}`
    const r = await call(app, { authorization: `Bearer ${forged}` })
    assert.equal(r.body.code, 'invalid_api_key')
    assert.equal(store.calls, before + 1)
  })

  test('an API key where no key authenticator is configured is refused', async () => {
    const r = await call(noKeysApp, { 'x-api-key': key.display })
    assert.equal(r.status, 401)
    assert.equal(r.body.code, 'invalid_api_key')
  })

  test('two credentials at once are refused', async () => {
    const r = await call(app, { 'x-api-key': key.display, authorization: `Bearer ${jwt}` })
    assert.equal(r.status, 401)
    assert.equal(r.body.code, 'unauthenticated')
  })

  test('non-Bearer schemes are refused', async () => {
    for (const authorization of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b', `Token ${jwt}`]) {
      const r = await call(app, { authorization })
      assert.equal(r.status, 401, authorization)
    }
  })

  test('service credentials: good, acting for a project, wrong secret, wrong name, no secret', async () => {
    const good = await call(app, { 'x-service-name': 'billing', authorization: `Bearer ${SERVICE_SECRET}` })
    assert.equal(good.status, 200)
    assert.equal(good.body.principal?.kind, 'service')
    assert.equal(good.body.principal?.projectId, '')
    const acting = await call(app, { 'x-service-name': 'billing', authorization: `Bearer ${SERVICE_SECRET}`, 'x-project-id': 'proj_z' })
    assert.equal(acting.body.principal?.actingFor, 'proj_z')
    assert.equal(acting.body.principal?.projectId, 'proj_z')
    for (const headers of [
      { 'x-service-name': 'billing', authorization: `Bearer ${SERVICE_SECRET}x` },
      { 'x-service-name': 'gateway', authorization: `Bearer ${SERVICE_SECRET}` },
      { 'x-service-name': 'billing' },
      { 'x-service-name': 'Bad Name!', authorization: `Bearer ${SERVICE_SECRET}` },
    ] as Array<Record<string, string>>) {
      const r = await call(app, headers)
      assert.equal(r.status, 401)
      assert.equal(r.body.code, 'invalid_service_credentials')
    }
    const noServices = await call(noKeysApp, { 'x-service-name': 'billing', authorization: `Bearer ${SERVICE_SECRET}` })
    assert.equal(noServices.body.code, 'invalid_service_credentials')
  })

  test('X-Project-Id must match the principal', async () => {
    assert.equal((await call(app, { authorization: `Bearer ${jwt}`, 'x-project-id': 'proj_a' })).status, 200)
    const other = await call(app, { authorization: `Bearer ${jwt}`, 'x-project-id': 'proj_b' })
    assert.equal(other.status, 403)
    assert.equal(other.body.code, 'wrong_project')
    const keyOther = await call(app, { 'x-api-key': key.display, 'x-project-id': 'proj_a' })
    assert.equal(keyOther.body.code, 'wrong_project')
    const malformed = await call(app, { authorization: `Bearer ${jwt}`, 'x-project-id': '../x' })
    assert.equal(malformed.status, 400)
  })

  test('oversized credentials are a 401, not a crash', async () => {
    const big = `Bearer ${'A'.repeat(10 * 1024)}`
    const r = await call(app, { authorization: big })
    assert.equal(r.status, 401)
    assert.equal(r.body.code, 'invalid_token')
    const k = await call(app, { 'x-api-key': 'fs_' + 'A'.repeat(10 * 1024) })
    assert.equal(k.status, 401)
    // The server still answers afterwards.
    assert.equal((await call(app, { authorization: `Bearer ${jwt}` })).status, 200)
  })

  test('a cached JWT answers exactly as an uncached one for every spelling of the Authorization header', async () => {
    // The middleware looks a cached token up before running the Bearer grammar's regexp; a
    // hit must only ever happen where the grammar accepts the header with this very token.
    const uncached = await startApp({ jwt: createJwtVerifier({ ...issuer.verifierOptions(), verifiedCache: { maxEntries: 0 } }) })
    try {
      assert.equal((await call(app, { authorization: `Bearer ${jwt}` })).status, 200) // now cached
      const variants = [
        `Bearer ${jwt}`, `bearer ${jwt}`, `BEARER ${jwt}`, `bEaReR    ${jwt}`, `Bearer ${jwt}   `,
        `Bearer\t${jwt}`, `Bearer ${jwt}\tx`, `Bearer ${jwt} x`, `Bearer ${jwt} ${jwt}`, `Bearer ${jwt}\u00a0x`,
        `Bearer ${jwt.slice(0, -1)}`, `Bearer ${jwt}x`, `Bearer x${jwt}`, `Bearerr ${jwt}`, `Bearer${jwt}`, `Bear ${jwt}`,
      ]
      for (const authorization of variants) {
        const [a, b] = [await call(app, { authorization }), await call(uncached, { authorization })]
        assert.equal(a.status, b.status, JSON.stringify(authorization.replace(jwt, '<jwt>')))
        assert.deepEqual(a.body, b.body, JSON.stringify(authorization.replace(jwt, '<jwt>')))
        assert.equal(a.headers.get('www-authenticate'), b.headers.get('www-authenticate'))
      }
      assert.equal((await call(app, { authorization: `bearer    ${jwt}  ` })).body.principal?.sub, 'dev-1')
      assert.equal((await call(app, { authorization: `Bearer ${jwt} x` })).body.code, 'unauthenticated')
    } finally {
      await uncached.close()
    }
  })

  test('an authenticator that answers at once is used so, with the same answers as the async one', async () => {
    const sync = new SyncKeyStore(key)
    const syncApp = await startApp({ jwt: createJwtVerifier(issuer.verifierOptions()), apiKeys: sync })
    try {
      const wrong = `fs_test_${key.keyId}_${generateApiKey('test').secret}`
      for (const headers of [{ 'x-api-key': key.display }, { authorization: `Bearer ${key.display}` }, { 'x-api-key': wrong }, { 'x-api-key': 'fs_test_nope' }] as Array<Record<string, string>>) {
        const [a, b] = [await call(app, headers), await call(syncApp, headers)]
        assert.equal(b.status, a.status)
        assert.deepEqual(b.body, a.body)
      }
      assert.equal(sync.syncCalls, 3, 'every well-formed key went to authenticateParsedSync')
      assert.equal(sync.calls, 0, 'and none to the async form')
    } finally {
      await syncApp.close()
    }
  })

  test('optional: no credentials pass with no principal; bad credentials still fail', async () => {
    const none = await call(optionalApp, {})
    assert.equal(none.status, 200)
    assert.equal(none.body.principal, null)
    const bad = await call(optionalApp, { authorization: 'Bearer not-a-token' })
    assert.equal(bad.status, 401)
    assert.equal(bad.body.code, 'invalid_token')
  })
})
