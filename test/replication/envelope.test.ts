// Signed batch envelopes: accepted whole or rejected whole, with the reason counted.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { loadOrCreateIdentity, type NodeIdentity } from '../../src/replication/identity.ts'
import {
  checkOpsMatchHeader, EnvelopeDecodeError, EnvelopeVerifier, parseEnvelope, sealEnvelope,
  type EnvelopeBody, type EnvelopeHeader, type RejectReason,
} from '../../src/replication/envelope.ts'
import type { Op } from '../../src/store/types.ts'

const CLUSTER = 'test'

function body (id: NodeIdentity, over: Partial<EnvelopeBody> = {}): EnvelopeBody {
  return { cluster: CLUSTER, origin: id.peerId, shard: 0, firstSeq: 1, lastSeq: 3, sentAt: Date.now(), ops: new Uint8Array(randomBytes(100)), ...over }
}

function verifier (members: NodeIdentity[], extra: { now?: () => number, decode?: (b: Uint8Array, h: EnvelopeHeader) => Uint8Array } = {}) {
  const rejections: RejectReason[] = []
  const ids = new Set(members.map((m) => m.peerId))
  const v = new EnvelopeVerifier<Uint8Array>({
    cluster: CLUSTER,
    isMember: (o) => ids.has(o),
    decode: extra.decode ?? ((b) => b),
    ...(extra.now !== undefined ? { now: extra.now } : {}),
    onReject: (r) => rejections.push(r),
  })
  return { v, rejections }
}

function expectReject (v: EnvelopeVerifier<Uint8Array>, bytes: Uint8Array, reason: RejectReason): void {
  const before = v.rejected[reason]
  const r = v.open(bytes)
  assert.equal(r.ok, false)
  if (!r.ok) assert.equal(r.reason, reason, r.detail)
  assert.equal(v.rejected[reason], before + 1)
}

test('a sealed envelope opens to the same header and op bytes', async () => {
  const a = await loadOrCreateIdentity()
  const { v } = verifier([a])
  const b = body(a)
  const r = v.open(sealEnvelope(b, a.privateKey.raw))
  assert.ok(r.ok)
  if (r.ok) {
    assert.deepEqual(r.ops, b.ops)
    assert.equal(r.header.origin, a.peerId)
    assert.equal(r.header.firstSeq, 1)
    assert.equal(r.header.lastSeq, 3)
  }
  assert.equal(v.accepted, 1)
})

test('garbled envelopes are rejected as garbled', async () => {
  const a = await loadOrCreateIdentity()
  const { v } = verifier([a])
  const good = sealEnvelope(body(a), a.privateKey.raw)
  expectReject(v, new Uint8Array(0), 'garbled')
  expectReject(v, new Uint8Array(randomBytes(200)), 'garbled')
  expectReject(v, good.subarray(0, good.length - 1), 'garbled') // truncated signature
  expectReject(v, Uint8Array.from([...good, 0]), 'garbled') // trailing byte
  expectReject(v, sealEnvelope(body(a, { cluster: 'other' }), a.privateKey.raw), 'garbled')
  expectReject(v, sealEnvelope(body(a, { firstSeq: 5, lastSeq: 4 }), a.privateKey.raw), 'garbled')
  assert.equal(v.accepted, 0)
})

test('unsigned, tampered and foreign-signed envelopes are rejected as bad_signature', async () => {
  const a = await loadOrCreateIdentity()
  const mallory = await loadOrCreateIdentity()
  const { v } = verifier([a])
  const good = sealEnvelope(body(a), a.privateKey.raw)
  const unsigned = Uint8Array.from(good)
  unsigned.fill(0, good.length - 64)
  expectReject(v, unsigned, 'bad_signature')
  // Flip one bit inside the op bytes (the last byte before the signature).
  const tampered = Uint8Array.from(good)
  tampered[good.length - 65]! ^= 1
  expectReject(v, tampered, 'bad_signature')
  // Mallory claims to be a (member) origin but signs with her own key.
  expectReject(v, sealEnvelope(body(a), mallory.privateKey.raw), 'bad_signature')
  // An origin that is not an ed25519 peer id at all.
  const v2 = new EnvelopeVerifier<Uint8Array>({ cluster: CLUSTER, isMember: () => true, decode: (b) => b })
  expectReject(v2, sealEnvelope(body(a, { origin: 'not-a-peer-id' }), a.privateKey.raw), 'bad_signature')
  assert.equal(v.accepted + v2.accepted, 0)
})

test('envelopes from non-members are rejected as not_member, even when validly signed', async () => {
  const a = await loadOrCreateIdentity()
  const stranger = await loadOrCreateIdentity()
  const { v } = verifier([a])
  expectReject(v, sealEnvelope(body(stranger), stranger.privateKey.raw), 'not_member')
})

test('an envelope seen before, or older than the window, is a replay', async () => {
  const a = await loadOrCreateIdentity()
  let now = 1_000_000_000
  const { v } = verifier([a], { now: () => now })
  const env = sealEnvelope(body(a, { sentAt: now }), a.privateKey.raw)
  assert.ok(v.open(env).ok)
  expectReject(v, env, 'replay')
  now += 11 * 60_000
  expectReject(v, sealEnvelope(body(a, { sentAt: now - 11 * 60_000, firstSeq: 4, lastSeq: 4 }), a.privateKey.raw), 'replay')
  assert.ok(v.open(sealEnvelope(body(a, { sentAt: now, firstSeq: 4, lastSeq: 4 }), a.privateKey.raw)).ok)
})

test('ops that fail to decode reject the whole envelope as decode_error, and it is not remembered', async () => {
  const a = await loadOrCreateIdentity()
  let fail = true
  const { v } = verifier([a], { decode: (b) => { if (fail) throw new EnvelopeDecodeError('bad ops'); return b } })
  const env = sealEnvelope(body(a), a.privateKey.raw)
  expectReject(v, env, 'decode_error')
  fail = false
  assert.ok(v.open(env).ok, 'a rejected envelope does not poison the replay cache')
})

test('parseEnvelope exposes the signed body bytes', async () => {
  const a = await loadOrCreateIdentity()
  const b = body(a, { shard: 7 })
  const p = parseEnvelope(sealEnvelope(b, a.privateKey.raw))
  assert.equal(p.body.shard, 7)
  assert.equal(p.signature.length, 64)
})

function op (origin: string, seq: number, shard = 0): Op {
  return { origin, seq, shard, hlc: { wall: 1, logical: 0 }, target: 'acct/x', changes: [] }
}

test('checkOpsMatchHeader refuses ops that disagree with the signed header', () => {
  const h: EnvelopeHeader = { cluster: CLUSTER, origin: 'A', shard: 0, firstSeq: 4, lastSeq: 6, sentAt: 0 }
  checkOpsMatchHeader([op('A', 4), op('A', 5), op('A', 6)], h)
  const bad: Op[][] = [
    [op('A', 4), op('A', 5)], // too few
    [op('A', 4), op('B', 5), op('A', 6)], // another origin's op under A's signature
    [op('A', 4), op('A', 5, 1), op('A', 6)], // wrong shard
    [op('A', 4), op('A', 6), op('A', 5)], // out of order
  ]
  for (const ops of bad) assert.throws(() => checkOpsMatchHeader(ops, h), EnvelopeDecodeError)
})
