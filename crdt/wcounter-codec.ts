/**
 * The compact canonical encoding of windowed G-counter states and deltas (wcounter.ts).
 */
import type { Reader, Writer } from './codec.ts'
import { CrdtError } from './errors.ts'
import { none } from './flat.ts'
import {
  entriesAt, MAX_WINDOW_SLOTS, ownerOf, sharedAt, sharedHorizon, slotCount, slotEnd, type WindowedCounter, type WindowedDelta, type WindowedPart,
} from './wcounter-layout.ts'

function keyTable (s: WindowedCounter): string[] {
  const seen = new Set<string>()
  for (let p = 0; p < s.length; p = slotEnd(s, p)) {
    const e = entriesAt(s, p)
    for (let q = p + 1; q < e; q += 2) seen.add(s[q] as string)
    for (let q = e + 1; q < slotEnd(s, p); q += 3) seen.add(s[q] as string)
  }
  return [...seen].sort()
}

/**
 * One key of a table whose earlier keys are in `index` (key → position): a copy
 * `name@replica` whose replica is an earlier key as `position + 1` then `name` (a keyed
 * record's copies would otherwise repeat a 52-character peer id each), any other as `0`
 * then the key.
 */
export function writeKey (w: Writer, k: string, index: ReadonlyMap<string, number>): void {
  const at = k.lastIndexOf('@')
  const j = at < 0 ? undefined : index.get(k.slice(at + 1))
  if (j === undefined) w.uint(0).string(k)
  else w.uint(j + 1).string(k.slice(0, at))
}

/**
 * Reads a key written by {@link writeKey} after the keys `earlier` (positions in `index`),
 * refusing the non-canonical spelling (a copy written out whose replica was there).
 */
export function readKey (r: Reader, earlier: readonly string[], index: ReadonlyMap<string, number>): string {
  const tag = r.uint()
  if (tag === 0) {
    const k = r.string()
    const at = k.lastIndexOf('@')
    if (at >= 0 && index.has(k.slice(at + 1))) throw new CrdtError('decode_invalid', 'a copy spelt out instead of referring to its replica')
    return k
  }
  const owner = earlier[tag - 1]
  if (owner === undefined || owner.includes('@')) throw new CrdtError('decode_invalid', `bad replica reference ${tag - 1}`)
  return r.string() + '@' + owner
}

/**
 * Slot count; the table of replica keys (ascending, each used somewhere, a copy referring
 * to its replica's position when that comes earlier: {@link writeKey}); per slot: the
 * per-replica horizons as a count then (key index, horizon) with indices ascending, bucket
 * count, then each bucket as its signed distance from the lowest of those horizons (first)
 * or its gap from the previous bucket + 1, followed by its
 * entries as (key index, total) with indices ascending. Gaps keep bucket numbers to a
 * byte or two and make ascending order a property of the encoding; the key table writes
 * each replica id once instead of once per bucket.
 */
export function encodeState (w: Writer, s: WindowedCounter): void {
  const n = slotCount(s)
  w.uint(n)
  if (n === 0) return
  const keys = keyTable(s)
  w.uint(keys.length)
  const index = new Map<string, number>()
  keys.forEach((k, i) => {
    writeKey(w, k, index)
    index.set(k, i)
  })
  for (let p = 0; p < s.length; p = slotEnd(s, p)) {
    const g = sharedAt(s, p)
    const start = entriesAt(s, p)
    const end = slotEnd(s, p)
    w.uint((start - p - 1) / 2)
    for (let q = p + 1; q < start; q += 2) w.uint(index.get(s[q] as string)!).uint(s[q + 1] as number)
    let buckets = 0
    for (let q = start; q < end; q += 3) if (q === start || s[q] !== s[q - 3]) buckets++
    w.uint(buckets)
    // The first bucket from the lowest replica horizon (a writer's retention away: a byte
    // or two; below it only for entries of replicas without one), the others by gaps.
    let ref = start > p + 1 ? Number.MAX_SAFE_INTEGER : g
    for (let q = p + 1; q < start; q += 2) if ((s[q + 1] as number) < ref) ref = s[q + 1] as number
    let next = -1
    let q = start
    while (q < end) {
      const b = s[q] as number
      let m = q
      while (m < end && s[m] === b) m += 3
      if (next < 0) w.int(b - ref)
      else w.uint(b - next)
      w.uint((m - q) / 3)
      next = b + 1
      for (; q < m; q += 3) w.uint(index.get(s[q + 1] as string)!).uint(s[q + 2] as number)
    }
  }
}

/**
 * Decodes a state, refusing with `decode_invalid` anything the type cannot produce: keys
 * out of order or unused, a zero horizon or total, a per-replica horizon below the shared
 * one, an entry below its replica's threshold, a trailing empty slot.
 */
export function decodeState (r: Reader): WindowedCounter {
  const n = r.count(MAX_WINDOW_SLOTS)
  if (n === 0) return none()
  const nk = r.count()
  const keys: string[] = []
  const index = new Map<string, number>()
  for (let i = 0; i < nk; i++) {
    const k = readKey(r, keys, index)
    if (i > 0 && k <= keys[i - 1]!) throw new CrdtError('decode_invalid', 'replica keys not strictly ascending')
    index.set(k, i)
    keys.push(k)
  }
  const used = new Uint8Array(nk)
  const out: WindowedCounter = []
  for (let i = 0; i < n; i++) {
    const hn = r.count(nk)
    const head = out.length
    out.push(0)
    const hs: number[] = []
    const own = new Map<string, number>()
    let prev = -1
    for (let j = 0; j < hn; j++) {
      const ki = r.uint()
      if (ki >= nk || ki <= prev) throw new CrdtError('decode_invalid', `horizon key index ${ki} out of order or range`)
      prev = ki
      used[ki] = 1
      const h = r.uint()
      if (h === 0) throw new CrdtError('decode_invalid', 'zero replica horizon')
      own.set(keys[ki]!, h)
      hs.push(h)
      out.push(keys[ki]!, h)
    }
    const g = sharedHorizon(hs)
    for (const h of hs) if (h < g) throw new CrdtError('decode_invalid', `replica horizon ${h} below the shared horizon ${g}`)
    const count = r.count()
    if (hn === 0 && count === 0 && i === n - 1) throw new CrdtError('decode_invalid', 'trailing empty window slot')
    let next = -1
    for (let j = 0; j < count; j++) {
      const b = next < 0 ? (hs.length === 0 ? 0 : Math.min(...hs)) + r.int() : next + r.uint()
      if (!Number.isSafeInteger(b)) throw new CrdtError('decode_invalid', 'bucket overflows 2^53')
      if (b < g) throw new CrdtError('decode_invalid', `bucket ${b} below the shared horizon ${g}`)
      next = b + 1
      const entries = r.count(nk)
      if (entries === 0) throw new CrdtError('decode_invalid', `empty counter in bucket ${b}`)
      let prevKey = -1
      for (let k = 0; k < entries; k++) {
        const ki = r.uint()
        if (ki >= nk || ki <= prevKey) throw new CrdtError('decode_invalid', `key index ${ki} out of order or range`)
        prevKey = ki
        if (hn > 0 && b < (own.get(ownerOf(keys[ki]!)) ?? 0)) throw new CrdtError('decode_invalid', `entry in bucket ${b} below its replica's horizon`)
        used[ki] = 1
        const v = r.uint()
        if (v === 0) throw new CrdtError('decode_invalid', `zero entry in bucket ${b}`)
        out.push(b, keys[ki]!, v)
      }
    }
    out[head] = (out.length - head - 1 - 2 * hn) / 3
  }
  if (used.indexOf(0) >= 0) throw new CrdtError('decode_invalid', 'unused replica key in table')
  return out.slice()
}

/**
 * Key, part count; per part: `slot << 2 | has value | has horizon << 1`, then the value and
 * bucket when there is one, then the horizon: as its distance below the bucket when both
 * are there (a byte for a writer's retention, instead of a full bucket number), else as is.
 */
export function encodeDelta (w: Writer, d: WindowedDelta): void {
  w.string(d.key).uint(d.parts.length)
  for (const p of d.parts) {
    const hasValue = p.value > 0
    const hasHorizon = p.horizon > 0
    w.uint(p.slot * 4 + (hasHorizon ? 2 : 0) + (hasValue ? 1 : 0))
    if (hasValue) w.uint(p.value).uint(p.bucket)
    if (hasHorizon) {
      if (hasValue) w.int(p.bucket - p.horizon)
      else w.uint(p.horizon)
    }
  }
}

export function decodeDelta (r: Reader): WindowedDelta {
  const key = r.string()
  const n = r.count(MAX_WINDOW_SLOTS)
  if (n === 0) throw new CrdtError('decode_invalid', 'empty windowed delta')
  const parts: WindowedPart[] = []
  let prev = -1
  for (let i = 0; i < n; i++) {
    const head = r.uint()
    const slot = Math.floor(head / 4)
    if (slot <= prev || slot >= MAX_WINDOW_SLOTS) throw new CrdtError('decode_invalid', `window slot ${slot} out of order or range`)
    if ((head & 3) === 0) throw new CrdtError('decode_invalid', 'empty windowed delta part')
    prev = slot
    let value = 0
    let bucket = 0
    let horizon = 0
    if ((head & 1) !== 0) {
      value = r.uint()
      bucket = r.uint()
      if (value === 0) throw new CrdtError('decode_invalid', 'zero windowed delta value')
    }
    if ((head & 2) !== 0) {
      horizon = (head & 1) !== 0 ? bucket - r.int() : r.uint()
      if (!(horizon > 0) || !Number.isSafeInteger(horizon)) throw new CrdtError('decode_invalid', `bad horizon ${horizon}`)
    }
    parts.push({ slot, bucket, value, horizon })
  }
  return { key, parts }
}

