/**
 * The joins of windowed G-counter states (wcounter.ts): the general join of two states, and
 * `rebuild`, the same join specialised to one delta (a new window or a horizon bump: once a
 * minute per counter for a busy account, on every call for a quiet one), built in one pass
 * into an array allocated once.
 */
import { none } from './flat.ts'
import { mergeHorizonPairs } from './horizons.ts'
import {
  cmp, entriesAt, ownerOf, sharedHorizon, slotCount, slotEnd, type WindowedCounter, type WindowedDelta,
} from './wcounter-layout.ts'

/** `out` without trailing empty slots (a lone `0`), as an exact-size array, so equal states are equal arrays. */
function trim (out: WindowedCounter): WindowedCounter {
  let keep = 0
  for (let p = 0; p < out.length; p = slotEnd(out, p)) {
    const end = slotEnd(out, p)
    if (end !== p + 1) keep = end
  }
  // An exact-size copy: an array grown by push keeps ~50% slack, for as long as the state lives.
  return keep === 0 ? none() : out.slice(0, keep)
}

/** The horizon of `key` in the parallel lists (0 when absent). Lists hold a few replicas. */
function horizonIn (keys: readonly string[], hs: readonly number[], key: string): number {
  for (let i = 0; i < keys.length; i++) if (keys[i] === key) return hs[i]!
  return 0
}

/**
 * Join of two states, built into a new array: per slot the pointwise max of the
 * per-replica horizons and the shared horizon from them, then a linear merge of both
 * sorted entry lists, max on equal (bucket, key), each entry kept only at or above its
 * replica's threshold. O(size of a + size of b).
 */
export function join (a: WindowedCounter, b: WindowedCounter): WindowedCounter {
  const n = Math.max(slotCount(a), slotCount(b))
  const out: WindowedCounter = []
  let pa = 0
  let pb = 0
  const keys: string[] = []
  const hs: number[] = []
  for (let i = 0; i < n; i++) {
    const hasA = pa < a.length
    const hasB = pb < b.length
    // Per-replica horizons: merge the two key-sorted lists, max on equal keys.
    // Per slot: the header, the horizon pairs up to the entries, then the entries.
    let x = hasA ? entriesAt(a, pa) : pa + 1
    let y = hasB ? entriesAt(b, pb) : pb + 1
    keys.length = 0
    hs.length = 0
    mergeHorizonPairs(a, pa + 1, x, b, pb + 1, y, keys, hs)
    const g = sharedHorizon(hs)
    const head = out.length
    out.push(0)
    let top = 0
    for (let j = 0; j < keys.length; j++) {
      if (hs[j]! < g) continue
      out.push(keys[j]!, hs[j]!)
      if (hs[j]! > top) top = hs[j]!
    }
    // Entries: both lists are sorted by bucket, so those below g are a prefix.
    const xEnd = hasA ? slotEnd(a, pa) : x
    const yEnd = hasB ? slotEnd(b, pb) : y
    while (x < xEnd && (a[x] as number) < g) x += 3
    while (y < yEnd && (b[y] as number) < g) y += 3
    let count = 0
    while (x < xEnd || y < yEnd) {
      const c = x >= xEnd ? 1 : y >= yEnd ? -1 : cmp(a[x] as number, a[x + 1] as string, b[y] as number, b[y + 1] as string)
      const src = c <= 0 ? a : b
      const q = c <= 0 ? x : y
      const bucket = src[q] as number
      const key = src[q + 1] as string
      const total = c === 0 ? Math.max(a[x + 2] as number, b[y + 2] as number) : src[q + 2] as number
      if (c <= 0) x += 3
      if (c >= 0) y += 3
      // Buckets at or above every horizon need no lookup (the common case: recent windows).
      if (bucket < top && bucket < horizonIn(keys, hs, ownerOf(key))) continue
      out.push(bucket, key, total)
      count++
    }
    out[head] = count
    if (hasA) pa = xEnd
    if (hasB) pb = yEnd
  }
  return trim(out)
}

/** The state a delta stands for: its replica's horizon pairs and entries. */
export function deltaState (d: WindowedDelta): WindowedCounter {
  const out: WindowedCounter = []
  let next = 0
  for (const part of d.parts) {
    for (; next < part.slot; next++) out.push(0)
    next = part.slot + 1
    const hasValue = part.value > 0 && part.bucket >= part.horizon
    out.push(hasValue ? 1 : 0)
    if (part.horizon > 0) out.push(ownerOf(d.key), part.horizon)
    if (hasValue) out.push(part.bucket, d.key, part.value)
  }
  return trim(out)
}

/** The horizon stored for `owner` among the pairs of `out` in `[from, to)` (0 when none). */
function horizonAt (out: WindowedCounter, from: number, to: number, owner: string): number {
  for (let j = from; j < to; j += 2) if (out[j] === owner) return out[j + 1] as number
  return 0
}

/**
 * `join(s, deltaState(d))`, in one pass: per slot `s`'s horizon pairs with the delta's
 * owner raised or inserted, the new shared horizon and the pairs below it dropped, then
 * `s`'s entries with those below their owner's threshold skipped and the delta's entry
 * inserted in order (or maxed into its equal).
 */
export function rebuild (s: WindowedCounter, d: WindowedDelta): WindowedCounter {
  const parts = d.parts
  const key = d.key
  const owner = ownerOf(key)
  const n = Math.max(slotCount(s), parts.length === 0 ? 0 : parts[parts.length - 1]!.slot + 1)
  // At most: every slot header, and per part one pair and one entry more than `s`.
  const out: WindowedCounter = new Array(s.length + n + 5 * parts.length)
  let o = 0
  let keep = 0
  let p = 0
  let k = 0
  for (let i = 0; i < n; i++) {
    const has = p < s.length
    const part = k < parts.length && parts[k]!.slot === i ? parts[k++] : undefined
    const ph = part === undefined ? 0 : part.horizon
    const head = o
    out[o++] = 0
    // Pairs, in key order, the owner's raised to the part's horizon (or inserted).
    const pairs = o
    let q = p + 1
    let pending = ph > 0
    if (has) {
      for (; typeof s[q] === 'string'; q += 2) {
        const r = s[q] as string
        let h = s[q + 1] as number
        if (pending && owner <= r) {
          pending = false
          if (owner === r) { if (ph > h) h = ph } else { out[o++] = owner; out[o++] = ph }
        }
        out[o++] = r
        out[o++] = h
      }
    }
    if (pending) { out[o++] = owner; out[o++] = ph }
    let top = 0
    let g = 0
    for (let j = pairs; j < o; j += 2) {
      const h = out[j + 1] as number
      if (h > top) { g = top; top = h } else if (h > g) g = h
    }
    if (g > 0) {
      let w = pairs
      for (let j = pairs; j < o; j += 2) if ((out[j + 1] as number) >= g) { out[w++] = out[j]!; out[w++] = out[j + 1]! }
      o = w
    }
    const pairsEnd = o
    const ownT = Math.max(g, horizonAt(out, pairs, pairsEnd, owner))
    let pendingEntry = part !== undefined && part.value > 0 && part.bucket >= ph && part.bucket >= ownT
    // Entries: buckets at or above every horizon need no owner lookup.
    let count = 0
    const end = has ? q + 3 * (s[p] as number) : q
    for (; q < end; q += 3) {
      const b = s[q] as number
      if (b < top && (b < g || b < horizonAt(out, pairs, pairsEnd, ownerOf(s[q + 1] as string)))) continue
      if (pendingEntry) {
        const c = cmp(b, s[q + 1] as string, part!.bucket, key)
        if (c === 0) {
          out[o++] = b
          out[o++] = key
          out[o++] = Math.max(s[q + 2] as number, part!.value)
          count++
          pendingEntry = false
          continue
        }
        if (c > 0) {
          out[o++] = part!.bucket
          out[o++] = key
          out[o++] = part!.value
          count++
          pendingEntry = false
        }
      }
      out[o++] = b
      out[o++] = s[q + 1]!
      out[o++] = s[q + 2]!
      count++
    }
    if (pendingEntry) {
      out[o++] = part!.bucket
      out[o++] = key
      out[o++] = part!.value
      count++
    }
    out[head] = count
    if (o !== head + 1) keep = o
    if (has) p = end
  }
  if (keep === 0) return none()
  // Exact size: shrinking `length` by a little keeps the slack allocated for as long as
  // the state lives (V8 trims only when at least half is unused).
  return keep === out.length ? out : out.slice(0, keep)
}
