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
const SECRET_CHARS = 43 // ceil(32 * 4 / 3) without padding
/** The exact length of every valid key string. */
export const API_KEY_LENGTH = 'fs_live_'.length + KEY_ID_BYTES * 2 + 1 + SECRET_CHARS
/** Inputs longer than this are rejected before any regex runs. */
const MAX_INPUT = 256

const KEY_RE = /^fs_(live|test)_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/

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
  if (typeof str !== 'string' || str.length > MAX_INPUT || str.length !== API_KEY_LENGTH) return null
  const m = KEY_RE.exec(str)
  if (m === null) return null
  const secret = m[3]!
  // Reject non-canonical encodings (stray low bits in the last character): two spellings
  // of one secret would otherwise both be accepted.
  const bytes = Buffer.from(secret, 'base64url')
  if (bytes.length !== SECRET_BYTES || bytes.toString('base64url') !== secret) return null
  return { env: m[1] as ApiKeyEnv, keyId: m[2]!, secret }
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
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'buffer') => Buffer }).hash

/** SHA-256 of `s` (UTF-8) as 32 bytes. */
export function sha256 (s: string): Buffer {
  return oneShot !== undefined ? oneShot('sha256', s, 'buffer') : createHash('sha256').update(s, 'utf8').digest()
}

const HEX64 = /^[0-9a-f]{64}$/i

/**
 * Whether `secret` hashes to the stored `hash` (hex string or 32 bytes), compared with
 * `crypto.timingSafeEqual`. A malformed stored hash never matches.
 */
export function secretMatches (hash: string | Uint8Array, secret: string): boolean {
  let stored: Uint8Array
  if (typeof hash === 'string') {
    if (!HEX64.test(hash)) return false
    stored = Buffer.from(hash, 'hex')
  } else {
    stored = hash
  }
  if (stored.length !== 32) return false
  return timingSafeEqual(stored, hashSecret(secret, 'bytes'))
}
