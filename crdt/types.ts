/**
 * The contract every crdt/ type meets. A type is a plain object of functions over a
 * state `S` and a delta `D` (no classes on the hot path: states are small plain
 * structures so that millions of them fit in memory).
 *
 * Laws (property-tested for every type):
 * - merge is commutative, associative and idempotent (up to `equals`);
 * - `apply(s, d)` equals `merge(s, stateOf(d))`: a delta is a small state;
 * - `decodeState(encodeState(s))` equals `s`; likewise for deltas.
 *
 * `apply` and `merge` may mutate their first argument and return it; callers that need
 * the old value `clone` first.
 */
import type { Reader, Writer } from './codec.ts'

export type ReplicaId = string

export interface CrdtType<S, D, V> {
  /** Stable tag, used in op encodings and exports. Never reuse a tag for another type. */
  readonly kind: string
  empty (): S
  clone (s: S): S
  /** Join `b` into `a` (mutates and returns `a`). */
  merge (a: S, b: S): S
  /** Apply a delta (mutates and returns `s`). Idempotent. */
  apply (s: S, d: D): S
  /** The state a delta stands for, so `apply(s, d) == merge(s, deltaState(d))`. */
  deltaState (d: D): S
  value (s: S): V
  equals (a: S, b: S): boolean
  encodeState (w: Writer, s: S): void
  decodeState (r: Reader): S
  encodeDelta (w: Writer, d: D): void
  decodeDelta (r: Reader): D
  /** Plain-JSON view of the raw state for operators (per-replica entries, timestamps, dots). */
  inspect (s: S): unknown
  /**
   * Optional promise to stores: `apply(s, d)` never throws for a delta `decodeDelta`
   * returned (on a state the type built), and the state it returns holds no object of `d`
   * that a later `apply` mutates. A store may then apply such a delta to its live state,
   * without the `clone` it otherwise takes so that an op whose next change fails leaves
   * nothing behind (a clone of a large state per write is most of a write's allocation).
   * The laws check it for every type that sets it (test/crdt/laws.ts).
   */
  readonly applyInPlace?: boolean
}

/** Any CRDT type, for registries. */
export type AnyCrdtType = CrdtType<any, any, any>
