// Key sourcing from the attacker's and the operator's side: kid-miss refetch, fetch-storm
// bounds, JWKS outages, and OIDC discovery, all against a real HTTP server.
import '../../src/polyfill.ts'
import { afterEach, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createJwtVerifier, jwtVerifierOptionsFromConfig, type JwtVerifierOptions } from '../../src/auth/jwt.ts'
import { isFormStateError } from '../../src/errors.ts'
import { claims, makeKey, sleep, startKeyServer, token, type KeyServer } from './jwt-fixtures.ts'

async function codeOf (p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (err) {
    assert.ok(isFormStateError(err), `expected FormStateError, got ${String(err)}`)
    return err.code
  }
}

const servers: KeyServer[] = []
afterEach(async () => { for (const s of servers.splice(0)) await s.close() })

async function server (...args: Parameters<typeof startKeyServer>): Promise<KeyServer> {
  const s = await startKeyServer(...args)
  servers.push(s)
  return s
}

function jwksVerifier (s: KeyServer, extra: Partial<JwtVerifierOptions> = {}) {
  return createJwtVerifier({ issuer: s.base, audience: 'form-state', keys: { type: 'jwks_url', url: s.jwksUrl }, ...extra })
}

describe('JWKS refetch on unknown kid', () => {
  test('unknown kid is refused, then accepted after the server rotates and the cooldown passes', async () => {
    const oldKey = makeKey()
    const newKey = makeKey()
    const s = await server([oldKey])
    // Generous timings: the in-cooldown assertions must hold on a loaded CI machine.
    const v = jwksVerifier(s, { cooldownMs: 1000 })

    assert.equal(await codeOf(v.verify(token(oldKey, claims(s.base)))), 'ok')
    assert.equal(s.jwksFetches, 1)
    assert.equal(await codeOf(v.verify(token(newKey, claims(s.base)))), 'invalid_token')

    s.keys = [oldKey.jwk, newKey.jwk] // rotation on the issuer
    // Within the cooldown the miss does not refetch: still refused, no new fetch.
    assert.equal(await codeOf(v.verify(token(newKey, claims(s.base)))), 'invalid_token')
    assert.equal(s.jwksFetches, 1)

    await sleep(1100)
    assert.equal(await codeOf(v.verify(token(newKey, claims(s.base)))), 'ok')
    assert.equal(s.jwksFetches, 2)
    // And the old key still works from the refreshed set without another fetch.
    assert.equal(await codeOf(v.verify(token(oldKey, claims(s.base)))), 'ok')
    assert.equal(s.jwksFetches, 2)
  })

  test('a key removed from the set stops verifying after a refetch', async () => {
    const a = makeKey('ES256')
    const b = makeKey('ES256')
    const s = await server([a, b])
    const v = jwksVerifier(s, { cacheMaxAgeMs: 200 })
    assert.equal(await codeOf(v.verify(token(a, claims(s.base)))), 'ok')
    s.keys = [b.jwk]
    await sleep(250) // cache expires: next verification refetches
    assert.equal(await codeOf(v.verify(token(a, claims(s.base)))), 'invalid_token')
    assert.equal(await codeOf(v.verify(token(b, claims(s.base)))), 'ok')
  })

  test('a flood of random kids causes a bounded number of fetches', async () => {
    const good = makeKey('ES256')
    const s = await server([good])
    const v = jwksVerifier(s) // default 30 s cooldown
    assert.equal(await codeOf(v.verify(token(good, claims(s.base)))), 'ok')

    const forged = () => token(makeKeyCached(), claims(s.base), { kid: randomBytes(8).toString('hex') })
    // 200 concurrent, then 200 sequential unknown kids.
    const codes = await Promise.all(Array.from({ length: 200 }, async () => codeOf(v.verify(forged()))))
    assert.ok(codes.every((c) => c === 'invalid_token'))
    for (let i = 0; i < 200; i++) assert.equal(await codeOf(v.verify(forged())), 'invalid_token')
    assert.equal(s.jwksFetches, 1, 'no refetch inside the cooldown')
  })

  test('with a short cooldown, fetches stay within elapsed/cooldown + 2', async () => {
    const good = makeKey('ES256')
    const s = await server([good])
    const cooldownMs = 100
    const v = jwksVerifier(s, { cooldownMs })
    const start = Date.now()
    let n = 0
    while (Date.now() - start < 600) {
      await codeOf(v.verify(token(makeKeyCached(), claims(s.base), { kid: `x${n++}` })))
    }
    const bound = Math.ceil((Date.now() - start) / cooldownMs) + 2
    assert.ok(n > 20, `sent ${n} tokens`)
    assert.ok(s.jwksFetches <= bound, `${s.jwksFetches} fetches for ${n} tokens (bound ${bound})`)
  })
})

describe('JWKS endpoint failures', () => {
  test('an outage is a 503 with back-off: one fetch, not one per request; recovery after back-off', async () => {
    const key = makeKey('ES256')
    const s = await server([key])
    s.jwksStatus = 500
    const v = jwksVerifier(s, { retryAfterFailureMs: 1000 })
    const t = token(key, claims(s.base))
    assert.equal(await codeOf(v.verify(t)), 'not_ready')
    for (let i = 0; i < 50; i++) assert.equal(await codeOf(v.verify(t)), 'not_ready')
    assert.equal(s.jwksFetches, 1)

    s.jwksStatus = 200
    await sleep(1100)
    assert.equal(await codeOf(v.verify(t)), 'ok')
    assert.equal(s.jwksFetches, 2)
  })

  test('keys cached before an outage keep verifying during the back-off', async () => {
    const key = makeKey('ES256')
    const s = await server([key])
    const v = jwksVerifier(s, { cooldownMs: 0, retryAfterFailureMs: 10_000 })
    assert.equal(await codeOf(v.verify(token(key, claims(s.base)))), 'ok')
    s.jwksStatus = 500
    // An unknown kid triggers a refetch, which fails: 503, and the failure is remembered.
    assert.equal(await codeOf(v.verify(token(makeKeyCached(), claims(s.base), { kid: 'nope' }))), 'not_ready')
    const fetches = s.jwksFetches
    assert.equal(await codeOf(v.verify(token(key, claims(s.base)))), 'ok')
    assert.equal(await codeOf(v.verify(token(makeKeyCached(), claims(s.base), { kid: 'nope2' }))), 'invalid_token')
    assert.equal(s.jwksFetches, fetches)
  })

  test('an unreachable JWKS URL is a 503', async () => {
    const s = await server([])
    const url = s.jwksUrl
    await s.close()
    servers.length = 0
    const v = createJwtVerifier({ issuer: 'http://issuer', audience: 'form-state', keys: { type: 'jwks_url', url }, timeoutMs: 1000 })
    assert.equal(await codeOf(v.verify(token(makeKey('ES256'), claims('http://issuer')))), 'not_ready')
  })
})

describe('OIDC discovery', () => {
  test('discovers jwks_uri once and verifies', async () => {
    const key = makeKey('ES256')
    const s = await server([key])
    const v = createJwtVerifier({ issuer: s.base, audience: 'form-state', keys: { type: 'oidc' } })
    for (let i = 0; i < 3; i++) assert.equal(await codeOf(v.verify(token(key, claims(s.base)))), 'ok')
    assert.equal(s.discoveryFetches, 1)
    assert.equal(s.jwksFetches, 1)
  })

  test('a failed discovery is retried after the back-off, not cached forever', async () => {
    const key = makeKey('ES256')
    const s = await server([key])
    s.discoveryStatus = 503
    const v = createJwtVerifier({ issuer: s.base, audience: 'form-state', keys: { type: 'oidc' }, retryAfterFailureMs: 500 })
    const t = token(key, claims(s.base))
    assert.equal(await codeOf(v.verify(t)), 'not_ready')
    assert.equal(await codeOf(v.verify(t)), 'not_ready')
    assert.equal(s.discoveryFetches, 1, 'no retry inside the back-off')
    s.discoveryStatus = 200
    await sleep(550)
    assert.equal(await codeOf(v.verify(t)), 'ok')
    assert.equal(s.discoveryFetches, 2)
  })

  test('a discovery document naming another issuer is refused', async () => {
    const key = makeKey('ES256')
    const s = await server([key])
    s.discoveryIssuer = 'https://attacker.example'
    const v = createJwtVerifier({ issuer: s.base, audience: 'form-state', keys: { type: 'oidc' } })
    assert.equal(await codeOf(v.verify(token(key, claims(s.base)))), 'not_ready')
    assert.equal(s.jwksFetches, 0)
  })

  test('concurrent first requests share one discovery', async () => {
    const key = makeKey('ES256')
    const s = await server([key])
    const v = createJwtVerifier({ issuer: s.base, audience: 'form-state', keys: { type: 'oidc' } })
    const codes = await Promise.all(Array.from({ length: 20 }, async () => codeOf(v.verify(token(key, claims(s.base))))))
    assert.ok(codes.every((c) => c === 'ok'))
    assert.equal(s.discoveryFetches, 1)
    assert.equal(s.jwksFetches, 1)
  })
})

describe('options from the config module', () => {
  test('a JWKS URL wins; the expected iss may differ from the discovery base', async () => {
    const key = makeKey('ES256')
    const s = await server([key])
    const viaJwks = createJwtVerifier(jwtVerifierOptionsFromConfig({ jwksUrl: s.jwksUrl, issuer: 'urn:iss', audience: 'form-state' }))
    assert.equal(await codeOf(viaJwks.verify(token(key, claims('urn:iss')))), 'ok')
    assert.equal(s.discoveryFetches, 0)

    const viaOidc = createJwtVerifier(jwtVerifierOptionsFromConfig({ oidcIssuer: s.base, audience: 'form-state', requiredScope: 'usage:read' }))
    assert.equal(await codeOf(viaOidc.verify(token(key, claims(s.base, { scope: 'usage:read' })))), 'ok')
    assert.equal(await codeOf(viaOidc.verify(token(key, claims(s.base)))), 'invalid_token')
    assert.equal(s.discoveryFetches, 1)
  })

  test('no key source or no issuer is a configuration error', () => {
    assert.throws(() => jwtVerifierOptionsFromConfig({ audience: 'a', issuer: 'x' }), TypeError)
    assert.throws(() => jwtVerifierOptionsFromConfig({ audience: 'a', jwksUrl: 'http://127.0.0.1/j' }), TypeError)
  })
})

// Forged tokens only need *a* signature, not a fresh key; EdDSA signs fastest. Tests other
// than rotation use ES256 keys: RSA key generation and signing are slow, and key sourcing
// does not depend on the algorithm.
let cachedKey: ReturnType<typeof makeKey> | undefined
function makeKeyCached () {
  cachedKey ??= makeKey('EdDSA')
  return cachedKey
}
