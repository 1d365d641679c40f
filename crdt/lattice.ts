/**
 * Monotonic status lattice: a fixed, totally ordered list of statuses; state = index,
 * merge = max. For statuses that only move forward, e.g. an API key active < revoked, so
 * a revoke always wins over a concurrent edit. State is a number: use the return value of
 * `apply`/`merge`, they cannot mutate in place.
 */
import type { Reader, Writer } from './codec.ts'
import { CrdtError } from './errors.ts'
import type { CrdtType } from './types.ts'

export interface StatusLatticeType<T extends string> extends CrdtType<number, number, T> {
  /** The statuses, lowest first. */
  readonly statuses: readonly T[]
  /** Delta moving the state up to `status` (a no-op delta if it is already at or above). */
  raise (s: number, status: T): number
  /** Index of a status; throws invalid_delta for an unknown one. */
  indexOf (status: T): number
}

/**
 * A lattice type over `statuses` (lowest first, at least one, no duplicates). The first
 * status is the empty state. Reordering or inserting statuses changes the meaning of
 * stored states: append only, or use a new kind tag.
 */
export function statusLatticeType<T extends string> (kind: string, statuses: readonly T[]): StatusLatticeType<T> {
  if (statuses.length === 0 || new Set(statuses).size !== statuses.length) {
    throw new CrdtError('invalid_delta', `lattice ${kind} needs distinct statuses`)
  }
  const list = Object.freeze([...statuses])
  const indexOf = (status: T): number => {
    const i = list.indexOf(status)
    if (i < 0) throw new CrdtError('invalid_delta', `unknown status ${JSON.stringify(status)} for ${kind}`)
    return i
  }
  const read = (r: Reader): number => {
    const i = r.uint()
    if (i >= list.length) throw new CrdtError('decode_invalid', `status index ${i} out of range for ${kind}`)
    return i
  }
  const write = (w: Writer, s: number): void => { w.uint(s) }
  return {
    kind,
    statuses: list,
    indexOf,
    raise: (s, status) => Math.max(s, indexOf(status)),
    empty: () => 0,
    clone: (s) => s,
    merge: (a, b) => (b > a ? b : a),
    apply: (s, d) => (d > s ? d : s),
    deltaState: (d) => d,
    value: (s) => list[s]!,
    equals: (a, b) => a === b,
    encodeState: write,
    decodeState: read,
    encodeDelta: write,
    decodeDelta: read,
    inspect: (s) => ({ index: s, status: list[s] }),
  }
}
