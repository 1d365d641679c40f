// The verifier's cache of verified tokens (src/auth/jwt.ts): a token verified once is
// reused (the same principal object comes back), but never past its expiry (as jose
// decides it, with the clock tolerance), never longer than maxAgeMs, within a bounded LRU,
// and a token differing in any byte is verified in full.
import '../../src/polyfill.ts'
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createJwtVerifier, type JwtVerifierOptions } from '../../src/auth/jwt.ts'
import { isFormStateError } from '../../src/errors.ts'
import { claims, makeKey, startKeyServer, token, type KeyServer, type TestKey } from './jwt-fixtures.ts'

let server: KeyServer
let key: TestKey
const clock = { now: Date.now() }

before(async () => {
  key = makeKey('RS256')
  server = await startKeyServer([key])
})
after(async () => { await server.close() })

function verifier (extra: Partial<JwtVerifierOptions> = {}) {
  return createJwtVerifier({ issuer: server.base, audience: 'form-state', keys: { type: 'jwks_url', url: server.jwksUrl }, now: () => clock.now, ...extra })
}

const nowS = (): number => Math.floor(clock.now / 1000)
const tokenFor = (sub: string, exp = nowS() + 600): string => token(key, claims(server.base, { sub, iat: nowS(), exp }))

async function codeOf (p: Promise<unknown>): Promise<string> {
  try { await p; return 'ok' } catch (err) { assert.ok(isFormStateError(err)); return err.code }
}

test('a verified token is reused: the same principal comes back; with the cache off it is verified anew', async () => {
  const t = tokenFor('reuse@x')
  const v = verifier()
  const p1 = await v.verify(t)
  assert.equal(await v.verify(t), p1)
  const off = verifier({ verifiedCache: { maxEntries: 0 } })
  const q1 = await off.verify(t)
  const q2 = await off.verify(t)
  assert.notEqual(q1, q2)
  assert.deepEqual(q1, q2)
})

test('a cached token is refused once it expires (exp + clock tolerance), as an uncached one is', async () => {
  const start = clock.now
  try {
    const t = tokenFor('expiry@x', nowS() + 60)
    const v = verifier({ clockToleranceSec: 30 })
    assert.equal(await codeOf(v.verify(t)), 'ok')
    clock.now += 80_000 // past exp, within the tolerance
    assert.equal(await codeOf(v.verify(t)), 'ok')
    clock.now += 20_000 // past exp + tolerance
    assert.equal(await codeOf(v.verify(t)), 'invalid_token')
  } finally { clock.now = start }
})

test('an entry is reverified after maxAgeMs, and never outlives the key set cache', async () => {
  const start = clock.now
  try {
    const t = tokenFor('age@x')
    const v = verifier({ verifiedCache: { maxAgeMs: 1_000 } })
    const p1 = await v.verify(t)
    clock.now += 500
    assert.equal(await v.verify(t), p1)
    clock.now += 1_000
    const p2 = await v.verify(t)
    assert.notEqual(p2, p1, 'reverified after maxAgeMs')
    // The key set is trusted for 200 ms: the token cache may not keep longer than that.
    const short = verifier({ cacheMaxAgeMs: 200, verifiedCache: { maxAgeMs: 60_000 } })
    const s1 = await short.verify(t)
    clock.now += 300
    assert.notEqual(await short.verify(t), s1)
  } finally { clock.now = start }
})

test('the cache is a bounded LRU', async () => {
  const v = verifier({ verifiedCache: { maxEntries: 2 } })
  const [a, b, c] = ['lru-a@x', 'lru-b@x', 'lru-c@x'].map((s) => tokenFor(s))
  const pa = await v.verify(a!)
  const pb = await v.verify(b!)
  assert.equal(await v.verify(a!), pa) // a is now the most recently used
  const pc = await v.verify(c!) // evicts b
  assert.equal(await v.verify(a!), pa)
  assert.equal(await v.verify(c!), pc)
  assert.notEqual(await v.verify(b!), pb, 'b was evicted and verified anew')
})

test('LRU order holds when the most recent entry is hit again and again', async () => {
  const v = verifier({ verifiedCache: { maxEntries: 2 } })
  const [a, b, c, d] = ['mru-a@x', 'mru-b@x', 'mru-c@x', 'mru-d@x'].map((s) => tokenFor(s))
  const pa = await v.verify(a!)
  const pb = await v.verify(b!)
  assert.equal(await v.verify(b!), pb) // already most recent
  assert.equal(await v.verify(b!), pb)
  assert.equal(await v.verify(a!), pa) // a moves behind b
  assert.equal(await v.verify(a!), pa)
  await v.verify(c!) // evicts b, the least recently used
  assert.notEqual(await v.verify(b!), pb, 'b was evicted') // now cached again, evicting a
  assert.equal(v.cached!(a!), undefined, 'a was evicted by b')
  await v.verify(d!) // evicts c (b was used after it)
  assert.equal(v.cached!(c!), undefined)
  assert.ok(v.cached!(b!) !== undefined)
})

test('a token differing in one byte is verified in full, not served from the cache', async () => {
  const t = tokenFor('forge@x')
  const v = verifier()
  assert.equal(await codeOf(v.verify(t)), 'ok')
  const sig = t.slice(t.lastIndexOf('.') + 1)
  const forged = t.slice(0, t.lastIndexOf('.') + 1) + (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1)
  assert.equal(await codeOf(v.verify(forged)), 'invalid_token')
  assert.equal(await codeOf(v.verify(t)), 'ok')
})

test('cached() answers what verify() would from its cache, synchronously, and nothing else', async () => {
  const start = clock.now
  try {
    const t = tokenFor('sync@x', nowS() + 60)
    const v = verifier({ clockToleranceSec: 30 })
    assert.equal(v.cached!(t), undefined, 'not verified yet')
    const p = await v.verify(t)
    assert.equal(v.cached!(t), p)
    const sig = t.slice(t.lastIndexOf('.') + 1)
    assert.equal(v.cached!(t.slice(0, t.lastIndexOf('.') + 1) + (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1)), undefined, 'same tail, other token')
    assert.equal(v.cached!(t.slice(1)), undefined)
    assert.equal(v.cached!(''), undefined)
    clock.now += 100_000 // past exp + tolerance
    assert.equal(v.cached!(t), undefined)
    assert.equal(await codeOf(v.verify(t)), 'invalid_token')
  } finally { clock.now = start }
})

test('a token with whitespace is never cached (whatever jose makes of it)', async () => {
  const v = verifier()
  const t = tokenFor('ws@x')
  for (const odd of [`${t} `, `${t}\t`, ` ${t}`]) {
    const first = await codeOf(v.verify(odd))
    assert.equal(v.cached!(odd), undefined, JSON.stringify(odd.replace(t, '<t>')) + ' ' + first)
  }
})
