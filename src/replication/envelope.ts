/**
 * Signed batch envelope: how a replica's committed ops travel over gossip.
 *
 * Wire format (crdt/codec varints): `bytes(body) ‖ signature[64]`, where body is
 *
 * ```
 * u8 version(1) · string cluster · string origin · uint shard
 * · uint firstSeq · uint lastSeq · uint sentAt(ms) · bytes ops
 * ```
 *
 * ONE ed25519 signature (node:crypto, see ed25519.ts for why not tweetnacl) covers the
 * whole encoded body, so a batch of 256 ops costs one sign and one verify. What is signed
 * is `"form-state/envelope/v2\0" ‖ SHA-512/256(body)`: the digest covers every byte of
 * the body (collision resistance of SHA-512/256, 128-bit), and the prefix keeps these
 * signatures from meaning anything elsewhere. The origin is the signer's peer id; its public key is
 * recovered from the ed25519 peer id itself (the identity multihash inlines the key), so
 * no key exchange is needed. The cluster name is inside the signed body so an envelope
 * cannot be replayed into another cluster's topic.
 *
 * An envelope is accepted whole or rejected whole — `open()` decodes every op before it
 * returns anything, and the caller applies nothing on rejection. Reasons, checked in this
 * order (cheap checks first, and nothing unauthenticated reaches the replay cache):
 * - `garbled`       the outer framing or the body header does not parse, wrong cluster
 * - `not_member`    the origin is not a member (membership.ts)
 * - `bad_signature` the origin is not an ed25519 peer id or the signature does not verify
 * - `replay`        this exact envelope was accepted before (or is older than the window;
 *                   age is our clock minus the sender's `sentAt`, so a sender whose clock
 *                   lags by more than the window has its gossip refused — its ops still
 *                   arrive through anti-entropy, which does not use envelopes)
 * - `decode_error`  the ops do not decode, or do not match the header (origin, shard, seqs)
 */
import { createHash, type KeyObject } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { Reader, Writer } from '../../crdt/codec.ts'
import { ed25519Sign, ed25519Verify, signingKey, verifyingKey } from './ed25519.ts'
import type { Op, ShardId } from '../store/types.ts'

export const ENVELOPE_VERSION = 2
/** Domain separation for what the origin signs (see the module header). */
const SIGNING_PREFIX = new TextEncoder().encode('form-state/envelope/v2\0')

/** What is signed for a body: prefix ‖ SHA-512/256(body). */
export function signingInput (bodyBytes: Uint8Array): Uint8Array {
  const digest = createHash('sha512-256').update(bodyBytes).digest()
  const out = new Uint8Array(SIGNING_PREFIX.length + digest.length)
  out.set(SIGNING_PREFIX, 0)
  out.set(digest, SIGNING_PREFIX.length)
  return out
}
export const SIGNATURE_LENGTH = 64

/** What an envelope says, before its ops are decoded. */
export interface EnvelopeHeader {
  readonly cluster: string
  /** Peer id string of the signer: the replica id of every op inside. */
  readonly origin: string
  readonly shard: ShardId
  /** Seq range of the ops inside (the origin's own ops are contiguous in its log). */
  readonly firstSeq: number
  readonly lastSeq: number
  /** Sender's clock when sealed (ms); bounds how long replays are remembered. */
  readonly sentAt: number
}

export interface EnvelopeBody extends EnvelopeHeader {
  /** The op batch, encoded by the store's op codec. */
  readonly ops: Uint8Array
}

export type RejectReason = 'garbled' | 'not_member' | 'bad_signature' | 'replay' | 'decode_error'
export const REJECT_REASONS: readonly RejectReason[] = ['garbled', 'not_member', 'bad_signature', 'replay', 'decode_error']

/** Thrown by a decoder when ops do not decode or disagree with the header. */
export class EnvelopeDecodeError extends Error {
  override name = 'EnvelopeDecodeError'
}

function encodeBody (b: EnvelopeBody): Uint8Array {
  const w = new Writer(b.ops.length + 128)
  w.u8(ENVELOPE_VERSION).string(b.cluster).string(b.origin).uint(b.shard)
  w.uint(b.firstSeq).uint(b.lastSeq).uint(b.sentAt).bytes(b.ops)
  return w.finish()
}

function decodeBody (bytes: Uint8Array): EnvelopeBody {
  const r = new Reader(bytes)
  const version = r.u8()
  if (version !== ENVELOPE_VERSION) throw new Error(`unknown envelope version ${version}`)
  const body = { cluster: r.string(), origin: r.string(), shard: r.uint(), firstSeq: r.uint(), lastSeq: r.uint(), sentAt: r.uint(), ops: r.bytes() }
  r.end()
  if (body.firstSeq < 1 || body.lastSeq < body.firstSeq) throw new Error(`bad seq range ${body.firstSeq}..${body.lastSeq}`)
  return body
}

/**
 * Seal a batch: encode the body and sign it with the origin's ed25519 key.
 * @param secretKey nacl secret key, 64 bytes (libp2p `Ed25519PrivateKey.raw`)
 */
export function sealEnvelope (body: EnvelopeBody, secretKey: Uint8Array | KeyObject): Uint8Array {
  const bodyBytes = encodeBody(body)
  const key = secretKey instanceof Uint8Array ? signingKey(secretKey) : secretKey
  const sig = ed25519Sign(key, signingInput(bodyBytes))
  const w = new Writer(bodyBytes.length + SIGNATURE_LENGTH + 8)
  w.bytes(bodyBytes).raw(sig)
  return w.finish()
}

/** Split an envelope into body and signature; throws when the framing is wrong. */
export function parseEnvelope (bytes: Uint8Array): { body: EnvelopeBody, bodyBytes: Uint8Array, signature: Uint8Array } {
  const r = new Reader(bytes)
  const bodyBytes = r.bytes()
  const signature = r.raw(SIGNATURE_LENGTH)
  r.end()
  return { body: decodeBody(bodyBytes), bodyBytes, signature }
}

export type OpenResult<T> =
  | { ok: true, header: EnvelopeHeader, ops: T }
  | { ok: false, reason: RejectReason, detail: string, origin?: string }

export interface VerifierOptions<T> {
  cluster: string
  isMember: (origin: string) => boolean
  /** Decode the op bytes fully; throw (any error) to reject the whole envelope. */
  decode: (ops: Uint8Array, header: EnvelopeHeader) => T
  /** Envelopes older than this are treated as replays (ms). Default 10 minutes. */
  replayWindowMs?: number
  /** How many accepted envelopes to remember for replay detection. Default 100 000. */
  maxRemembered?: number
  now?: () => number
  /** Called on every rejection (after counting), e.g. to log it. */
  onReject?: (reason: RejectReason, detail: string, origin?: string) => void
}

/** Checks envelopes and counts rejections by reason. One per node. */
export class EnvelopeVerifier<T> {
  readonly rejected: Record<RejectReason, number> = { garbled: 0, not_member: 0, bad_signature: 0, replay: 0, decode_error: 0 }
  accepted = 0
  private readonly keys = new Map<string, KeyObject | null>()
  /** Signature (hex) → sentAt of accepted envelopes, oldest first (Map keeps insertion order). */
  private readonly seen = new Map<string, number>()
  private readonly windowMs: number
  private readonly maxRemembered: number
  private readonly now: () => number

  constructor (private readonly opts: VerifierOptions<T>) {
    this.windowMs = opts.replayWindowMs ?? 10 * 60_000
    this.maxRemembered = opts.maxRemembered ?? 100_000
    this.now = opts.now ?? Date.now
  }

  /** Ed25519 public key of a peer id, or null when the id is not an ed25519 one. Cached. */
  publicKeyOf (origin: string): KeyObject | null {
    let key = this.keys.get(origin)
    if (key === undefined) {
      try {
        const id = peerIdFromString(origin)
        key = id.type === 'Ed25519' ? verifyingKey(id.publicKey.raw) : null
      } catch {
        key = null
      }
      if (this.keys.size > 10_000) this.keys.clear()
      this.keys.set(origin, key)
    }
    return key
  }

  private reject (reason: RejectReason, detail: string, origin?: string): OpenResult<T> {
    this.rejected[reason]++
    this.opts.onReject?.(reason, detail, origin)
    return origin === undefined ? { ok: false, reason, detail } : { ok: false, reason, detail, origin }
  }

  /** Verify and decode an envelope. Never throws; a rejection says why. */
  open (bytes: Uint8Array): OpenResult<T> {
    let parsed: ReturnType<typeof parseEnvelope>
    try {
      parsed = parseEnvelope(bytes)
    } catch (err) {
      return this.reject('garbled', (err as Error).message)
    }
    const { body, bodyBytes, signature } = parsed
    if (body.cluster !== this.opts.cluster) return this.reject('garbled', `envelope for cluster ${body.cluster}`, body.origin)
    if (!this.opts.isMember(body.origin)) return this.reject('not_member', 'origin is not a member', body.origin)
    const key = this.publicKeyOf(body.origin)
    if (key === null) return this.reject('bad_signature', 'origin is not an ed25519 peer id', body.origin)
    if (!ed25519Verify(key, signingInput(bodyBytes), signature)) return this.reject('bad_signature', 'signature does not verify', body.origin)
    const id = Buffer.from(signature).toString('hex')
    const now = this.now()
    if (this.seen.has(id)) return this.reject('replay', `envelope ${body.firstSeq}..${body.lastSeq} seen before`, body.origin)
    if (now - body.sentAt > this.windowMs) return this.reject('replay', `envelope sealed ${now - body.sentAt} ms ago, beyond the replay window`, body.origin)
    let ops: T
    try {
      ops = this.opts.decode(body.ops, body)
    } catch (err) {
      return this.reject('decode_error', (err as Error).message, body.origin)
    }
    this.remember(id, body.sentAt, now)
    this.accepted++
    const { ops: _bytes, ...header } = body
    return { ok: true, header, ops }
  }

  private remember (id: string, sentAt: number, now: number): void {
    this.seen.set(id, sentAt)
    // Forget envelopes past the window (they are refused by age anyway) and cap the size.
    for (const [k, t] of this.seen) {
      if (this.seen.size <= this.maxRemembered && now - t <= this.windowMs) break
      this.seen.delete(k)
    }
  }
}

/**
 * Check that decoded ops are exactly what the signed header claims: all from the origin
 * (a member must not be able to slip ops under another replica's id into its own signed
 * batch), all in the shard, seqs firstSeq..lastSeq in order with no gap.
 */
export function checkOpsMatchHeader (ops: readonly Op[], h: EnvelopeHeader): void {
  if (ops.length !== h.lastSeq - h.firstSeq + 1) throw new EnvelopeDecodeError(`${ops.length} op(s) for seq range ${h.firstSeq}..${h.lastSeq}`)
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!
    if (op.origin !== h.origin) throw new EnvelopeDecodeError(`op from ${op.origin} in an envelope from ${h.origin}`)
    if (op.shard !== h.shard) throw new EnvelopeDecodeError(`op for shard ${op.shard} in an envelope for shard ${h.shard}`)
    if (op.seq !== h.firstSeq + i) throw new EnvelopeDecodeError(`op seq ${op.seq} where ${h.firstSeq + i} was expected`)
  }
}
