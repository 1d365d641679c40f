// The verified-token cache against a real JWKS server: when a refetch of the key set (made
// for another token) no longer lists the kid a cached token was verified with, that token
// is refused at once instead of being served from the cache for up to maxAgeMs; tokens of
// keys still listed stay cached; a token without a kid is verified in full again.
import '../../src/polyfill.ts'
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createJwtVerifier } from '../../src/auth/jwt.ts'
import { isFormStateError } from '../../src/errors.ts'
import { claims, makeKey, nowS, signToken, sleep, startKeyServer, token, type KeyServer, type TestKey } from './jwt-fixtures.ts'

let server: KeyServer
let k1: TestKey, k2: TestKey, k3: TestKey
before(async () => {
  k1 = makeKey('RS256'); k2 = makeKey('RS256'); k3 = makeKey('RS256')
  server = await startKeyServer([k1, k2])
})
after(async () => { await server.close() })

async function codeOf (p: Promise<unknown>): Promise<string> {
  try { await p; return 'ok' } catch (err) { assert.ok(isFormStateError(err)); return err.code }
}

// Cooldown 1 ms: a token with an unknown kid makes the verifier refetch the set at once.
const verifier = () => createJwtVerifier({ issuer: server.base, audience: 'form-state', keys: { type: 'jwks_url', url: server.jwksUrl }, cooldownMs: 1 })
const tokenOf = (k: TestKey, sub: string) => token(k, claims(server.base, { sub, exp: nowS() + 600 }))

test('a cached token of a key withdrawn from the JWKS is refused after the next refetch; other keys stay cached', async () => {
  server.keys = [k1.jwk, k2.jwk]
  const v = verifier()
  const t1 = tokenOf(k1, 'one@x')
  const t2 = tokenOf(k2, 'two@x')
  await v.verify(t1)
  const p2 = await v.verify(t2)
  assert.equal(await codeOf(v.verify(t1)), 'ok')

  // The issuer withdraws k1 and publishes k3; nothing has refetched yet.
  server.keys = [k2.jwk, k3.jwk]
  assert.equal(await codeOf(v.verify(t1)), 'ok', 'until a refetch the cache cannot know')
  const fetches = server.jwksFetches
  await sleep(5) // past the 1 ms cooldown
  assert.equal(await codeOf(v.verify(tokenOf(k3, 'three@x'))), 'ok', 'the new kid makes the verifier refetch')
  assert.ok(server.jwksFetches > fetches, 'the set was fetched again')

  assert.equal(await codeOf(v.verify(t1)), 'invalid_token', 'the withdrawn key\'s token is no longer served from the cache')
  assert.equal(await v.verify(t2), p2, 'a token of a key still listed is still a cache hit (same principal object)')
})

test('a cached token without a kid is verified in full again after a refetch', async () => {
  server.keys = [k1.jwk]
  const v = verifier()
  const noKid = signToken({ alg: 'RS256', typ: 'JWT' }, claims(server.base, { sub: 'nokid@x', exp: nowS() + 600 }), k1)
  const p = await v.verify(noKid)
  assert.equal(await v.verify(noKid), p, 'cached')
  await sleep(5)
  assert.equal(await codeOf(v.verify(tokenOf(k3, 'unknown-kid@x'))), 'invalid_token', 'an unknown kid: refetch, still unknown')
  const again = await v.verify(noKid)
  assert.notEqual(again, p, 'verified anew after the refetch')
  assert.deepEqual(again, p)
  server.keys = [k3.jwk]
  await sleep(5)
  await v.verify(tokenOf(k3, 'refetch@x'))
  assert.equal(await codeOf(v.verify(noKid)), 'invalid_token', 'k1 is gone: the kid-less token is refused')
})
