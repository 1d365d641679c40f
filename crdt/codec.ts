/**
 * Compact binary encoding shared by every crdt/ type: unsigned LEB128 varints for
 * lengths, counts and counters, zigzag varints for signed integers, UTF-8 strings with a
 * length prefix. Decoding is bounds-checked and throws a typed `CrdtError`, never a
 * RangeError, and never returns a partially built value.
 */
import { CrdtError } from './errors.ts'

/** Decoder limits: a string, byte string or collection larger than this is rejected. */
export const MAX_LENGTH = 16 * 1024 * 1024
export const MAX_COUNT = 1_000_000

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder('utf-8', { fatal: true })

export class Writer {
  private buf: Uint8Array
  // Created on first f64 write (most encodings have none).
  private view: DataView | undefined
  pos = 0

  constructor (initial = 64) {
    this.buf = new Uint8Array(initial)
  }

  private ensure (n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
    this.view = undefined
  }

  /** Unsigned integer up to 2^53 - 1. */
  uint (n: number): this {
    if (!Number.isSafeInteger(n) || n < 0) throw new CrdtError('invalid_delta', `not an unsigned safe integer: ${n}`)
    this.ensure(8)
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80
      n = Math.floor(n / 0x80)
    }
    this.buf[this.pos++] = n
    return this
  }

  /** Signed safe integer, zigzag-encoded. */
  int (n: number): this {
    if (!Number.isSafeInteger(n)) throw new CrdtError('invalid_delta', `not a safe integer: ${n}`)
    return this.uint(n >= 0 ? n * 2 : -n * 2 - 1)
  }

  f64 (n: number): this {
    this.ensure(8)
    this.view ??= new DataView(this.buf.buffer)
    this.view.setFloat64(this.pos, n, true)
    this.pos += 8
    return this
  }

  u8 (n: number): this {
    this.ensure(1)
    this.buf[this.pos++] = n & 0xff
    return this
  }

  bool (b: boolean): this {
    return this.u8(b ? 1 : 0)
  }

  bytes (b: Uint8Array): this {
    this.uint(b.length)
    this.ensure(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
    return this
  }

  /** Bytes with no length prefix (the reader must know the length). */
  raw (b: Uint8Array): this {
    this.ensure(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
    return this
  }

  /**
   * What `write` writes, as `bytes` would write it (length prefix, then the bytes), without
   * an intermediate buffer: one byte is reserved for the length and the body moved only
   * when it turns out to need a longer prefix.
   */
  prefixed (write: (w: this) => void): this {
    this.ensure(1)
    const start = this.pos++
    write(this)
    const len = this.pos - start - 1
    if (len < 0x80) {
      this.buf[start] = len
      return this
    }
    let extra = 0
    for (let n = len; n >= 0x80; n = Math.floor(n / 0x80)) extra++
    this.ensure(extra)
    this.buf.copyWithin(start + 1 + extra, start + 1, this.pos)
    this.pos = start
    this.uint(len)
    this.pos += len
    return this
  }

  string (s: string): this {
    // Worst case 3 bytes per UTF-16 unit; encodeInto avoids an intermediate copy.
    this.ensure(s.length * 3 + 5)
    const start = this.pos
    // Reserve a 1-byte length for short strings, else fall back to a separate encode.
    if (s.length < 43) {
      // ASCII (field names, kinds, ids: nearly every string here) is copied unit by unit:
      // cheaper than a subarray plus encodeInto per string. Anything else falls through.
      const n = s.length
      let i = 0
      for (; i < n; i++) {
        const c = s.charCodeAt(i)
        if (c >= 0x80) break
        this.buf[start + 1 + i] = c
      }
      if (i === n) {
        this.buf[start] = n
        this.pos = start + 1 + n
        return this
      }
      const { written } = textEncoder.encodeInto(s, this.buf.subarray(start + 1))
      this.buf[start] = written
      this.pos = start + 1 + written
      return this
    }
    return this.bytes(textEncoder.encode(s))
  }

  finish (): Uint8Array {
    return this.buf.slice(0, this.pos)
  }

  /** Copies the bytes written so far into `dst` at `at` (no allocation of its own). */
  copyTo (dst: Uint8Array, at: number): void {
    dst.set(this.pos === this.buf.length ? this.buf : this.buf.subarray(0, this.pos), at)
  }
}

/** Strings up to this many bytes go through the decode cache. */
const SHORT_MAX = 64
const CACHE_SLOTS = 4096 // power of two; bounded: at most this many strings kept alive
const cache: string[] = new Array<string>(CACHE_SLOTS).fill('')

/**
 * `buf[start, start + n)` as a string if it is all ASCII, else undefined. A direct-mapped
 * cache keyed by an FNV-1a hash of the bytes: a hit returns the string built before
 * (shared, and no allocation), a miss builds a flat string and takes the slot. Strings
 * that recur (replica ids, keys, names) stay resident; one-off strings only evict each
 * other. Memory is bounded whatever the input, so hostile bytes cannot grow it.
 */
function shortAscii (buf: Uint8Array, start: number, n: number): string | undefined {
  let h = 0x811c9dc5 ^ n
  for (let i = 0; i < n; i++) {
    const b = buf[start + i]!
    if (b >= 0x80) return undefined
    h = Math.imul(h ^ b, 0x01000193)
  }
  const slot = (h ^ (h >>> 16)) & (CACHE_SLOTS - 1)
  const hit = cache[slot]!
  if (hit.length === n) {
    let i = 0
    while (i < n && hit.charCodeAt(i) === buf[start + i]) i++
    if (i === n) return hit
  }
  // fromCharCode over the bytes builds one flat string (`+=` per char makes cons strings
  // past 12 chars: more objects, and a flatten on first hash).
  const s = n === 0 ? '' : String.fromCharCode.apply(null, buf.subarray(start, start + n) as unknown as number[])
  cache[slot] = s
  return s
}

export class Reader {
  pos = 0
  // Created on first f64 read: most decodes never need it, and it costs an allocation.
  private view: DataView | undefined
  /** Reads stop here: the buffer's end, or the end of a length-prefixed part (`bound`). */
  private limit: number

  constructor (private readonly buf: Uint8Array) {
    this.limit = buf.length
  }

  get remaining (): number {
    return this.limit - this.pos
  }

  get done (): boolean {
    return this.pos >= this.limit
  }

  private need (n: number): void {
    if (this.pos + n > this.limit) throw new CrdtError('decode_truncated', `need ${n} byte(s) at offset ${this.pos}, have ${this.limit - this.pos}`)
  }

  /**
   * Reads of the next `n` bytes as of a reader over just them (`new Reader(r.raw(n))`),
   * without that view and reader: until `unbound`, reading past them is truncation.
   * Returns the bound to hand back to `unbound`.
   */
  bound (n: number): number {
    this.need(n)
    const outer = this.limit
    this.limit = this.pos + n
    return outer
  }

  /** Ends a `bound` part, which must have been read whole (as `end()` would check), and restores `outer`. */
  unbound (outer: number): void {
    this.end()
    this.limit = outer
  }

  uint (): number {
    let result = 0
    let mul = 1
    for (let i = 0; i < 8; i++) {
      this.need(1)
      const b = this.buf[this.pos++]!
      result += (b & 0x7f) * mul
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(result)) throw new CrdtError('decode_invalid', 'varint beyond 2^53')
        return result
      }
      mul *= 0x80
    }
    throw new CrdtError('decode_invalid', 'varint longer than 8 bytes')
  }

  int (): number {
    const z = this.uint()
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2
  }

  f64 (): number {
    this.need(8)
    this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength)
    const n = this.view.getFloat64(this.pos, true)
    this.pos += 8
    return n
  }

  u8 (): number {
    this.need(1)
    return this.buf[this.pos++]!
  }

  bool (): boolean {
    const b = this.u8()
    if (b > 1) throw new CrdtError('decode_invalid', `bad boolean byte ${b}`)
    return b === 1
  }

  /** A length or count prefix, checked against `max` before anything is allocated. */
  length (max = MAX_LENGTH): number {
    const n = this.uint()
    if (n > max) throw new CrdtError('decode_oversized', `length ${n} exceeds limit ${max}`)
    return n
  }

  count (max = MAX_COUNT): number {
    return this.length(max)
  }

  bytes (): Uint8Array {
    const n = this.length()
    this.need(n)
    const out = this.buf.slice(this.pos, this.pos + n)
    this.pos += n
    return out
  }

  raw (n: number): Uint8Array {
    this.need(n)
    const out = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }

  /**
   * A length-prefixed UTF-8 string of at most `max` bytes. Short ASCII strings (replica
   * ids, counter keys, field names, kind tags, small values: nearly all of them) go
   * through a small shared cache, so the same bytes decode to the same string object:
   * a replica that decodes the id `node-1` from a million ops holds it once, not a million
   * times (24 bytes each). Anything else goes through the validating decoder.
   */
  string (max = MAX_LENGTH): string {
    const n = this.length(max)
    this.need(n)
    if (n <= SHORT_MAX) {
      const s = shortAscii(this.buf, this.pos, n)
      if (s !== undefined) {
        this.pos += n
        return s
      }
    }
    let s: string
    try {
      s = textDecoder.decode(this.buf.subarray(this.pos, this.pos + n))
    } catch {
      throw new CrdtError('decode_invalid', 'string is not valid UTF-8')
    }
    this.pos += n
    return s
  }

  /** Call after decoding a whole value: trailing bytes mean the input was not ours. */
  end (): void {
    if (this.pos !== this.limit) throw new CrdtError('decode_invalid', `${this.limit - this.pos} trailing byte(s)`)
  }
}

/** Encode with a fresh writer. */
export function encodeWith (fn: (w: Writer) => void, initial?: number): Uint8Array {
  const w = new Writer(initial)
  fn(w)
  return w.finish()
}

/** Decode a whole buffer; rejects trailing bytes. */
export function decodeWith<T> (buf: Uint8Array, fn: (r: Reader) => T): T {
  const r = new Reader(buf)
  const v = fn(r)
  r.end()
  return v
}
