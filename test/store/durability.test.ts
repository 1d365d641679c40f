// Durability policies: group commit coalesces, sync writes one batch per op, acknowledgements
// follow synced writes, and a failed write fails the replica's writes instead of lying.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FormStateError } from '../../src/errors.ts'
import { classicLevelKv, memoryLevelKv } from '../../src/store/level-kv.ts'
import { memoryKv } from '../../src/store/memory-kv.ts'
import { Replica } from '../../src/store/replica.ts'
import type { KvStore, KvWrite } from '../../src/store/storage.ts'
import { gInc, kinds, tempDir } from './helpers.ts'

/** Wraps a real store, recording each batch (size, sync) and its completion; can be made to fail. */
function recording (inner: KvStore): KvStore & { log: Array<{ n: number; sync: boolean; done: boolean }>; failNext: boolean } {
  const w = {
    backend: inner.backend,
    persistent: inner.persistent,
    log: [] as Array<{ n: number; sync: boolean; done: boolean }>,
    failNext: false,
    open: () => inner.open(),
    close: () => inner.close(),
    get: (k: Uint8Array) => inner.get(k),
    chunks: (r: Parameters<KvStore['chunks']>[0], n?: number) => inner.chunks(r, n),
    entries: (r: Parameters<KvStore['entries']>[0]) => inner.entries(r),
    valueChunks: (r: Parameters<KvStore['valueChunks']>[0], n?: number) => inner.valueChunks(r, n),
    clear: (r: Parameters<KvStore['clear']>[0]) => inner.clear(r),
    async batch (writes: readonly KvWrite[], opts?: { sync?: boolean }) {
      if (w.failNext) throw new Error('disk on fire')
      const rec = { n: writes.length, sync: opts?.sync === true, done: false }
      w.log.push(rec)
      await inner.batch(writes, opts)
      rec.done = true
    },
  }
  return w
}

test('group: a burst of commits shares a few synced batches; each ack follows its synced batch', async () => {
  const tmp = tempDir()
  try {
    const kv = recording(classicLevelKv(tmp.dir))
    const r = new Replica({ replicaId: 'a', kv, kinds })
    assert.equal(r.durability, 'group')
    await r.start()
    const n = 2000
    let acked = 0
    const ps: Array<Promise<void>> = []
    for (let i = 1; i <= n; i++) {
      ps.push(r.commit(`acct/${i % 50}`, [gInc('n', 'a', i)]).then((o) => {
        // Every batch up to the one holding this op has completed, synced.
        let covered = 0
        for (const b of kv.log) { if (!b.done) break; covered += b.n - 1 } // minus the counter write
        assert.ok(covered >= o.seq, `op ${o.seq} acked with ${covered} synced`)
        acked++
      }))
    }
    await Promise.all(ps)
    assert.equal(acked, n)
    assert.ok(kv.log.every((b) => b.sync))
    assert.ok(r.writeBatches < n / 10, `${r.writeBatches} batches for ${n} ops`)
    await r.stop()
  } finally { tmp.cleanup() }
})

test('sync: one synced batch per op', async () => {
  const tmp = tempDir()
  try {
    const kv = recording(classicLevelKv(tmp.dir))
    const r = new Replica({ replicaId: 'a', kv, kinds, durability: 'sync' })
    await r.start()
    await Promise.all(Array.from({ length: 30 }, (_, i) => r.commit('t', [gInc('n', 'a', i + 1)])))
    assert.equal(kv.log.length, 30)
    assert.ok(kv.log.every((b) => b.sync && b.n === 2)) // the op and the log counter
    await r.stop()
  } finally { tmp.cleanup() }
})

test('none: batches are written without sync; memory stores default to it', async () => {
  const kv = recording(memoryLevelKv())
  const r = new Replica({ replicaId: 'a', kv, kinds })
  assert.equal(r.durability, 'none')
  await r.start()
  await Promise.all(Array.from({ length: 10 }, (_, i) => r.commit('t', [gInc('n', 'a', i + 1)])))
  assert.ok(kv.log.length >= 1 && kv.log.every((b) => !b.sync))
  await r.stop()
})

test('a failed write rejects its ops with storage_failure and every later write too', async () => {
  const kv = recording(memoryLevelKv())
  const r = new Replica({ replicaId: 'a', kv, kinds, durability: 'group' })
  await r.start()
  const seen: number[] = []
  r.onCommit((ops) => seen.push(...ops.map((o) => o.seq)))
  await r.commit('t', [gInc('n', 'a', 1)])
  kv.failNext = true
  const failed = await Promise.allSettled([r.commit('t', [gInc('n', 'a', 2)]), r.commit('t', [gInc('n', 'a', 3)])])
  for (const f of failed) {
    assert.equal(f.status, 'rejected')
    assert.ok((f as PromiseRejectedResult).reason instanceof FormStateError)
    assert.equal(((f as PromiseRejectedResult).reason as FormStateError).code, 'storage_failure')
  }
  kv.failNext = false
  await assert.rejects(r.commit('t', [gInc('n', 'a', 4)]), (e: unknown) => e instanceof FormStateError && e.code === 'storage_failure')
  assert.deepEqual(seen, [1]) // nothing announced that was not durable
  await r.stop()
})

test('a store that writes at once (batchNow): a burst is one batch, acknowledged in order; a throw fails the replica', async () => {
  const inner = memoryKv()
  let fail = false
  let batches = 0
  const kv: KvStore = {
    backend: inner.backend,
    persistent: inner.persistent,
    open: () => inner.open(),
    close: () => inner.close(),
    get: (k) => inner.get(k),
    chunks: (r, n) => inner.chunks(r, n),
    entries: (r) => inner.entries(r),
    valueChunks: (r, n) => inner.valueChunks(r, n),
    clear: (r) => inner.clear(r),
    batch: () => Promise.reject(new Error('batchNow must be used')),
    batchNow (writes) {
      if (fail) throw new Error('out of memory')
      batches++
      inner.batchNow!(writes)
    },
  }
  const r = new Replica({ replicaId: 'a', kv, kinds })
  await r.start()
  const seen: number[] = []
  r.onCommit((ops) => seen.push(...ops.map((o) => o.seq)))
  const acked: number[] = []
  await Promise.all(Array.from({ length: 20 }, (_, i) => r.commit('t', [gInc('n', 'a', i + 1)]).then((op) => acked.push(op.seq))))
  assert.equal(batches, 1)
  assert.deepEqual(acked, seen)
  assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => i + 1))
  assert.equal((await r.encodedOpsAfter(new Map(), 100)).length, 20)
  fail = true
  await assert.rejects(r.commit('t', [gInc('n', 'a', 21)]), (e: unknown) => e instanceof FormStateError && e.code === 'storage_failure')
  fail = false
  await assert.rejects(r.commit('t', [gInc('n', 'a', 22)]), (e: unknown) => e instanceof FormStateError && e.code === 'storage_failure')
  assert.equal(seen.length, 20)
  await r.stop()
})
