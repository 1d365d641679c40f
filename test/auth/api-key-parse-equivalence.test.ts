// parseApiKey checks canonical secrets by their last character instead of decoding and
// re-encoding them. This holds it to the decoding definition on every last character and
// on seeded random near-keys (replay with FORMSTATE_SEED), and checks the Buffer-free
// digest comparison against a stored hash of either case and malformed hashes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { generateApiKey, hashSecret, parseApiKey, secretMatches, sha256Equals } from '../../src/auth/api-key-format.ts'
import { rng, testSeed } from '../support/seed.ts'

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

// The definition: the strict shape, and a secret that decodes to 32 bytes which encode back to it.
function reference (str: string): { env: string, keyId: string, secret: string } | null {
  const m = /^fs_(live|test)_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/.exec(str)
  if (m === null) return null
  const bytes = Buffer.from(m[3]!, 'base64url')
  if (bytes.length !== 32 || bytes.toString('base64url') !== m[3]) return null
  return { env: m[1]!, keyId: m[2]!, secret: m[3]! }
}

test('every last character of the secret: accepted exactly when the encoding is canonical', () => {
  const k = generateApiKey('test')
  let accepted = 0
  for (const c of B64URL) {
    const s = k.display.slice(0, -1) + c
    assert.deepEqual(parseApiKey(s), reference(s), `last char ${c}`)
    if (parseApiKey(s) !== null) accepted++
  }
  assert.equal(accepted, 16) // 4 data bits in the last character
})

test('seeded near-keys parse as the decoding definition says', () => {
  const next = rng(testSeed('api key parse equivalence'))
  const alphabet = B64URL + '=+/. \n' + 'fs_livetG'
  let valid = 0
  for (let i = 0; i < 3000; i++) {
    const k = generateApiKey(next() < 0.5 ? 'live' : 'test')
    const chars = [...k.display]
    // 0-3 random edits: replace, delete or insert a character anywhere.
    const edits = Math.floor(next() * 4)
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(next() * (chars.length + 1))
      const c = alphabet[Math.floor(next() * alphabet.length)]!
      const op = next()
      if (op < 0.6) chars[Math.min(at, chars.length - 1)] = c
      else if (op < 0.8) chars.splice(at, 1)
      else chars.splice(at, 0, c)
    }
    const s = chars.join('')
    const want = reference(s)
    assert.deepEqual(parseApiKey(s), want, JSON.stringify(s))
    if (want !== null) valid++
  }
  assert.ok(valid > 0 && valid < 3000, `${valid} valid: both outcomes exercised`)
})

test('secretMatches and sha256Equals without per-call Buffers: same answers as a fresh digest', () => {
  const a = generateApiKey('live')
  const b = generateApiKey('live')
  // Interleaved calls: the shared scratch must not carry one answer into the next.
  for (let i = 0; i < 3; i++) {
    assert.equal(secretMatches(a.hash, a.secret), true)
    assert.equal(secretMatches(a.hash, b.secret), false)
    assert.equal(secretMatches(b.hash, b.secret), true)
    assert.equal(secretMatches(b.hash.toUpperCase(), b.secret), true)
  }
  // A non-hex character anywhere, or a wrong length, never matches.
  for (const at of [0, 31, 62, 63]) {
    const bad = a.hash.slice(0, at) + 'g' + a.hash.slice(at + 1)
    assert.equal(secretMatches(bad, a.secret), false, `non-hex at ${at}`)
  }
  assert.equal(secretMatches(a.hash + '00', a.secret), false)
  const digest = createHash('sha256').update('é€ unicode', 'utf8').digest()
  assert.equal(sha256Equals(digest, 'é€ unicode'), true)
  assert.equal(sha256Equals(digest, 'é€ unicodE'), false)
  assert.equal(sha256Equals(digest.subarray(0, 31), 'é€ unicode'), false)
  assert.equal(hashSecret('é€ unicode'), digest.toString('hex'))
})
