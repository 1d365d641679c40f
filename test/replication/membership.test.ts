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
