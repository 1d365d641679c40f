// rateLimit() behind authenticate() in a real Koa app on 127.0.0.1.
import '../../src/polyfill.ts'
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import Koa from 'koa'
import { createDevnetIssuer, type DevnetIssuer } from '../../src/auth/devnet-issuer.ts'
import { createJwtVerifier } from '../../src/auth/jwt.ts'
import { authenticate } from '../../src/auth/middleware.ts'
import { rateLimit, rateLimitKey } from '../../src/auth/rate-limit-middleware.ts'
import { GcraRateLimiter } from '../../src/auth/rate-limit.ts'
import { createServiceVerifier } from '../../src/auth/service-auth.ts'
import { isFormStateError } from '../../src/errors.ts'

const SECRET = 'q'.repeat(32)

describe('rateLimit middleware', () => {
  let issuer: DevnetIssuer
  let server: Server
  let url: string
  let now = 1_000_000

  before(async () => {
    issuer = await createDevnetIssuer({ host: '127.0.0.1', port: 4321 })
    const app = new Koa()
    app.use(async (ctx, next) => {
      try { await next() } catch (err) {
        if (!isFormStateError(err)) throw err
        ctx.status = err.status
        ctx.set(err.headers ?? {})
        ctx.body = { code: err.code }
      }
    })
    app.use(authenticate({
      jwt: createJwtVerifier(issuer.verifierOptions()),
      services: createServiceVerifier({ billing: SECRET }),
      optional: true,
    }))
    app.use(rateLimit({
      limiter: new GcraRateLimiter({ now: () => now }),
      // Admins get a bigger bucket: the limit follows the principal.
      limitFor: (p) => p.kind === 'service' ? undefined : { ratePerSec: 1, burst: p.role === 'admin' ? 4 : 2 },
      anonymous: { ratePerSec: 1, burst: 1 },
    }))
    app.use((ctx) => { ctx.body = { ok: true } })
    server = app.listen(0, '127.0.0.1')
    await new Promise<void>((resolve) => server.once('listening', () => resolve()))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  })
  after(async () => { server.closeAllConnections(); await new Promise<void>((r) => server.close(() => r())) })

  const get = async (headers: Record<string, string> = {}) => fetch(url, { headers })

  test('burst, then 429 with Retry-After; headers on success; refill with the clock', async () => {
    const t = await issuer.sign({ sub: 'u1', project_id: 'p1', role: 'user' })
    const h = { authorization: `Bearer ${t}` }
    const first = await get(h)
    assert.equal(first.status, 200)
    assert.equal(first.headers.get('x-ratelimit-limit'), '2')
    assert.equal(first.headers.get('x-ratelimit-remaining'), '1')
    assert.equal((await get(h)).status, 200)
    const refused = await get(h)
    assert.equal(refused.status, 429)
    assert.equal(((await refused.json()) as { code: string }).code, 'rate_limited')
    assert.equal(refused.headers.get('retry-after'), '1')
    assert.equal(refused.headers.get('x-ratelimit-remaining'), '0')
    now += 1000
    assert.equal((await get(h)).status, 200)
  })

  test('buckets are per subject and the limit follows the role', async () => {
    const admin = { authorization: `Bearer ${await issuer.sign({ sub: 'a1', project_id: 'p1', role: 'admin' })}` }
    const codes: number[] = []
    for (let i = 0; i < 5; i++) codes.push((await get(admin)).status)
    assert.deepEqual(codes, [200, 200, 200, 200, 429])
    const other = { authorization: `Bearer ${await issuer.sign({ sub: 'u2', project_id: 'p1', role: 'user' })}` }
    assert.equal((await get(other)).status, 200)
  })

  test('anonymous requests are limited per address; services are not limited here', async () => {
    assert.equal((await get()).status, 200)
    assert.equal((await get()).status, 429)
    for (let i = 0; i < 10; i++) {
      const r = await get({ 'x-service-name': 'billing', authorization: `Bearer ${SECRET}` })
      assert.equal(r.status, 200)
      assert.equal(r.headers.get('x-ratelimit-limit'), null)
    }
  })

  test('bucket keys separate keys, users and services', () => {
    const base = { sub: 's', projectId: 'p', role: 'user' as const, scopes: new Set<string>() }
    const keys = new Set([
      rateLimitKey({ ...base, kind: 'api_key', keyId: 'k1' }),
      rateLimitKey({ ...base, kind: 'user' }),
      rateLimitKey({ ...base, kind: 'service', serviceName: 's' }),
      rateLimitKey({ ...base, kind: 'user', projectId: 'other' }),
    ])
    assert.equal(keys.size, 4)
  })
})
