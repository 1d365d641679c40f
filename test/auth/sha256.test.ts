// sha256() (one-shot crypto.hash where Node has it) must equal createHash's digest for any
// text, or stored key hashes and service secrets would stop matching.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { generateApiKey, hashSecret, parseApiKey, secretMatches, sha256 } from '../../src/auth/api-key-format.ts'

test('sha256 equals createHash for ASCII, Unicode, empty and long text', () => {
  const texts = ['', 'abc', 'é€😀\u0000\uFFFD', 'x'.repeat(10_000), '\uD800 lone surrogate']
  for (let i = 0; i < 50; i++) texts.push(generateApiKey('test').display)
  for (const t of texts) {
    const want = createHash('sha256').update(t, 'utf8').digest()
    assert.deepEqual(sha256(t), want, JSON.stringify(t.slice(0, 20)))
    assert.equal(hashSecret(t), want.toString('hex'))
  }
  // The FIPS 180-2 test vector, so the reference itself is not what is being trusted.
  assert.equal(sha256('abc').toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
})

test('a generated key matches its own stored hash and no other', () => {
  const a = generateApiKey('test')
  const b = generateApiKey('test')
  assert.ok(secretMatches(a.hash, parseApiKey(a.display)!.secret))
  assert.ok(!secretMatches(a.hash, parseApiKey(b.display)!.secret))
})
