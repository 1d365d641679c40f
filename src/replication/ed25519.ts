/**
 * Ed25519 signatures for envelopes, through node:crypto (OpenSSL).
 *
 * DESIGN.md names tweetnacl; we depart from it here for speed only. Ed25519 is
 * deterministic, so node:crypto produces exactly tweetnacl's signatures from the same key
 * and both verify each other's (test/replication/ed25519.test.ts checks this), but
 * tweetnacl's pure-JS curve arithmetic costs ~3.5 ms per sign and ~5 ms per verify here,
 * against ~0.1 ms natively: at 1,000 writes/s (about 200 batches a second per node, each
 * verified by every peer) tweetnacl alone saturated both cores.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto'

// DER prefixes of PKCS#8 (private) and SPKI (public) Ed25519 keys; the raw key follows.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

/**
 * A signing key from libp2p's raw Ed25519 private key: 64 bytes (seed ‖ public key, the
 * nacl layout) or the 32-byte seed.
 */
export function signingKey (raw: Uint8Array): KeyObject {
  if (raw.length !== 64 && raw.length !== 32) throw new TypeError(`ed25519 private key must be 32 or 64 bytes, got ${raw.length}`)
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw.subarray(0, 32)]), format: 'der', type: 'pkcs8' })
}

/** A verification key from a raw 32-byte Ed25519 public key. */
export function verifyingKey (raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new TypeError(`ed25519 public key must be 32 bytes, got ${raw.length}`)
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
}

export function ed25519Sign (key: KeyObject, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, key))
}

export function ed25519Verify (key: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false
  try {
    return verify(null, message, key, signature)
  } catch {
    return false
  }
}
