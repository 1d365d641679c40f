// Hash-then-sign envelopes: the signature covers SHA-512/256 of the whole body (with a
// domain prefix), so every body byte is still authenticated, and a signature made over
// the raw body (the v1 scheme) or over another prefix does not verify.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import nacl from 'tweetnacl'
import { Writer } from '../../crdt/codec.ts'
import { loadOrCreateIdentity } from '../../src/replication/identity.ts'
import { EnvelopeVerifier, parseEnvelope, sealEnvelope, signingInput, type EnvelopeBody } from '../../src/replication/envelope.ts'

const CLUSTER = 'test'

test('the signature is over prefix ‖ SHA-512/256(body), and verifies only as such', async () => {
  const a = await loadOrCreateIdentity()
  const b: EnvelopeBody = { cluster: CLUSTER, origin: a.peerId, shard: 0, firstSeq: 1, lastSeq: 2, sentAt: Date.now(), ops: new Uint8Array(randomBytes(20_000)) }
  const { bodyBytes, signature } = parseEnvelope(sealEnvelope(b, a.privateKey.raw))
  const pub = a.privateKey.publicKey.raw
  assert.ok(nacl.sign.detached.verify(signingInput(bodyBytes), signature, pub))
  assert.equal(nacl.sign.detached.verify(bodyBytes, signature, pub), false, 'not a signature over the raw body')
  assert.equal(signingInput(bodyBytes).length, 'form-state/envelope/v2\0'.length + 32)
})

test('a body signed directly (no digest) is rejected as bad_signature', async () => {
  const a = await loadOrCreateIdentity()
  const v = new EnvelopeVerifier<Uint8Array>({ cluster: CLUSTER, isMember: () => true, decode: (x) => x })
  const b: EnvelopeBody = { cluster: CLUSTER, origin: a.peerId, shard: 0, firstSeq: 1, lastSeq: 1, sentAt: Date.now(), ops: new Uint8Array(randomBytes(64)) }
  const { bodyBytes } = parseEnvelope(sealEnvelope(b, a.privateKey.raw))
  const w = new Writer(bodyBytes.length + 80)
  w.bytes(bodyBytes).raw(nacl.sign.detached(bodyBytes, a.privateKey.raw))
  const r = v.open(w.finish())
  assert.equal(r.ok, false)
  if (!r.ok) assert.equal(r.reason, 'bad_signature')
})

test('flipping any single bit of a 2 KB op payload is caught (every byte is covered)', async () => {
  const a = await loadOrCreateIdentity()
  const v = new EnvelopeVerifier<Uint8Array>({ cluster: CLUSTER, isMember: () => true, decode: (x) => x })
  const ops = new Uint8Array(randomBytes(2048))
  const good = sealEnvelope({ cluster: CLUSTER, origin: a.peerId, shard: 0, firstSeq: 1, lastSeq: 1, sentAt: Date.now(), ops }, a.privateKey.raw)
  // The op bytes sit just before the 64-byte signature; flip one bit in each of them.
  let rejected = 0
  for (let i = good.length - 64 - ops.length; i < good.length - 64; i += 7) {
    const t = Uint8Array.from(good)
    t[i]! ^= 1 << (i % 8)
    const r = v.open(t)
    if (!r.ok && r.reason === 'bad_signature') rejected++
  }
  assert.equal(rejected, Math.ceil(ops.length / 7))
})
