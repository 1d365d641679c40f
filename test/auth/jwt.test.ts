// JWT verification from the attacker's side: real signed tokens, a real JWKS server.
import '../../src/polyfill.ts'
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createJwtVerifier, type JwtVerifier, type JwtVerifierOptions } from '../../src/auth/jwt.ts'
import { isFormStateError } from '../../src/errors.ts'
import {
  claims, hmacToken, makeKey, noneToken, nowS, signToken, startKeyServer, token,
  type KeyServer, type TestKey,
} from './jwt-fixtures.ts'

/** Asserts `p` rejects with FormStateError `code` and returns the error. */
async function rejectsWith (p: Promise<unknown>, code: string, reason?: RegExp) {
  try {
    await p
  } catch (err) {
    assert.ok(isFormStateError(err), `expected FormStateError, got ${String(err)}`)
    assert.equal(err.code, code, `code (message: ${err.message})`)
    if (reason !== undefined) assert.match(err.message, reason)
    return err
  }
  assert.fail(`expected rejection with ${code}`)
}

describe('jwt verifier against a JWKS URL', () => {
  let server: KeyServer
  let key: TestKey
  let verifier: JwtVerifier
  let iss: string

  before(async () => {
    key = makeKey('RS256')
    server = await startKeyServer([key])
    iss = server.base
    verifier = createJwtVerifier({ issuer: iss, audience: 'form-state', keys: { type: 'jwks_url', url: server.jwksUrl } })
  })
  after(async () => { await server.close() })

  test('a good token yields the principal; no scope claim grants every scope', async () => {
    const p = await verifier.verify(token(key, claims(iss)))
    assert.equal(p.kind, 'user')
    assert.equal(p.sub, 'user-1')
    assert.equal(p.projectId, 'proj_a')
    assert.equal(p.role, 'developer')
    assert.equal(p.scoped, false)
    assert.ok(p.scopes.has('keys:manage') && p.scopes.has('models:invoke'))
  })

  test('forged signature: another key published under the same kid', async () => {
    const forger = makeKey('RS256', key.kid)
    const err = await rejectsWith(verifier.verify(token(forger, claims(iss))), 'invalid_token', /signature/)
    assert.equal(err.headers?.['WWW-Authenticate'],
      'Bearer realm="form-state", error="invalid_token", error_description="invalid signature"')
  })

  test('a tampered payload fails the signature', async () => {
    const [h, , s] = token(key, claims(iss)).split('.')
    const evil = Buffer.from(JSON.stringify(claims(iss, { role: 'admin' }))).toString('base64url')
    await rejectsWith(verifier.verify(`${h}.${evil}.${s}`), 'invalid_token', /signature/)
  })

  test('expired beyond the 30 s tolerance is refused; within it is accepted', async () => {
    await rejectsWith(verifier.verify(token(key, claims(iss, { exp: nowS() - 60 }))), 'invalid_token', /expired/)
    const p = await verifier.verify(token(key, claims(iss, { exp: nowS() - 10 })))
    assert.equal(p.sub, 'user-1')
  })

  test('not yet valid (nbf in the future) is refused', async () => {
    await rejectsWith(verifier.verify(token(key, claims(iss, { nbf: nowS() + 120 }))), 'invalid_token', /not yet valid/)
  })

  test('wrong iss, wrong aud, missing exp, missing iss, missing aud', async () => {
    await rejectsWith(verifier.verify(token(key, claims('https://evil.example'))), 'invalid_token', /issuer/)
    await rejectsWith(verifier.verify(token(key, claims(iss, { aud: 'other-service' }))), 'invalid_token', /audience/)
    await rejectsWith(verifier.verify(token(key, claims(iss, { exp: undefined }))), 'invalid_token', /exp/)
    await rejectsWith(verifier.verify(token(key, claims(iss, { iss: undefined }))), 'invalid_token', /iss/)
    await rejectsWith(verifier.verify(token(key, claims(iss, { aud: undefined }))), 'invalid_token', /aud/)
  })

  test('alg none (hand-crafted) is refused without fetching keys', async () => {
    const before = server.jwksFetches
    for (const alg of ['none', 'None', 'NONE']) {
      await rejectsWith(verifier.verify(noneToken({ alg, kid: key.kid, typ: 'JWT' }, claims(iss))), 'invalid_token', /algorithm|malformed/)
    }
    assert.equal(server.jwksFetches, before)
  })

  test('HS256 signed with the RSA public key (PEM and JWK bytes) is refused', async () => {
    const pem = key.publicKey.export({ type: 'spki', format: 'pem' }) as string
    const jwkBytes = JSON.stringify(key.jwk)
    for (const secret of [pem, Buffer.from(pem), jwkBytes, JSON.stringify({ keys: [key.jwk] })]) {
      const t = hmacToken({ alg: 'HS256', kid: key.kid, typ: 'JWT' }, claims(iss), secret)
      await rejectsWith(verifier.verify(t), 'invalid_token', /algorithm/)
    }
  })

  test('an allowed algorithm outside the key (RS384) is refused', async () => {
    await rejectsWith(verifier.verify(signToken({ alg: 'RS384', kid: key.kid }, claims(iss), key)), 'invalid_token', /algorithm/)
  })

  test('a 20 KB token is refused before parsing or fetching', async () => {
    const before = server.jwksFetches
    const big = token(key, claims(iss, { pad: 'x'.repeat(20 * 1024) }))
    await rejectsWith(verifier.verify(big), 'invalid_token', /too large/)
    assert.equal(server.jwksFetches, before)
  })

  test('garbage and empty tokens are invalid_token', async () => {
    for (const t of ['', 'abc', 'a.b.c', '...', 'eyJ.eyJ.', `${'A'.repeat(10)}.${'B'.repeat(10)}`]) {
      await rejectsWith(verifier.verify(t), 'invalid_token')
    }
  })

  test('claims: missing sub, bad project_id, bad role, bad scope type are refused', async () => {
    await rejectsWith(verifier.verify(token(key, claims(iss, { sub: undefined }))), 'invalid_token', /sub/)
    await rejectsWith(verifier.verify(token(key, claims(iss, { project_id: '../etc' }))), 'invalid_token', /project_id/)
    await rejectsWith(verifier.verify(token(key, claims(iss, { project_id: undefined }))), 'invalid_token', /project_id/)
    await rejectsWith(verifier.verify(token(key, claims(iss, { role: 'superuser' }))), 'invalid_token', /role/)
    await rejectsWith(verifier.verify(token(key, claims(iss, { role: ['admin'] }))), 'invalid_token', /role/)
    await rejectsWith(verifier.verify(token(key, claims(iss, { scope: ['models:invoke'] }))), 'invalid_token', /scope/)
    await rejectsWith(verifier.verify(token(key, claims(iss, { scope: 'a  b' }))), 'invalid_token', /scope/)
  })

  test('a scope claim limits the principal to exactly those scopes', async () => {
    const p = await verifier.verify(token(key, claims(iss, { scope: 'usage:read billing:read' })))
    assert.equal(p.scoped, true)
    assert.deepEqual([...p.scopes].sort(), ['billing:read', 'usage:read'])
  })
})

describe('jwt verifier options', () => {
  let server: KeyServer
  const rsa = makeKey('RS256')
  const ec = makeKey('ES256')
  const ed = makeKey('EdDSA')
  before(async () => { server = await startKeyServer([rsa, ec, ed]) })
  after(async () => { await server.close() })

  const make = (extra: Partial<JwtVerifierOptions> = {}): JwtVerifier => createJwtVerifier({
    issuer: server.base, audience: 'form-state', keys: { type: 'jwks_url', url: server.jwksUrl }, ...extra,
  })

  test('RS256, ES256 and EdDSA are all accepted', async () => {
    const v = make()
    for (const k of [rsa, ec, ed]) assert.equal((await v.verify(token(k, claims(server.base)))).sub, 'user-1')
  })

  test('a narrowed allow-list refuses the others', async () => {
    const v = make({ algorithms: ['RS256'] })
    await rejectsWith(v.verify(token(ec, claims(server.base))), 'invalid_token', /algorithm/)
  })

  test('a non-allow-listed algorithm cannot be configured', () => {
    assert.throws(() => make({ algorithms: ['HS256' as 'RS256'] }), TypeError)
  })

  test('required scope: absent claim, other scope, and present', async () => {
    const v = make({ requiredScope: 'models:invoke' })
    await rejectsWith(v.verify(token(rsa, claims(server.base))), 'invalid_token', /scope/)
    await rejectsWith(v.verify(token(rsa, claims(server.base, { scope: 'usage:read' }))), 'invalid_token', /scope/)
    const p = await v.verify(token(rsa, claims(server.base, { scope: 'usage:read models:invoke' })))
    assert.ok(p.scopes.has('models:invoke'))
  })

  test('injected clock: a token is judged at the verifier\'s now', async () => {
    const t = token(rsa, claims(server.base))
    const late = make({ now: () => Date.now() + 2 * 3600_000 })
    await rejectsWith(late.verify(t), 'invalid_token', /expired/)
  })

  test('multiple audiences: any one matches', async () => {
    const v = make({ audience: ['other', 'form-state'] })
    assert.equal((await v.verify(token(rsa, claims(server.base)))).sub, 'user-1')
  })
})
