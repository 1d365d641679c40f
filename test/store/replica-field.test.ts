// `ReplicaStore.field(target, field)`: one field's state without building the entity's
// view (metered calls read ~15 fields of an account that may hold hundreds of usage
// windows). It must agree with `entity(target).get(field)` for every field.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { gInc, memReplica, pn } from './helpers.ts'

test('field() agrees with entity().get() for present, missing and unknown-entity fields', async () => {
  const r = memReplica('a')
  await r.start()
  const changes = [pn('credits', 'p', 'g:1', 100)]
  for (let i = 0; i < 50; i++) changes.push(gInc(`u/requests/model:m/m/${1000 + i}`, 'a', i + 1))
  await r.commit('acct/1', changes)
  await r.commit('acct/1', [gInc('u/requests/model:m/m/1003', 'a', 99)])
  const view = r.entity('acct/1')!
  assert.equal(view.size, 51)
  for (const [name, fs] of view) {
    const f = r.field('acct/1', name)
    assert.ok(f !== undefined, name)
    assert.equal(f.kind, fs.kind)
    assert.equal(f.state, fs.state, `${name}: the live state, not a copy`)
  }
  assert.equal(r.field('acct/1', 'u/requests/model:m/m/0999'), undefined)
  assert.equal(r.field('acct/1', 'zzz'), undefined)
  assert.equal(r.field('acct/2', 'credits'), undefined)
  await r.stop()
})
