/**
 * API key wire format: `fs_<env>_<keyId>_<secret>`.
 *
 * - `env` is `live` (cluster nodes) or `test` (devnet), so a devnet key pasted into
 *   production is recognisably wrong.
 * - `keyId` is 16 lowercase hex characters (64 random bits): public, used to look the key
 *   up and shown in listings and audit events.
 * - `secret` is 32 CSPRNG bytes in base64url without padding (43 characters). Only its
 *   SHA-256 is stored; a fast hash is enough because the secret has 256 bits of entropy.
 *
 * Both parts have fixed lengths, so the `_` separator is unambiguous even though `_` is
 * also a base64url character.
 */
import * as crypto from 'node:crypto'
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/** Which deployment a key belongs to. */
export type ApiKeyEnv = 'live' | 'test'

/** A freshly generated key. `display` is shown to the user once, never stored. */
export interface GeneratedApiKey {
  readonly env: ApiKeyEnv
  readonly keyId: string
  readonly secret: string
  /** The whole key string the client sends. */
  readonly display: string
  /** SHA-256 of the secret, lowercase hex: the only part persisted. */
  readonly hash: string
}

/** The parts of a well-formed key string. */
export interface ParsedApiKey {
  readonly env: ApiKeyEnv
  readonly keyId: string
  readonly secret: string
}

/** Prefix every key starts with; distinguishes a key from a JWT (which starts with `ey`). */
export const API_KEY_PREFIX = 'fs_'

const KEY_ID_BYTES = 8
const SECRET_BYTES = 32
/** The exact length of every valid key string. */
export const API_KEY_LENGTH = 'fs_live_'.length + KEY_ID_BYTES * 2 + 1 + 43 // 43 = ceil(32 * 4 / 3), no padding
/** Inputs longer than this are rejected before any regex runs. */
const MAX_INPUT = 256

// One test, no captures: the parts sit at fixed offsets. The secret's last character is
// one of the 16 whose two low bits are zero: 43 base64url characters carry 258 bits for
// 256, so exactly these spell a canonical 32-byte secret (any other last character is an
// alias with stray padding bits that decodes to the same bytes). Equivalent to decoding
// and re-encoding, without the Buffer round trip (~0.3 µs a request).
const KEY_RE = /^fs_(?:live|test)_[0-9a-f]{16}_[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/
const ENV_AT = 'fs_'.length
const KEY_ID_AT = 'fs_live_'.length
const SECRET_AT = KEY_ID_AT + KEY_ID_BYTES * 2 + 1

/** Generates a new key for `env` from the CSPRNG. */
export function generateApiKey (env: ApiKeyEnv): GeneratedApiKey {
  if (env !== 'live' && env !== 'test') throw new TypeError(`unknown api key env: ${String(env)}`)
  const keyId = randomBytes(KEY_ID_BYTES).toString('hex')
  const secret = randomBytes(SECRET_BYTES).toString('base64url')
  return { env, keyId, secret, display: `fs_${env}_${keyId}_${secret}`, hash: hashSecret(secret) }
}

/**
 * Parses a key string strictly: exact prefix, lengths and alphabets, and a canonical
 * base64url secret that decodes to exactly 32 bytes. Anything else is `null`.
 */
export function parseApiKey (str: unknown): ParsedApiKey | null {
  if (typeof str !== 'string' || str.length > MAX_INPUT || str.length !== API_KEY_LENGTH || !KEY_RE.test(str)) return null
  return {
    env: str.charCodeAt(ENV_AT) === 108 /* l */ ? 'live' : 'test',
    keyId: str.slice(KEY_ID_AT, KEY_ID_AT + KEY_ID_BYTES * 2),
    secret: str.slice(SECRET_AT),
  }
}

/** True when `str` has the key prefix: the cheap test that routes a credential to key auth. */
export function looksLikeApiKey (str: string): boolean {
  return str.startsWith(API_KEY_PREFIX)
}

/** SHA-256 of a secret, as lowercase hex (default) or raw bytes. */
export function hashSecret (secret: string): string
export function hashSecret (secret: string, encoding: 'hex'): string
export function hashSecret (secret: string, encoding: 'bytes'): Buffer
export function hashSecret (secret: string, encoding: 'hex' | 'bytes' = 'hex'): string | Buffer {
  const digest = sha256(secret)
  return encoding === 'bytes' ? digest : digest.toString('hex')
}

// One-shot `crypto.hash` (Node >= 20.12) is ~1.4 µs for a key's secret; a `createHash`
// object (a stream wrapper) per call was ~4.5 µs, on every API-key and service request.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'buffer' | 'latin1') => Buffer | string }).hash

/** SHA-256 of `s` (UTF-8) as 32 bytes. */
export function sha256 (s: string): Buffer {
  return oneShot !== undefined ? oneShot('sha256', s, 'buffer') as Buffer : createHash('sha256').update(s, 'utf8').digest()
}

// Scratch for the comparisons below. Each is filled and compared synchronously in one call,
// so one pair serves every call: a digest returned as a Buffer costs a fresh ArrayBuffer
// backing store (~0.3 µs plus GC work), as a latin1 string it does not.
const storedScratch = Buffer.alloc(32)
const digestScratch = Buffer.alloc(32)

/**
 * Whether SHA-256(`s`) (UTF-8) equals `expected`, compared with `crypto.timingSafeEqual`;
 * false for an `expected` that is not 32 bytes. Allocates no Buffer.
 */
export function sha256Equals (expected: Uint8Array, s: string): boolean {
  if (expected.length !== 32) return false
  if (oneShot !== undefined) digestScratch.write(oneShot('sha256', s, 'latin1') as string, 0, 32, 'latin1')
  else createHash('sha256').update(s, 'utf8').digest().copy(digestScratch)
  return timingSafeEqual(expected, digestScratch)
}

/**
 * Whether `secret` hashes to the stored `hash` (hex string, either case, or 32 bytes),
 * compared with `crypto.timingSafeEqual`. A malformed stored hash never matches.
 */
export function secretMatches (hash: string | Uint8Array, secret: string): boolean {
  if (typeof hash !== 'string') return sha256Equals(hash, secret)
  // Hex decoding stops at the first non-hex pair: 32 bytes from 64 characters means all were hex.
  if (hash.length !== 64 || storedScratch.write(hash, 0, 32, 'hex') !== 32) return false
  return sha256Equals(storedScratch, secret)
}
