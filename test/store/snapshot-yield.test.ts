// A snapshot is encoded a slice at a time: writes made while it is cut are acknowledged
// before it is written, and the fuzzy cut (entities encoded after those writes hold them,
// the header's vector does not) restarts and exports to the same state.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ENTITIES_PER_SLICE } from '../../src/store/snapshot.ts'
import { gInc, memReplica, tempDir } from './helpers.ts'

const N = ENTITIES_PER_SLICE * 8
const target = (i: number): string => `acct/${String(i).padStart(6, '0')}`

test('writes made while a snapshot is cut are acknowledged first; restart and export give the same state', async () => {
  const t = tempDir()
  try {
    const r = t.open('a', { durability: 'sync' })
    await r.start()
    await Promise.all(Array.from({ length: N }, (_, i) => r.commit(target(i), [gInc('usage', 'a', 1)])))
    const order: string[] = []
    const snap = r.snapshot().then((info) => { order.push('snapshot'); return info })
    // The last entity in key order is encoded after these commits: it holds them, the
    // snapshot header's vector does not.
    const late = r.commit(target(N - 1), [gInc('usage', 'a', 5)]).then(() => { order.push('commit') })
    const fresh = r.commit('acct/zzz', [gInc('usage', 'a', 3)])
    await Promise.all([snap, late, fresh])
    assert.deepEqual(order, ['commit', 'snapshot'], 'the snapshot yielded to the commit')
    const info = await snap
    assert.equal(info.vv.get('a'), N, 'the header covers the ops before the cut only')
    const digest = r.digest()
    const vv = r.versionVector()
    const exported = await r.exportSnapshot()

    const other = memReplica('b')
    await other.start()
    await other.importSnapshot(exported)
    assert.equal(other.fieldValue(target(N - 1), 'usage'), 5, 'the export holds the late write')
    await other.stop()

    await r.stop()
    const again = t.open('a', { durability: 'sync' })
    await again.start()
    assert.equal(again.digest(), digest, 'snapshot + replayed log = the state before the stop')
    assert.deepEqual(again.versionVector(), vv)
    assert.equal(again.fieldValue(target(N - 1), 'usage'), 5)
    assert.equal(again.fieldValue('acct/zzz', 'usage'), 3)
    await again.stop()
  } finally {
    t.cleanup()
  }
})

test('stop waits for a snapshot being cut, and the replica reopens with it', async () => {
  const t = tempDir()
  try {
    const r = t.open('a', { durability: 'sync' })
    await r.start()
    await Promise.all(Array.from({ length: N }, (_, i) => r.commit(target(i), [gInc('usage', 'a', i + 1)])))
    const snap = r.snapshot()
    await r.stop()
    const info = await snap
    assert.equal(info.entities, N)
    const again = t.open('a', { durability: 'sync' })
    await again.start()
    assert.equal(again.lastSnapshot()?.entities, N, 'the snapshot was written before the store closed')
    assert.equal(again.fieldValue(target(N - 1), 'usage'), N)
    await again.stop()
  } finally {
    t.cleanup()
  }
})

test('an empty replica keeps an imported export as its snapshot and restarts from it', async () => {
  const src = memReplica('a')
  await src.start()
  await Promise.all(Array.from({ length: N }, (_, i) => src.commit(target(i), [gInc('usage', 'a', i + 1)])))
  const exported = await src.exportSnapshot()
  const t = tempDir()
  try {
    const d = t.open('d', { durability: 'sync' })
    await d.start()
    await d.importSnapshot(exported)
    assert.equal(d.lastSnapshot()?.entities, N)
    assert.equal(d.lastSnapshot()?.vv.get('a'), N)
    // An op after the import is logged, not in the adopted snapshot: replayed on restart.
    await d.commit(target(0), [gInc('usage', 'd', 7)])
    const digest = d.digest()
    await d.stop()
    const again = t.open('d', { durability: 'sync' })
    await again.start()
    assert.equal(again.digest(), digest)
    assert.equal(again.versionVector().get('a'), N)
    assert.equal(again.fieldValue(target(N - 1), 'usage'), N)
    await again.stop()
  } finally {
    t.cleanup()
    await src.stop()
  }
})
