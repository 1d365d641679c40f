// Writer.copyTo copies exactly what finish() would return, wherever it is put, whether
// the writer's buffer is full or not, and leaves the rest of the destination alone.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writer } from '../../crdt/codec.ts'

test('copyTo writes finish()\'s bytes at the offset and nothing else', () => {
  for (const n of [0, 1, 7, 8, 9, 100]) {
    const w = new Writer(8)
    for (let i = 0; i < n; i++) w.u8(i + 1)
    const dst = new Uint8Array(n + 10).fill(0xee)
    w.copyTo(dst, 3)
    assert.deepEqual([...dst.subarray(3, 3 + n)], [...w.finish()], `n=${n}`)
    assert.ok(dst.subarray(0, 3).every((b) => b === 0xee) && dst.subarray(3 + n).every((b) => b === 0xee), `n=${n}: outside untouched`)
  }
})
