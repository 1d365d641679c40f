// Envelope signatures come from node:crypto; they must be exactly the ed25519 signatures
// tweetnacl (the library DESIGN.md names) makes from the same libp2p key, and verify both ways.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import nacl from 'tweetnacl'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { ed25519Sign, ed25519Verify, signingKey, verifyingKey } from '../../src/replication/ed25519.ts'

test('node:crypto and tweetnacl make identical signatures from a libp2p ed25519 key', async () => {
  for (let i = 0; i < 20; i++) {
    const key = await generateKeyPair('Ed25519')
    const msg = randomBytes(1 + i * 97)
    const ours = ed25519Sign(signingKey(key.raw), msg)
    const theirs = nacl.sign.detached(msg, key.raw)
    assert.deepEqual(ours, theirs)
    assert.ok(nacl.sign.detached.verify(msg, ours, key.publicKey.raw))
    assert.ok(ed25519Verify(verifyingKey(key.publicKey.raw), msg, theirs))
  }
})

test('a wrong key, a changed message or a malformed signature does not verify', async () => {
  const a = await generateKeyPair('Ed25519')
  const b = await generateKeyPair('Ed25519')
  const msg = randomBytes(64)
  const sig = ed25519Sign(signingKey(a.raw), msg)
  assert.ok(ed25519Verify(verifyingKey(a.publicKey.raw), msg, sig))
  assert.equal(ed25519Verify(verifyingKey(b.publicKey.raw), msg, sig), false)
  const changed = Uint8Array.from(msg); changed[0]! ^= 1
  assert.equal(ed25519Verify(verifyingKey(a.publicKey.raw), changed, sig), false)
  assert.equal(ed25519Verify(verifyingKey(a.publicKey.raw), msg, sig.subarray(0, 63)), false)
  assert.equal(ed25519Verify(verifyingKey(a.publicKey.raw), msg, new Uint8Array(64)), false)
  assert.throws(() => signingKey(new Uint8Array(31)), TypeError)
})
