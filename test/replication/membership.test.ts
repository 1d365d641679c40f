// Membership: self, connected peers, vouched peers; persisted across restarts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MEMBERS_FILE, Membership } from '../../src/replication/membership.ts'
import { isFormStateError } from '../../src/errors.ts'

test('self is a member; connected peers become members; members vouch for others', () => {
  const m = new Membership('A')
  assert.ok(m.has('A'))
  assert.ok(!m.has('B'))
  assert.equal(m.connected('B'), true)
  assert.equal(m.connected('B'), false)
  assert.deepEqual(m.vouch('B', ['C', 'A']), ['C'])
  assert.equal(m.list().find((x) => x.id === 'C')?.by, 'B')
  // A non-member cannot vouch.
  assert.deepEqual(m.vouch('X', ['Y']), [])
  assert.ok(!m.has('Y'))
  // A vouched member that connects directly is upgraded.
  m.connected('C')
  assert.equal(m.list().find((x) => x.id === 'C')?.via, 'connected')
  assert.deepEqual(m.ids(), ['A', 'B', 'C'])
})

test('members persist in the data dir and reload', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fs-members-'))
  try {
    const m = new Membership('A', dir)
    m.connected('B')
    m.vouch('B', ['C'])
    await m.save()
    const json = JSON.parse(await readFile(join(dir, MEMBERS_FILE), 'utf8')) as { members: Array<{ id: string }> }
    assert.deepEqual(json.members.map((x) => x.id), ['B', 'C'])
    const again = new Membership('A', dir)
    await again.load()
    assert.deepEqual(again.ids(), ['A', 'B', 'C'])
    assert.equal(again.list().find((x) => x.id === 'C')?.via, 'vouched')
    await writeFile(join(dir, MEMBERS_FILE), 'not json')
    await assert.rejects(new Membership('A', dir).load(), (e) => isFormStateError(e) && e.code === 'decode_invalid')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('a retired member leaves the members, cannot come back by connecting or vouching, and its retirement persists', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fs-members-'))
  try {
    const m = new Membership('A', dir)
    m.connected('B')
    m.connected('D')
    const seen: Array<[string, boolean]> = []
    m.onRetire((r, wasMember) => seen.push([r.id, wasMember]))
    assert.equal(m.retire('D'), true)
    assert.equal(m.retire('D'), false, 'idempotent')
    assert.deepEqual(seen, [['D', true]])
    assert.ok(!m.has('D') && m.isRetired('D'))
    assert.deepEqual(m.ids(), ['A', 'B'], 'compaction no longer waits for D')
    assert.equal(m.retired()[0]?.by, 'A')
    // Neither a connection nor a member's vouching brings it back.
    assert.equal(m.connected('D'), false)
    assert.deepEqual(m.vouch('B', ['D', 'E']), ['E'])
    assert.ok(!m.has('D'))
    // A node cannot retire itself (typed conflict).
    assert.throws(() => m.retire('A'), (e: unknown) => isFormStateError(e) && e.code === 'conflict')
    await m.save()
    const again = new Membership('A', dir)
    await again.load()
    assert.deepEqual(again.ids(), ['A', 'B', 'E'])
    assert.ok(again.isRetired('D'))
    assert.equal(again.connected('D'), false)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('retirements spread from members only; a node never learns itself retired', () => {
  const m = new Membership('A')
  m.connected('B')
  m.connected('C')
  // A non-member cannot retire anyone.
  assert.deepEqual(m.learnRetired('X', ['B']), [])
  assert.ok(m.has('B'))
  // A member can; ids already retired, garbage and our own id are skipped.
  const seen: string[] = []
  m.onRetire((r) => seen.push(`${r.id} by ${r.by}`))
  assert.deepEqual(m.learnRetired('B', ['C', 'A', '', 'C', 'Z']), ['C', 'Z'])
  assert.deepEqual(seen, ['C by B', 'Z by B'])
  assert.deepEqual(m.ids(), ['A', 'B'])
  assert.ok(!m.isRetired('A'))
  // A retired member's word counts no more.
  assert.deepEqual(m.learnRetired('C', ['B']), [])
  assert.ok(m.has('B'))
})

test('a members.json whose retired list is not an array is refused with a typed error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fs-members-'))
  try {
    await writeFile(join(dir, MEMBERS_FILE), JSON.stringify({ members: [], retired: 'D' }))
    await assert.rejects(new Membership('A', dir).load(), (e: unknown) => isFormStateError(e) && e.code === 'decode_invalid')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
