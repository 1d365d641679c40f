// API key format: generation, strict parsing, hashing and constant-time matching.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  API_KEY_LENGTH, generateApiKey, hashSecret, looksLikeApiKey, parseApiKey, secretMatches,
} from '../../src/auth/api-key-format.ts'

describe('api key format', () => {
  test('generated keys parse back to their parts', () => {
    for (const env of ['live', 'test'] as const) {
      const k = generateApiKey(env)
      assert.equal(k.display.length, API_KEY_LENGTH)
      assert.ok(k.display.startsWith(`fs_${env}_`))
      assert.deepEqual(parseApiKey(k.display), { env, keyId: k.keyId, secret: k.secret })
      assert.equal(Buffer.from(k.secret, 'base64url').length, 32)
      assert.ok(!k.hash.includes(k.secret))
      assert.equal(k.hash, hashSecret(k.secret))
    }
  })

  test('keys are unique (CSPRNG)', () => {
    const ids = new Set<string>()
    const secrets = new Set<string>()
    for (let i = 0; i < 1000; i++) {
      const k = generateApiKey('test')
      ids.add(k.keyId)
      secrets.add(k.secret)
    }
    assert.equal(ids.size, 1000)
    assert.equal(secrets.size, 1000)
  })

  test('parse rejects wrong prefix, wrong length, bad alphabet, huge and non-string input', () => {
    const good = generateApiKey('live').display
    const body = good.slice('fs_live_'.length)
    const bad = [
      `fs_prod_${body}`, `FS_live_${body}`, `xs_live_${body}`, `fs_live${body}`, `sk_live_${body}`,
      good.slice(0, -1), `${good}A`, `fs_live_${body.slice(1)}`,
      `fs_live_${'G'.repeat(16)}${body.slice(16)}`, // key id not hex
      `fs_live_${body.slice(0, 16)}_${'+'.repeat(43)}`, // secret not base64url
      `fs_live_${body.slice(0, 16)}_${'='.repeat(43)}`,
      `${good}\n`, ` ${good}`, good.replace('_', '-'),
      'fs_' + 'a'.repeat(1_000_000), '', 'fs_', 'eyJhbGciOiJSUzI1NiJ9.e30.sig',
    ]
    for (const s of bad) assert.equal(parseApiKey(s), null, `accepted ${JSON.stringify(s.slice(0, 80))}`)
    for (const v of [undefined, null, 42, {}, [good]]) assert.equal(parseApiKey(v), null)
  })

  test('parse rejects a non-canonical secret encoding (stray low bits)', () => {
    const k = generateApiKey('live')
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const last = k.secret.at(-1)!
    // The last char carries 4 data bits + 2 padding bits; flipping a padding bit gives an
    // alias that decodes to the same bytes.
    const alias = alphabet[alphabet.indexOf(last) ^ 1]!
    const aliased = k.display.slice(0, -1) + alias
    assert.deepEqual(Buffer.from(aliased.slice(-43), 'base64url'), Buffer.from(k.secret, 'base64url'))
    assert.equal(parseApiKey(aliased), null)
  })

  test('looksLikeApiKey tells keys from JWTs', () => {
    assert.equal(looksLikeApiKey(generateApiKey('test').display), true)
    assert.equal(looksLikeApiKey('eyJhbGciOiJSUzI1NiJ9.e30.x'), false)
  })

  test('secretMatches: right secret true; wrong, truncated, malformed hash false', () => {
    const k = generateApiKey('live')
    assert.equal(secretMatches(k.hash, k.secret), true)
    assert.equal(secretMatches(k.hash.toUpperCase(), k.secret), true)
    assert.equal(secretMatches(hashSecret(k.secret, 'bytes'), k.secret), true)
    assert.equal(secretMatches(k.hash, generateApiKey('live').secret), false)
    assert.equal(secretMatches(k.hash, k.secret.slice(0, -1)), false)
    assert.equal(secretMatches(k.hash.slice(0, 62), k.secret), false)
    assert.equal(secretMatches('z'.repeat(64), k.secret), false)
    assert.equal(secretMatches(new Uint8Array(16), k.secret), false)
    assert.equal(secretMatches('', ''), false)
  })

  test('hashSecret is SHA-256 (known vector)', () => {
    assert.equal(hashSecret('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    assert.equal(hashSecret('abc', 'bytes').length, 32)
  })
})
