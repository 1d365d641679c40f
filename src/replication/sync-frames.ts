/**
 * Frames of the anti-entropy protocol `/form-state/sync/1.0.0`. Each frame is one
 * length-prefixed message on the stream: `u8 type ‖ payload` (crdt/codec varints).
 *
 * ```
 * requester                          responder
 *   REQUEST{cluster, shard, vv, members, retired}  →
 *                                     ←  HELLO{vv, compactedVv, members, retired}
 *                                     ←  SNAP_CHUNK{bytes}* SNAP_END   (only when needed)
 *                                     ←  OPS{encoded ops}*
 *                                     ←  END{ops, more}  |  ERROR{code, message}
 * ```
 * A snapshot is sent when the responder compacted ops the requester still lacks
 * (its compacted vector is not dominated by the requester's vector). `members` vouch for
 * peers, `retired` spreads retirements (membership.ts); 1.1.0 added `retired`.
 */
import { Reader, Writer } from '../../crdt/codec.ts'
import { decodeVv, encodeVv, type VersionVector } from '../../crdt/version-vector.ts'
import type { ShardId } from '../store/types.ts'

export const SYNC_PROTOCOL = '/form-state/sync/1.1.0'
/** Largest frame either side accepts (bytes). */
export const MAX_FRAME = 4 * 1024 * 1024
/** Snapshot bytes per SNAP_CHUNK frame. */
export const SNAPSHOT_CHUNK = 1024 * 1024
const MAX_MEMBERS = 4096

export type Frame =
  | { type: 'request', cluster: string, shard: ShardId, vv: VersionVector, members: string[], retired: string[] }
  | { type: 'hello', vv: VersionVector, compactedVv: VersionVector, members: string[], retired: string[] }
  | { type: 'snap_chunk', bytes: Uint8Array }
  | { type: 'snap_end' }
  | { type: 'ops', bytes: Uint8Array }
  | { type: 'end', ops: number, more: boolean }
  | { type: 'error', code: string, message: string }

const TAGS = { request: 1, hello: 2, snap_chunk: 3, snap_end: 4, ops: 5, end: 6, error: 7 } as const

function writeMembers (w: Writer, ids: readonly string[]): void {
  w.uint(ids.length)
  for (const id of ids) w.string(id)
}

function readMembers (r: Reader): string[] {
  const n = r.count(MAX_MEMBERS)
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push(r.string())
  return out
}

export function encodeFrame (f: Frame): Uint8Array {
  const w = new Writer(f.type === 'ops' || f.type === 'snap_chunk' ? f.bytes.length + 16 : 128)
  w.u8(TAGS[f.type])
  switch (f.type) {
    case 'request': w.string(f.cluster).uint(f.shard); encodeVv(w, f.vv); writeMembers(w, f.members); writeMembers(w, f.retired); break
    case 'hello': encodeVv(w, f.vv); encodeVv(w, f.compactedVv); writeMembers(w, f.members); writeMembers(w, f.retired); break
    case 'snap_chunk': case 'ops': w.bytes(f.bytes); break
    case 'snap_end': break
    case 'end': w.uint(f.ops).bool(f.more); break
    case 'error': w.string(f.code).string(f.message); break
  }
  return w.finish()
}

/** Decode one frame; throws (CrdtError) on anything malformed or trailing. */
export function decodeFrame (buf: Uint8Array): Frame {
  const r = new Reader(buf)
  const tag = r.u8()
  let f: Frame
  switch (tag) {
    case TAGS.request: f = { type: 'request', cluster: r.string(), shard: r.uint(), vv: decodeVv(r), members: readMembers(r), retired: readMembers(r) }; break
    case TAGS.hello: f = { type: 'hello', vv: decodeVv(r), compactedVv: decodeVv(r), members: readMembers(r), retired: readMembers(r) }; break
    case TAGS.snap_chunk: f = { type: 'snap_chunk', bytes: r.bytes() }; break
    case TAGS.snap_end: f = { type: 'snap_end' }; break
    case TAGS.ops: f = { type: 'ops', bytes: r.bytes() }; break
    case TAGS.end: f = { type: 'end', ops: r.uint(), more: r.bool() }; break
    case TAGS.error: f = { type: 'error', code: r.string(), message: r.string() }; break
    default: throw new Error(`unknown sync frame type ${tag}`)
  }
  r.end()
  return f
}
