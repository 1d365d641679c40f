/**
 * `KvStore` over abstract-level: classic-level (LevelDB in a directory) and memory-level.
 * Both share the abstract-level API, so one adapter serves both; only the constructor and
 * the meaning of `sync` differ.
 */
import { ClassicLevel } from 'classic-level'
import { MemoryLevel } from 'memory-level'
import { FormStateError } from '../errors.ts'
import type { KvEntry, KvRange, KvStore, KvWrite } from './storage.ts'

/** The subset of abstract-level we use, typed over Uint8Array keys and values. */
interface LevelLike {
  open (): Promise<void>
  close (): Promise<void>
  get (key: Uint8Array): Promise<Uint8Array | undefined>
  batch (ops: Array<{ type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }>, opts?: { sync?: boolean }): Promise<void>
  iterator (opts: Record<string, unknown>): { nextv (n: number): Promise<Array<[Uint8Array, Uint8Array]>>; close (): Promise<void> }
  values (opts: Record<string, unknown>): { nextv (n: number): Promise<Uint8Array[]>; close (): Promise<void> }
  clear (opts: Record<string, unknown>): Promise<void>
}

function rangeOpts (r: KvRange): Record<string, unknown> {
  const o: Record<string, unknown> = {}
  if (r.gt !== undefined) o.gt = r.gt
  if (r.gte !== undefined) o.gte = r.gte
  if (r.lt !== undefined) o.lt = r.lt
  if (r.lte !== undefined) o.lte = r.lte
  if (r.reverse === true) o.reverse = true
  if (r.limit !== undefined) o.limit = r.limit
  return o
}

function storageError (what: string, err: unknown): FormStateError {
  return new FormStateError('storage_failure', `${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err })
}

class LevelKv implements KvStore {
  constructor (
    private readonly db: LevelLike,
    readonly backend: 'classic' | 'memory',
    readonly persistent: boolean,
  ) {}

  async open (): Promise<void> {
    try { await this.db.open() } catch (err) { throw storageError('open', err) }
  }

  async close (): Promise<void> {
    try { await this.db.close() } catch (err) { throw storageError('close', err) }
  }

  async get (key: Uint8Array): Promise<Uint8Array | undefined> {
    try { return (await this.db.get(key)) ?? undefined } catch (err) { throw storageError('get', err) }
  }

  async batch (writes: readonly KvWrite[], opts: { sync?: boolean } = {}): Promise<void> {
    if (writes.length === 0) return
    try {
      await this.db.batch(writes as Array<KvWrite & { value: Uint8Array }>, { sync: opts.sync === true })
    } catch (err) { throw storageError('batch', err) }
  }

  async * chunks (range: KvRange, chunk = 1000): AsyncIterable<KvEntry[]> {
    yield * prefetched(this.db.iterator(rangeOpts(range)), chunk)
  }

  async * valueChunks (range: KvRange, chunk = 1000): AsyncIterable<Uint8Array[]> {
    yield * prefetched(this.db.values(rangeOpts(range)), chunk)
  }

  async * entries (range: KvRange): AsyncIterable<KvEntry> {
    for await (const c of this.chunks(range)) yield * c
  }

  async clear (range: KvRange): Promise<void> {
    try { await this.db.clear(rangeOpts({ ...range, limit: undefined, reverse: undefined })) } catch (err) { throw storageError('clear', err) }
  }
}

/**
 * Iterate with the next `nextv` already requested while the caller processes the current
 * chunk: LevelDB reads on its own thread, so reading and decoding overlap.
 */
async function * prefetched<T> (it: { nextv (n: number): Promise<T[]>; close (): Promise<void> }, chunk: number): AsyncIterable<T[]> {
  let pending: Promise<T[]> | undefined
  try {
    pending = it.nextv(chunk)
    for (;;) {
      let batch: T[]
      try { batch = await pending } catch (err) { pending = undefined; throw storageError('iterate', err) }
      pending = undefined
      if (batch.length === 0) return
      // A short chunk does not mean the end (reads are also bounded by bytes): ask again.
      pending = it.nextv(chunk)
      yield batch
    }
  } finally {
    // Let an outstanding read finish before closing (abstract-level refuses otherwise).
    if (pending !== undefined) await pending.catch(() => {})
    await it.close()
  }
}

const ENC = { keyEncoding: 'view', valueEncoding: 'view' } as const

/** LevelDB in `dir` (created if missing). `sync` writes fsync. */
export function classicLevelKv (dir: string): KvStore {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, ENC)
  return new LevelKv(db as unknown as LevelLike, 'classic', true)
}

/** In-memory store; `sync` is accepted and ignored (nothing to sync to). */
export function memoryLevelKv (): KvStore {
  const db = new MemoryLevel<Uint8Array, Uint8Array>({ ...ENC, storeEncoding: 'view' })
  return new LevelKv(db as unknown as LevelLike, 'memory', false)
}
