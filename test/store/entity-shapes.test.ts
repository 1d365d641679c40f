// Entities share their sorted field/kind list ("shape") through a bounded cache. Sharing
// must be invisible: many distinct field sets (more than the cache holds, so shapes are
// evicted while entities still use them), wide entities (kept unshared), fields added in
// any order, and a snapshot round trip all read back exactly what was written, and two
// replicas that applied the same ops in different orders have the same digest.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { gInc, memReplica, op, pn, rng, seedFromEnv } from './helpers.ts'
import type { Op } from '../../src/store/types.ts'

const seed = seedFromEnv('entity-shapes')

test('many distinct field sets and wide entities read back exactly, in any apply order', async () => {
  const rand = rng(seed)
  const ops: Op[] = []
  const expected = new Map<string, Map<string, number>>()
  let seq = 0
  // 1,500 entities with their own field subsets of 12 names (> the 1,024 cached shapes),
  // plus 3 entities with 40 fields (wider than shared shapes).
  for (let e = 0; e < 1503; e++) {
    const target = `acct/${e}`
    const width = e < 1500 ? 12 : 40
    const want = new Map<string, number>()
    for (let f = 0; f < width; f++) {
      if (e < 1500 && ((e >> (f % 11)) & 1) === 0 && f !== 0) continue
      const field = `f${(f * 7) % width}`
      const total = 1 + Math.floor(rand() * 1000)
      want.set(field, total)
      ops.push(op('a', ++seq, target, [gInc(field, 'a', total)]))
    }
    // a second kind in the same entity
    ops.push(op('a', ++seq, target, [pn('credits', 'p', 'grant', 5 + e)]))
    expected.set(target, want)
  }
  const inOrder = memReplica('x')
  const shuffled = memReplica('y')
  await inOrder.start()
  await shuffled.start()
  try {
    await inOrder.applyRemote(ops)
    const mixed = [...ops]
    for (let i = mixed.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1))
      ;[mixed[i], mixed[j]] = [mixed[j]!, mixed[i]!]
    }
    for (let i = 0; i < mixed.length; i += 97) await shuffled.applyRemote(mixed.slice(i, i + 97))
    for (const r of [inOrder, shuffled]) {
      for (const [target, want] of expected) {
        const fields = [...r.entity(target)!.keys()]
        assert.deepEqual(fields, [...want.keys(), 'credits'].sort(), `${target} fields`)
        for (const [field, total] of want) assert.equal(r.fieldValue(target, field), total, `${target}/${field}`)
        assert.equal(r.fieldValue(target, 'credits'), 5 + Number(target.slice(5)))
        assert.equal(r.field(target, 'credits')?.kind, 'pncounter.v1')
      }
    }
    assert.equal(shuffled.digest(), inOrder.digest())
    // A snapshot rebuilds entities (and their shapes) from bytes: same state.
    const copy = memReplica('z')
    await copy.start()
    await copy.importSnapshot(await inOrder.exportSnapshot())
    assert.equal(copy.digest(), inOrder.digest())
    assert.equal(copy.fieldValue('acct/1502', 'f39'), expected.get('acct/1502')!.get('f39'))
    await copy.stop()
  } finally {
    await inOrder.stop()
    await shuffled.stop()
  }
})
