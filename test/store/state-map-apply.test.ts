// StateMap.apply is atomic: an op whose change fails leaves every field as it was, also
// the fields of kinds it applies in place (applyInPlace, no clone), whichever the order.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { gcounterType } from '../../crdt/gcounter.ts'
import { FormStateError } from '../../src/errors.ts'
import { defaultKinds } from '../../src/store/kinds.ts'
import { StateMap } from '../../src/store/state-map.ts'
import type { Change } from '../../src/store/types.ts'
import { gInc, pn } from './helpers.ts'

/** A G-counter whose apply refuses a total of 13 (a kind that can fail, so it is cloned). */
const picky = { ...gcounterType, kind: 'picky.v1', applyInPlace: undefined, apply: (s: unknown, d: { key: string, value: number }) => {
  if (d.value === 13) throw new Error('unlucky')
  return gcounterType.apply(s as never, d)
} }
const kinds = defaultKinds()
kinds.register(picky)
const pick = (field: string, key: string, total: number): Change => ({ field, kind: 'picky.v1', delta: { key, value: total } })

function encoded (s: StateMap, target: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const [f, fs] of s.view(target) ?? []) out.set(f, JSON.stringify(kinds.get(fs.kind)!.inspect(fs.state)))
  return out
}

test('a failing change leaves in-place and cloned fields untouched, before or after them', () => {
  assert.equal(gcounterType.applyInPlace, true)
  for (const order of ['fail-last', 'fail-first'] as const) {
    const s = new StateMap(kinds)
    s.apply('t', [gInc('g', 'a', 1), pn('c', 'n', 'a', 2), pick('p', 'a', 3)])
    const before = encoded(s, 't')
    const changes = [gInc('g', 'a', 5), pn('c', 'n', 'a', 6), gInc('g2', 'a', 1), pick('p', 'a', 4)]
    const failing = pick('p2', 'a', 13)
    if (order === 'fail-last') changes.push(failing)
    else changes.unshift(failing)
    assert.throws(() => s.apply('t', changes), (err: unknown) => err instanceof FormStateError && err.code === 'invalid_op')
    assert.deepEqual(encoded(s, 't'), before, order)
    // The same changes without the failing one all land.
    s.apply('t', changes.filter((c) => c !== failing))
    const after = encoded(s, 't')
    assert.equal(after.get('g'), JSON.stringify({ entries: { a: 5 }, total: 5 }))
    assert.equal(after.get('g2'), JSON.stringify({ entries: { a: 1 }, total: 1 }))
    assert.equal(after.get('p'), JSON.stringify({ entries: { a: 4 }, total: 4 }))
    assert.deepEqual(JSON.parse(after.get('c')!).n, { a: 6 })
  }
})

test('repeated fields of one op apply in order, in place or not', () => {
  const s = new StateMap(kinds)
  s.apply('t', [gInc('g', 'a', 2), gInc('g', 'b', 3), gInc('g', 'a', 7), pick('p', 'a', 1), pick('p', 'a', 4)])
  assert.equal(encoded(s, 't').get('g'), JSON.stringify({ entries: { a: 7, b: 3 }, total: 10 }))
  assert.equal(encoded(s, 't').get('p'), JSON.stringify({ entries: { a: 4 }, total: 4 }))
})
