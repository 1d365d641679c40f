/**
 * Dots and causal contexts for the add-wins set and map (Almeida, Shoker, Baquero,
 * "Delta state replicated data types", optimized OR-set). A dot `(replica, counter)` names
 * one add event. A causal context is the set of dots a state has seen, kept compact as a
 * version vector (every counter up to vv[r] seen) plus a *cloud* of dots past a gap; the
 * cloud is folded into the vector as soon as the gap fills.
 */
import type { Reader, Writer } from './codec.ts'
import { CrdtError } from './errors.ts'
import { decodeFlatNum, encodeFlatNum, exact, type Flat, flatEquals, flatFind, flatGet, flatSet, flatToObject, insertOne, insertPair, none, pair, removePair } from './flat.ts'

export { pair } from './flat.ts'
import type { ReplicaId } from './types.ts'

/**
 * Dots as `[r0, c0, r1, c1, …]` sorted by (replica, counter), no duplicates. Immutable:
 * never written in place, so one-dot arrays can be shared (see `pair`).
 */
export type Dots = Array<string | number>

/** `a` itself (a shared pair when it has one entry): for storing an immutable flat array. */
function keepFlat<T extends Array<string | number>> (a: T): T {
  if (a.length === 0) return none() as T
  if (a.length === 2 && typeof a[1] === 'number') return pair(a[0] as string, a[1]) as T
  return a
}

/**
 * `vv` with `r` raised to `c` (if larger), never written in place: the result is `vv`
 * itself, a shared pair, or a new exact-size array. Vectors are shared between clones.
 */
function vvMax (vv: Flat<number>, r: string, c: number): Flat<number> {
  const i = flatFind(vv, r)
  if (i >= 0) {
    if (c <= (vv[i + 1] as number)) return vv
    if (vv.length === 2) return pair(r, c)
    const out = vv.slice()
    out[i + 1] = c
    return out
  }
  if (c <= 0) return vv
  return vv.length === 0 ? pair(r, c) : insertPair(vv, ~i, r, c)
}

export interface CausalContext {
  /** replica → highest counter with no gap below it. Immutable (shared by clones). */
  vv: Flat<number>
  /** replica → ascending counters seen past a gap (each > vv[r] + 1). */
  cloud: Flat<number[]>
}

export function ccEmpty (): CausalContext {
  return { vv: none(), cloud: none() }
}

/** A copy of a cloud (its rows are written in place; vectors are not, so they are shared). */
export function cloudClone (cloud: Flat<number[]>): Flat<number[]> {
  return cloud.length === 0 ? none() : cloud.map((x, i) => (i % 2 === 0 ? x : (x as number[]).slice()))
}

export function ccClone (cc: CausalContext): CausalContext {
  return { vv: cc.vv, cloud: cloudClone(cc.cloud) }
}

/** Has the context seen dot (r, c)? */
export function ccContains (cc: CausalContext, r: ReplicaId, c: number): boolean {
  if (c <= (flatGet(cc.vv, r) ?? 0)) return true
  const row = flatGet(cc.cloud, r)
  return row !== undefined && row.includes(c)
}

/** Highest counter of `r` seen; a new local dot is this + 1. */
export function ccMax (cc: CausalContext, r: ReplicaId): number {
  const row = flatGet(cc.cloud, r)
  return row !== undefined ? row[row.length - 1]! : (flatGet(cc.vv, r) ?? 0)
}

/** Fold cloud counters of `r` that became contiguous into the vector. */
function compact (cc: CausalContext, r: ReplicaId): void {
  const ri = flatFind(cc.cloud, r)
  if (ri < 0) return
  const row = cc.cloud[ri + 1] as number[]
  let v = flatGet(cc.vv, r) ?? 0
  let k = 0
  while (k < row.length && row[k]! <= v + 1) {
    if (row[k] === v + 1) v++
    k++
  }
  if (k === 0) return
  cc.vv = vvMax(cc.vv, r, v)
  if (k === row.length) cc.cloud = removePair(cc.cloud, ri)
  else cc.cloud[ri + 1] = row.slice(k)
}

function addToRow (cc: CausalContext, r: ReplicaId, c: number): void {
  const row = flatGet(cc.cloud, r) ?? []
  let lo = 0
  let hi = row.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (row[mid]! < c) lo = mid + 1
    else hi = mid
  }
  if (row[lo] !== c) cc.cloud = flatSet(cc.cloud, r, insertOne(row, lo, c))
}

/** Add one dot. */
export function ccAdd (cc: CausalContext, r: ReplicaId, c: number): void {
  if (c <= (flatGet(cc.vv, r) ?? 0)) return
  addToRow(cc, r, c)
  compact(cc, r)
}

/** Join `b` into `a`. */
export function ccJoin (a: CausalContext, b: CausalContext): CausalContext {
  if (a.vv.length === 0) a.vv = b.vv // immutable: share
  else for (let i = 0; i < b.vv.length; i += 2) a.vv = vvMax(a.vv, b.vv[i] as string, b.vv[i + 1] as number)
  for (let i = 0; i < b.cloud.length; i += 2) {
    const r = b.cloud[i] as string
    const v = flatGet(a.vv, r) ?? 0
    for (const c of b.cloud[i + 1] as number[]) if (c > v) addToRow(a, r, c)
  }
  // Any replica's row may now be contiguous with a grown vector entry.
  for (let i = a.cloud.length - 2; i >= 0; i -= 2) compact(a, a.cloud[i] as string)
  return a
}

/** The context made of exactly these dots. */
export function ccFromDots (dots: Dots): CausalContext {
  const cc = ccEmpty()
  for (let i = 0; i < dots.length; i += 2) ccAdd(cc, dots[i] as string, dots[i + 1] as number)
  return cc
}

export function ccEquals (a: CausalContext, b: CausalContext): boolean {
  if (!flatEquals(a.vv, b.vv) || a.cloud.length !== b.cloud.length) return false
  for (let i = 0; i < a.cloud.length; i += 2) {
    if (a.cloud[i] !== b.cloud[i] || !flatEquals(a.cloud[i + 1] as number[], b.cloud[i + 1] as number[])) return false
  }
  return true
}

export function encodeCc (w: Writer, cc: CausalContext): void {
  encodeFlatNum(w, cc.vv)
  w.uint(cc.cloud.length >> 1)
  for (let i = 0; i < cc.cloud.length; i += 2) {
    const row = cc.cloud[i + 1] as number[]
    w.string(cc.cloud[i] as string).uint(row.length)
    // gaps between ascending counters: small numbers, small varints
    let prev = 0
    for (const c of row) { w.uint(c - prev); prev = c }
  }
}

/** Decode a context in canonical form (cloud strictly past vv + 1, ascending, non-empty rows). */
export function decodeCc (r: Reader): CausalContext {
  const vv = keepFlat(decodeFlatNum(r))
  const n = r.count()
  const cloud: Flat<number[]> = []
  let prevR: string | undefined
  for (let i = 0; i < n; i++) {
    const rep = r.string()
    if (prevR !== undefined && rep <= prevR) throw new CrdtError('decode_invalid', 'cloud replicas not strictly ascending')
    const m = r.count()
    if (m === 0) throw new CrdtError('decode_invalid', 'empty cloud row')
    const row: number[] = []
    let c = flatGet(vv, rep) ?? 0
    for (let k = 0; k < m; k++) {
      const gap = r.uint()
      const next = k === 0 ? gap : c + gap
      if (!Number.isSafeInteger(next) || next <= c || (k === 0 && next <= c + 1)) throw new CrdtError('decode_invalid', 'non-canonical cloud')
      row.push(next)
      c = next
    }
    cloud.push(rep, row.slice())
    prevR = rep
  }
  return { vv, cloud: exact(cloud) }
}

export function ccToJSON (cc: CausalContext): unknown {
  return { vv: flatToObject(cc.vv, (v) => v), cloud: flatToObject(cc.cloud, (row) => [...row]) }
}

function cmpDot (ar: string, ac: number, br: string, bc: number): number {
  return ar < br ? -1 : ar > br ? 1 : ac - bc
}

/**
 * The dot-set join for one key: dots both sides have, plus each side's dots the other
 * side has not seen (a dot the other side has seen but lacks was removed there).
 */
export function joinDots (da: Dots, ca: CausalContext, db: Dots, cb: CausalContext): Dots {
  const out: Dots = []
  let i = 0
  let j = 0
  while (i < da.length || j < db.length) {
    const c = i >= da.length ? 1 : j >= db.length ? -1 : cmpDot(da[i] as string, da[i + 1] as number, db[j] as string, db[j + 1] as number)
    if (c === 0) {
      out.push(da[i]!, da[i + 1]!)
      i += 2
      j += 2
    } else if (c < 0) {
      if (!ccContains(cb, da[i] as string, da[i + 1] as number)) out.push(da[i]!, da[i + 1]!)
      i += 2
    } else {
      if (!ccContains(ca, db[j] as string, db[j + 1] as number)) out.push(db[j]!, db[j + 1]!)
      j += 2
    }
  }
  // Usually nothing changed: keep the old array instead of a copy.
  if (out.length === da.length && out.every((x, k) => x === da[k])) return da
  return keepFlat(out.length > 2 ? out.slice() : out) // push over-allocates
}

export function encodeDots (w: Writer, dots: Dots): void {
  w.uint(dots.length >> 1)
  for (let i = 0; i < dots.length; i += 2) w.string(dots[i] as string).uint(dots[i + 1] as number)
}

/** Decode dots; each must be strictly ascending, positive and seen by `cc`. */
export function decodeDots (r: Reader, cc: CausalContext): Dots {
  const n = r.count()
  const out: Dots = []
  for (let i = 0; i < n; i++) {
    const rep = r.string()
    const c = r.uint()
    if (c === 0 || !ccContains(cc, rep, c)) throw new CrdtError('decode_invalid', 'dot outside the causal context')
    if (i > 0 && cmpDot(out[out.length - 2] as string, out[out.length - 1] as number, rep, c) >= 0) throw new CrdtError('decode_invalid', 'dots not strictly ascending')
    out.push(rep, c)
  }
  return keepFlat(out.length > 2 ? out.slice() : out)
}

export function dotsToJSON (dots: Dots): string[] {
  const out: string[] = []
  for (let i = 0; i < dots.length; i += 2) out.push(`${dots[i] as string}:${dots[i + 1] as number}`)
  return out
}
