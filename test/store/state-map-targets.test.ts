// StateMap.targets keeps its keys sorted incrementally (new keys sorted and merged in):
// checked against a plain sort, with prefixes, across rounds of inserts, merges and clear.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { StateMap } from '../../src/store/state-map.ts'
import { gInc, kinds, rng, seedFromEnv } from './helpers.ts'

test('targets() equals a sort of every key, with and without a prefix, as keys are added', () => {
  const seed = seedFromEnv('state-map targets')
  const rand = rng(seed)
  const s = new StateMap(kinds)
  const keys = new Set<string>()
  const prefixes = ['acct/', 'acct/1', 'key/', 'k', 'zz', '', 'acct/9999999']
  for (let round = 0; round < 12; round++) {
    const n = Math.floor(rand() * 300)
    for (let i = 0; i < n; i++) {
      const kind = rand() < 0.6 ? 'acct' : rand() < 0.5 ? 'key' : 'kz'
      const t = `${kind}/${Math.floor(rand() * 5000)}`
      s.apply(t, [gInc('usage', 'a', 1 + i)])
      keys.add(t)
    }
    // Some rounds ask twice in a row (nothing new), some skip asking.
    if (rand() < 0.2) continue
    const all = [...keys].sort()
    assert.deepEqual(s.targets(), all, `seed ${seed} round ${round}`)
    assert.deepEqual(s.targets(), all)
    for (const p of prefixes) assert.deepEqual(s.targets(p), all.filter((k) => k.startsWith(p)), `seed ${seed} prefix ${p}`)
  }
  // Entities adopted by a merge (snapshot import) are listed too; clear() forgets all.
  const other = new StateMap(kinds)
  other.apply('acct/merged', [gInc('usage', 'b', 1)])
  s.mergeFrom(other)
  assert.ok(s.targets('acct/').includes('acct/merged'))
  assert.equal(s.targets().length, keys.size + 1)
  s.clear()
  assert.deepEqual(s.targets(), [])
  s.apply('x/1', [gInc('usage', 'a', 1)])
  assert.deepEqual(s.targets(), ['x/1'])
})
