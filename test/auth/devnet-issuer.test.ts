// The devnet issuer: its tokens pass the production verifier, its limits hold.
import '../../src/polyfill.ts'
import { before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createDevnetIssuer, devnetIssuerUrl, MAX_TTL_S, type DevnetIssuer } from '../../src/auth/devnet-issuer.ts'
import { createJwtVerifier } from '../../src/auth/jwt.ts'
import { isFormStateError } from '../../src/errors.ts'

function codeOf (err: unknown): string {
  assert.ok(isFormStateError(err), String(err))
  return err.code
}

describe('devnet issuer', () => {
  let issuer: DevnetIssuer
  before(async () => { issuer = await createDevnetIssuer({ host: '127.0.0.1', port: 4010 }) })

  test('issuer URL, JWKS shape and no private material', () => {
    assert.equal(issuer.issuer, 'http://127.0.0.1:4010/devnet')
    const { keys } = issuer.jwks()
    assert.equal(keys.length, 1)
    assert.equal(keys[0]!.kid, issuer.kid)
    assert.equal(keys[0]!.kty, 'RSA')
    assert.equal(keys[0]!.alg, 'RS256')
    for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal((keys[0] as Record<string, unknown>)[priv], undefined)
    assert.equal(issuer.discoveryDocument().jwks_uri, 'http://127.0.0.1:4010/devnet/jwks.json')
  })

  test('round trip through the production verifier', async () => {
    const v = createJwtVerifier(issuer.verifierOptions())
    const t = await issuer.sign({ sub: 'dev-1', project_id: 'proj_x', role: 'admin', scope: 'usage:read' })
    const p = await v.verify(t)
    assert.equal(p.sub, 'dev-1')
    assert.equal(p.projectId, 'proj_x')
    assert.equal(p.role, 'admin')
    assert.deepEqual([...p.scopes], ['usage:read'])
    const header = JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>
    assert.equal(header.alg, 'RS256')
    assert.equal(header.kid, issuer.kid)
  })

  test('ttl: default one hour, custom, and limits', async () => {
    const now = Date.now()
    const v = createJwtVerifier(issuer.verifierOptions())
    const p = await v.verify(await issuer.sign({ sub: 's', project_id: 'p', role: 'user' }))
    assert.ok(Math.abs(p.expiresAt - (Math.floor(now / 1000) + 3600)) <= 2)
    const short = await v.verify(await issuer.sign({ sub: 's', project_id: 'p', role: 'user', ttl_s: 60 }))
    assert.ok(short.expiresAt - Math.floor(now / 1000) <= 62)
    for (const ttl of [0, -1, 1.5, MAX_TTL_S + 1]) {
      await assert.rejects(issuer.sign({ sub: 's', project_id: 'p', role: 'user', ttl_s: ttl }), (e) => codeOf(e) === 'invalid_field')
    }
  })

  test('refuses to sign bad claims', async () => {
    await assert.rejects(issuer.sign({ sub: '', project_id: 'p', role: 'user' }), (e) => codeOf(e) === 'invalid_field')
    await assert.rejects(issuer.sign({ sub: 's', project_id: 'p', role: 'root' as 'user' }), (e) => codeOf(e) === 'invalid_field')
  })

  test('another devnet process (another key) is not trusted', async () => {
    const other = await createDevnetIssuer({ host: '127.0.0.1', port: 4010 })
    const v = createJwtVerifier(issuer.verifierOptions())
    const t = await other.sign({ sub: 's', project_id: 'p', role: 'admin' })
    await assert.rejects(v.verify(t), (e) => codeOf(e) === 'invalid_token')
  })

  test('issuer URL brackets IPv6 hosts; port 0 is refused', async () => {
    assert.equal(devnetIssuerUrl('::1', 80), 'http://[::1]:80/devnet')
    await assert.rejects(createDevnetIssuer({ host: '127.0.0.1', port: 0 }), TypeError)
  })
})
