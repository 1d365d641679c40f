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
  /** abstract-level's status: 'opening' | 'open' | 'closing' | 'closed'. */
  readonly status: string
  /**
   * The backend's own batch (abstract-level's private API), given already-encoded ops.
   * classic-level hands the array straight to LevelDB's binding.
   */
  _batch? (ops: ReadonlyArray<KvWrite>, opts: { sync: boolean }): Promise<void>
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

/** A write the backend can take as is: key (and value) already Uint8Array. */
function isBytesWrite (w: KvWrite): boolean {
  return w.key instanceof Uint8Array && (w.type === 'del' || (w.type === 'put' && w.value instanceof Uint8Array))
}

class LevelKv implements KvStore {
  /** Writes may go to the backend's private `_batch` (classic-level only: memory-level's wants its own store encoding). */
  private readonly direct: boolean

  constructor (
    private readonly db: LevelLike,
    readonly backend: 'classic' | 'memory',
    readonly persistent: boolean,
  ) {
    this.direct = backend === 'classic' && typeof db._batch === 'function'
  }

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
      // classic-level, open, keys and values already bytes ('view' encodings): abstract-level's
      // public batch() would only clone every op into a new object, look its encodings up and
      // encode bytes to bytes (~5 µs an op, the largest single cost of a catching-up node).
      // Checked per write here instead: a put needs Uint8Array key and value.
      if (this.direct && this.db.status === 'open' && writes.every(isBytesWrite)) await this.db._batch!(writes, { sync: opts.sync === true })
      else await this.db.batch(writes as Array<KvWrite & { value: Uint8Array }>, { sync: opts.sync === true })
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
