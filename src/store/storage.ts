/**
 * The one storage interface of the store: an ordered key-value store with atomic batch
 * writes, ordered range iteration and range deletes. Keys and values are bytes, compared
 * bytewise. Two implementations (see `level-kv.ts`): classic-level on disk and
 * memory-level in memory; both pass the same test suite (test/store/storage.test.ts).
 */

/** One write inside an atomic batch. */
export type KvWrite =
  | { readonly type: 'put'; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: 'del'; readonly key: Uint8Array }

/** A key range; bounds are optional and compared bytewise. */
export interface KvRange {
  readonly gt?: Uint8Array
  readonly gte?: Uint8Array
  readonly lt?: Uint8Array
  readonly lte?: Uint8Array
  /** Maximum entries to yield (iteration only). */
  readonly limit?: number
  readonly reverse?: boolean
}

/** A key/value pair as stored. */
export type KvEntry = [key: Uint8Array, value: Uint8Array]

export interface KvStore {
  /** `classic` (a directory on disk) or `memory`. */
  readonly backend: 'classic' | 'memory'
  /** True when data outlives the process (so a sync flag means something). */
  readonly persistent: boolean
  open (): Promise<void>
  close (): Promise<void>
  get (key: Uint8Array): Promise<Uint8Array | undefined>
  /**
   * Apply all writes atomically. With `sync`, resolves only once the batch is on stable
   * storage (fsync); without, a process crash keeps it but a machine crash may not.
   */
  batch (writes: readonly KvWrite[], opts?: { sync?: boolean }): Promise<void>
  /**
   * `batch` done before returning, for a store with nothing to wait for (in memory): the
   * write queue then finishes a batch in the microtask that started it, instead of one
   * promise and one more turn per batch. Throws what `batch` would reject with.
   */
  batchNow? (writes: readonly KvWrite[]): void
  /**
   * Entries in key order (or reverse), yielded in chunks of up to `chunk` entries so a
   * reader of millions of entries pays one await per chunk, not per entry.
   */
  chunks (range: KvRange, chunk?: number): AsyncIterable<KvEntry[]>
  /** Values only, in key order, in chunks (cheaper when the value says everything). */
  valueChunks (range: KvRange, chunk?: number): AsyncIterable<Uint8Array[]>
  /** Entries in key order, one by one (convenience over `chunks`). */
  entries (range: KvRange): AsyncIterable<KvEntry>
  /** Delete every key in the range. Not atomic with respect to other writes. */
  clear (range: KvRange): Promise<void>
}

const enc = new TextEncoder()

/** UTF-8 bytes of a string key part. */
export function utf8 (s: string): Uint8Array {
  return enc.encode(s)
}

/** Concatenate key parts. */
export function concatBytes (...parts: Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

/**
 * The smallest key greater than every key starting with `prefix` (for `lt` bounds).
 * Undefined when no such key exists (prefix of all 0xff).
 */
export function prefixEnd (prefix: Uint8Array): Uint8Array | undefined {
  const out = prefix.slice()
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! < 0xff) { out[i]!++; return out.subarray(0, i + 1) }
  }
  return undefined
}

/** Range covering every key that starts with `prefix`. */
export function prefixRange (prefix: Uint8Array): KvRange {
  const end = prefixEnd(prefix)
  return end === undefined ? { gte: prefix } : { gte: prefix, lt: end }
}

/** Bytewise comparison of two keys. */
export function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}
