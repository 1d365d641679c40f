// The API's ReplicationView mirrors ReplicationStatus/ReplicationEvent without importing
// src/replication (layering). This checks, at type-check time and at run time, that the
// real Replicator still fits it, so the composition root can pass it as is.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ReplicationView } from '../../src/api/deps.ts'
import { Replicator } from '../../src/replication/replicator.ts'
import { marketplaceKinds } from '../../src/state/kinds.ts'
import { memoryLevelKv } from '../../src/store/level-kv.ts'
import { Replica } from '../../src/store/replica.ts'

test('a Replicator is a ReplicationView; status() before start is plain JSON with every field the view names', async () => {
  const store = new Replica({ replicaId: 'r1', kv: memoryLevelKv(), kinds: marketplaceKinds(), durability: 'none' })
  await store.start()
  try {
    const view: ReplicationView = new Replicator().init({}, { store, kinds: marketplaceKinds() })
    const s = view.status()
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s)
    assert.equal(s.peerId, 'r1')
    assert.equal(s.running, false)
    assert.equal(s.readerRunning, false)
    for (const k of ['garbled', 'not_member', 'bad_signature', 'replay', 'decode_error']) assert.equal(s.rejected[k], 0, k)
    assert.equal(typeof view.onEvent, 'function')
  } finally {
    await store.stop()
  }
})
