// Sync protocol frames round-trip; malformed frames are refused. Stability is the meet.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeFrame, encodeFrame, type Frame } from '../../src/replication/sync-frames.ts'
import { stableVector } from '../../src/replication/stability.ts'

const vv = (o: Record<string, number>) => new Map(Object.entries(o))

test('every frame type round-trips', () => {
  const frames: Frame[] = [
    { type: 'request', cluster: 'c', shard: 3, vv: vv({ a: 5, b: 1 }), members: ['a', 'b'], retired: [] },
    { type: 'request', cluster: 'c', shard: 0, vv: vv({}), members: ['a'], retired: ['z', 'y'] },
    { type: 'hello', vv: vv({ a: 9 }), compactedVv: vv({ a: 2 }), members: ['x'], retired: ['q'] },
    { type: 'snap_chunk', bytes: Uint8Array.from([1, 2, 3]) },
    { type: 'snap_end' },
    { type: 'ops', bytes: Uint8Array.from([9]) },
    { type: 'end', ops: 1234, more: true },
    { type: 'error', code: 'wrong_cluster', message: 'nope' },
  ]
  for (const f of frames) assert.deepEqual(decodeFrame(encodeFrame(f)), f)
})

test('unknown, truncated and trailing frames are refused', () => {
  const good = encodeFrame({ type: 'end', ops: 7, more: false })
  assert.throws(() => decodeFrame(Uint8Array.from([99])))
  assert.throws(() => decodeFrame(new Uint8Array(0)))
  assert.throws(() => decodeFrame(good.subarray(0, good.length - 1)))
  assert.throws(() => decodeFrame(Uint8Array.from([...good, 0])))
})

test('the stable vector is the meet of all members; an unheard member contributes nothing', () => {
  const self = vv({ a: 10, b: 4 })
  const vectors = new Map([['b', vv({ a: 7, b: 6 })], ['c', vv({ a: 9, b: 4 })]])
  assert.deepEqual(stableVector(self, ['a', 'b', 'c'], 'a', vectors), vv({ a: 7, b: 4 }))
  assert.deepEqual(stableVector(self, ['a', 'b', 'c', 'd'], 'a', vectors), vv({}))
  assert.deepEqual(stableVector(self, ['a'], 'a', vectors), self)
})
