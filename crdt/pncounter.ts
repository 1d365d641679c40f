/**
 * PN-counter: a P and an N G-counter, value = ΣP − ΣN. Entry keys are arbitrary strings,
 * not only replica ids. That is what makes credit grants count once cluster-wide: a grant
 * is recorded on the P side under its idempotency key with the granted amount, so two
 * nodes that both receive the same grant write the same entry and max-merge keeps one.
 * Spends go to the N side under the spending replica's id.
 *
 * Mutators return a delta and leave the state alone; apply it before the next mutation.
 */
import type { Reader, Writer } from './codec.ts'
import { CrdtError } from './errors.ts'
import { decodeFlatNum, encodeFlatNum, exact, flatEquals, flatGet, flatMax, flatSum, flatToObject, none } from './flat.ts'
import { checkAmount, type GCounter, gcounterJoin } from './gcounter.ts'
import type { CrdtType } from './types.ts'

export type PnSide = 'p' | 'n'

export interface PnCounter {
  /** Increments by key. */
  p: GCounter
  /** Decrements by key. */
  n: GCounter
}

/** One entry's new total on one side. */
export interface PnDelta {
  readonly side: PnSide
  readonly key: string
  readonly value: number
}

function bump (s: PnCounter, side: PnSide, key: string, n: number): PnDelta {
  checkAmount(n)
  const value = (flatGet(s[side], key) ?? 0) + n
  if (!Number.isSafeInteger(value)) throw new CrdtError('invalid_delta', `counter entry overflows 2^53: ${value}`)
  return { side, key, value }
}

/** Delta adding `n` to the P entry `key` (e.g. a grant's idempotency key). */
export function pnIncrementKey (s: PnCounter, key: string, n: number): PnDelta {
  return bump(s, 'p', key, n)
}

/** Delta adding `n` to the N entry `key` (usually the spending replica's id). */
export function pnDecrementKey (s: PnCounter, key: string, n: number): PnDelta {
  return bump(s, 'n', key, n)
}

/**
 * Delta that sets the P entry `key` to exactly `amount` — an idempotent grant: whichever
 * replicas record it, and however often, it counts `amount` once. A second grant under
 * the same key with a different amount max-merges (the larger wins), so callers must not
 * reuse keys for different grants.
 */
export function pnGrant (key: string, amount: number): PnDelta {
  checkAmount(amount)
  return { side: 'p', key, value: amount }
}

/** Total of one entry on one side (0 when absent). */
export function pnEntry (s: PnCounter, side: PnSide, key: string): number {
  return flatGet(s[side], key) ?? 0
}

/** ΣP and ΣN separately (granted vs spent). */
export function pnTotals (s: PnCounter): { p: number; n: number } {
  return { p: flatSum(s.p), n: flatSum(s.n) }
}

/** The PN-counter type (kind `pncounter.v1`). */
export const pncounterType: CrdtType<PnCounter, PnDelta, number> = {
  kind: 'pncounter.v1',
  empty: () => ({ p: none(), n: none() }),
  clone: (s) => ({ p: exact(s.p), n: exact(s.n) }),
  merge (a, b) {
    a.p = gcounterJoin(a.p, b.p)
    a.n = gcounterJoin(a.n, b.n)
    return a
  },
  apply (s, d) {
    if (d.side === 'p') s.p = flatMax(s.p, d.key, d.value)
    else s.n = flatMax(s.n, d.key, d.value)
    return s
  },
  // As the G-counter's: a max per side, holding only the delta's string and number.
  applyInPlace: true,
  deltaState (d) {
    const e = d.value > 0 ? [d.key, d.value] : none<string | number>()
    return d.side === 'p' ? { p: e, n: none() } : { p: none(), n: e }
  },
  value: (s) => flatSum(s.p) - flatSum(s.n),
  equals: (a, b) => flatEquals(a.p, b.p) && flatEquals(a.n, b.n),
  encodeState (w: Writer, s) {
    encodeFlatNum(w, s.p)
    encodeFlatNum(w, s.n)
  },
  decodeState (r: Reader) {
    const p = decodeFlatNum(r)
    const n = decodeFlatNum(r)
    return { p, n }
  },
  encodeDelta (w: Writer, d) {
    w.u8(d.side === 'p' ? 0 : 1).string(d.key).uint(d.value)
  },
  decodeDelta (r: Reader) {
    const tag = r.u8()
    if (tag > 1) throw new CrdtError('decode_invalid', `bad counter side ${tag}`)
    const key = r.string()
    const value = r.uint()
    if (value === 0) throw new CrdtError('decode_invalid', 'zero counter delta')
    return { side: tag === 0 ? 'p' : 'n', key, value }
  },
  inspect: (s) => ({
    p: flatToObject(s.p, (v) => v),
    n: flatToObject(s.n, (v) => v),
    value: flatSum(s.p) - flatSum(s.n),
  }),
}
