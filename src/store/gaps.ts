/**
 * Which ops a replica has applied, per origin: a contiguous prefix `1..vv[origin]` plus the
 * seqs applied past a gap. Deltas commute, so ops past a gap are applied at once; they are
 * tracked here so that the version vector never claims an op that is missing, and so that
 * a replay or a duplicate of them is recognised.
 */
import type { Reader, Writer } from '../../crdt/codec.ts'
import { decodeVv, encodeVv, type VersionVector } from '../../crdt/version-vector.ts'
import type { ReplicaId } from './types.ts'

export class SeqTracker {
  /** Highest contiguous seq per origin. */
  private readonly vv: VersionVector = new Map()
  /** Seqs applied beyond `vv[origin] + 1`, per origin. */
  private readonly ahead = new Map<ReplicaId, Set<number>>()

  /** True when `(origin, seq)` was applied already. */
  has (origin: ReplicaId, seq: number): boolean {
    if (seq <= (this.vv.get(origin) ?? 0)) return true
    return this.ahead.get(origin)?.has(seq) === true
  }

  /**
   * Record `(origin, seq)` as applied (caller checked `has` first). Returns true when it
   * lies past a gap (so the vector did not move to cover it).
   */
  add (origin: ReplicaId, seq: number): boolean {
    const top = this.vv.get(origin) ?? 0
    if (seq !== top + 1) {
      let s = this.ahead.get(origin)
      if (s === undefined) { s = new Set(); this.ahead.set(origin, s) }
      s.add(seq)
      return true
    }
    let next = seq
    const s = this.ahead.get(origin)
    if (s !== undefined) {
      while (s.delete(next + 1)) next++
      if (s.size === 0) this.ahead.delete(origin)
    }
    this.vv.set(origin, next)
    return false
  }

  /** Highest contiguous seq of `origin`. */
  top (origin: ReplicaId): number {
    return this.vv.get(origin) ?? 0
  }

  /** Copy of the contiguous vector. */
  vector (): VersionVector {
    return new Map(this.vv)
  }

  /** The live vector (read-only use). */
  vectorRef (): ReadonlyMap<ReplicaId, number> {
    return this.vv
  }

  /** origin → [first missing seq, highest seq applied past it]. */
  gaps (): Map<ReplicaId, [number, number]> {
    const out = new Map<ReplicaId, [number, number]>()
    for (const [o, s] of this.ahead) {
      let max = 0
      for (const n of s) if (n > max) max = n
      out.set(o, [(this.vv.get(o) ?? 0) + 1, max])
    }
    return out
  }

  /** Origins known (contiguous or ahead). */
  origins (): Set<ReplicaId> {
    return new Set([...this.vv.keys(), ...this.ahead.keys()])
  }

  /** Seqs applied past the gap of `origin`, ascending. */
  aheadOf (origin: ReplicaId): number[] {
    return [...(this.ahead.get(origin) ?? [])].sort((a, b) => a - b)
  }

  /** Join another tracker's knowledge into this one (snapshot import). */
  merge (other: SeqTracker): void {
    for (const [o, n] of other.vv) {
      if (n > (this.vv.get(o) ?? 0)) this.vv.set(o, n)
    }
    for (const [o, s] of other.ahead) for (const n of s) if (!this.has(o, n)) this.addAhead(o, n)
    // Seqs now covered by a raised vector are dropped; those that became contiguous advance it.
    for (const o of [...this.ahead.keys()]) {
      const s = this.ahead.get(o)!
      const top = this.vv.get(o) ?? 0
      for (const n of s) if (n <= top) s.delete(n)
      if (s.size === 0) { this.ahead.delete(o); continue }
      let next = top
      while (s.delete(next + 1)) next++
      if (next > top) this.vv.set(o, next)
      if (s.size === 0) this.ahead.delete(o)
    }
  }

  private addAhead (o: ReplicaId, n: number): void {
    let s = this.ahead.get(o)
    if (s === undefined) { s = new Set(); this.ahead.set(o, s) }
    s.add(n)
  }

  encode (w: Writer): void {
    encodeVv(w, this.vv)
    const origins = [...this.ahead.keys()].sort()
    w.uint(origins.length)
    for (const o of origins) {
      const seqs = this.aheadOf(o)
      w.string(o).uint(seqs.length)
      for (const n of seqs) w.uint(n)
    }
  }

  static decode (r: Reader): SeqTracker {
    const t = new SeqTracker()
    for (const [o, n] of decodeVv(r)) t.vv.set(o, n)
    const k = r.count()
    for (let i = 0; i < k; i++) {
      const o = r.string()
      const m = r.count()
      for (let j = 0; j < m; j++) {
        const n = r.uint()
        if (!t.has(o, n)) t.addAhead(o, n)
      }
    }
    return t
  }
}
