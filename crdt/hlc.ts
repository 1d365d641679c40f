/**
 * Hybrid logical clock (Kulkarni et al.): physical milliseconds plus a logical counter,
 * so timestamps follow causality even when wall clocks drift. Ties between replicas
 * are broken by replica id where a total order is needed (LWW registers).
 */
import type { Reader, Writer } from './codec.ts'
import { CrdtError } from './errors.ts'

export interface Hlc {
  /** Milliseconds since the epoch (physical part). */
  readonly wall: number
  /** Logical counter within one `wall` millisecond. */
  readonly logical: number
}

export const HLC_ZERO: Hlc = Object.freeze({ wall: 0, logical: 0 })

/** Total order on timestamps: negative, zero or positive like a comparator. */
export function compareHlc (a: Hlc, b: Hlc): number {
  return a.wall !== b.wall ? a.wall - b.wall : a.logical - b.logical
}

export function encodeHlc (w: Writer, t: Hlc): void {
  w.uint(t.wall).uint(t.logical)
}

/** The last timestamp decoded (frozen, so sharing it is safe). */
let lastDecoded: Hlc = HLC_ZERO

/**
 * Decode a timestamp. Runs of equal timestamps (every LWW field of a record written by one
 * op carries the op's time) decode to one shared frozen object instead of one object plus
 * a boxed `wall` number each, ~56 bytes per field held in memory. Timestamps are never
 * mutated (`Hlc` is readonly; clocks build new ones), so sharing is invisible.
 */
export function decodeHlc (r: Reader): Hlc {
  const wall = r.uint()
  const logical = r.uint()
  const last = lastDecoded
  if (last.wall === wall && last.logical === logical) return last
  lastDecoded = Object.freeze({ wall, logical })
  return lastDecoded
}

/**
 * A replica's clock. `now()` for local events, `observe()` for every remote timestamp
 * received, so later local events are ordered after what was seen.
 */
export class HlcClock {
  private last: Hlc = HLC_ZERO

  /**
   * @param physical source of physical time (injectable for tests and simulation)
   * @param maxDriftMs a remote timestamp further than this ahead of our physical clock is
   *   refused rather than adopted, so one bad clock cannot drag the cluster into the future
   */
  constructor (private readonly physical: () => number = Date.now, private readonly maxDriftMs = 60_000) {}

  now (): Hlc {
    const pt = this.physical()
    const next = pt > this.last.wall ? { wall: pt, logical: 0 } : { wall: this.last.wall, logical: this.last.logical + 1 }
    this.last = next
    return next
  }

  observe (remote: Hlc): Hlc {
    const pt = this.physical()
    if (remote.wall - pt > this.maxDriftMs) {
      throw new CrdtError('invalid_delta', `remote clock ${remote.wall - pt} ms ahead, beyond the ${this.maxDriftMs} ms limit`)
    }
    const wall = Math.max(pt, this.last.wall, remote.wall)
    let logical: number
    if (wall === this.last.wall && wall === remote.wall) logical = Math.max(this.last.logical, remote.logical) + 1
    else if (wall === this.last.wall) logical = this.last.logical + 1
    else if (wall === remote.wall) logical = remote.logical + 1
    else logical = 0
    this.last = { wall, logical }
    return this.last
  }

  peek (): Hlc {
    return this.last
  }
}
