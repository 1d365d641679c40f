// Log keys: cut from a shared slab (keys built later never overwrite earlier ones), ordered
// by seq, and their seq read back without decoding the origin.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Keys, readU64, u64 } from '../../src/store/keys.ts'
import { compareBytes } from '../../src/store/storage.ts'

const SEQS = [1, 2, 255, 256, 65_535, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 5, Number.MAX_SAFE_INTEGER]

test('log keys round-trip their seq (seqOf and parseLog), across many slabs', () => {
  const keys = new Keys(3)
  const built: Array<[string, number, Uint8Array]> = []
  // Enough keys to span several 16 KiB slabs, with origins of different lengths.
  for (let i = 0; i < 3000; i++) {
    const origin = `origin-${i % 7}`.repeat(1 + (i % 3))
    const seq = SEQS[i % SEQS.length]! + (i % SEQS.length === SEQS.length - 1 ? 0 : i)
    built.push([origin, seq, keys.log(origin, seq)])
  }
  for (const [origin, seq, key] of built) {
    assert.equal(keys.seqOf(key), seq)
    assert.deepEqual(keys.parseLog(key), { origin, seq })
  }
})

test('log keys of one origin sort by seq', () => {
  const keys = new Keys(0)
  const ks = SEQS.map((s) => keys.log('a', s))
  for (let i = 1; i < ks.length; i++) assert.ok(compareBytes(ks[i - 1]!, ks[i]!) < 0, `seq ${SEQS[i - 1]} < ${SEQS[i]}`)
})

test('u64 writes big-endian bytes that readU64 reads back and that sort as the numbers do', () => {
  const sorted = [...SEQS].sort((a, b) => a - b)
  for (const n of [0, ...sorted]) assert.equal(readU64(u64(n), 0), n)
  for (let i = 1; i < sorted.length; i++) assert.ok(compareBytes(u64(sorted[i - 1]!), u64(sorted[i]!)) < 0, `${sorted[i - 1]} < ${sorted[i]}`)
  assert.deepEqual([...u64(2 ** 32 + 258)], [0, 0, 0, 1, 0, 0, 1, 2])
})
