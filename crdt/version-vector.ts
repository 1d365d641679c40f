/**
 * Version vector: for each origin replica, the highest sequence number such that every
 * op 1..seq from that origin has been applied (contiguous). Ops past a gap are kept
 * aside by the store until the gap is filled, so the vector never over-claims.
 */
import type { Reader, Writer } from './codec.ts'
import type { ReplicaId } from './types.ts'

export type VersionVector = Map<ReplicaId, number>

export function vvGet (vv: VersionVector, r: ReplicaId): number {
  return vv.get(r) ?? 0
}

/** Pointwise max, into `a`. */
export function vvMerge (a: VersionVector, b: VersionVector): VersionVector {
  for (const [r, n] of b) if (n > (a.get(r) ?? 0)) a.set(r, n)
  return a
}

/** Pointwise min over several vectors: what all of them have seen (causal stability). */
export function vvMeet (vectors: VersionVector[]): VersionVector {
  const out: VersionVector = new Map()
  if (vectors.length === 0) return out
  const origins = new Set<ReplicaId>()
  for (const v of vectors) for (const r of v.keys()) origins.add(r)
  for (const r of origins) {
    let min = Infinity
    for (const v of vectors) min = Math.min(min, v.get(r) ?? 0)
    if (min > 0) out.set(r, min)
  }
  return out
}

/** True when `a` has seen everything `b` has. */
export function vvDominates (a: VersionVector, b: VersionVector): boolean {
  for (const [r, n] of b) if ((a.get(r) ?? 0) < n) return false
  return true
}

export function vvEquals (a: VersionVector, b: VersionVector): boolean {
  return vvDominates(a, b) && vvDominates(b, a)
}

/** Total ops `a` has that `b` lacks. */
export function vvMissing (a: VersionVector, b: VersionVector): number {
  let n = 0
  for (const [r, s] of a) n += Math.max(0, s - (b.get(r) ?? 0))
  return n
}

export function vvToJSON (vv: VersionVector): Record<string, number> {
  return Object.fromEntries([...vv.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
}

export function vvFromJSON (o: Record<string, number>): VersionVector {
  return new Map(Object.entries(o))
}

/** Canonical encoding: entries sorted by replica id. */
export function encodeVv (w: Writer, vv: VersionVector): void {
  const entries = [...vv.entries()].filter(([, n]) => n > 0).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
  w.uint(entries.length)
  for (const [r, n] of entries) w.string(r).uint(n)
}

export function decodeVv (r: Reader): VersionVector {
  const n = r.count()
  const vv: VersionVector = new Map()
  for (let i = 0; i < n; i++) vv.set(r.string(), r.uint())
  return vv
}
