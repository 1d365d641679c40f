// `formstate keys` against a real devnet: create (secret printed once), list, show,
// rotate, revoke, with --token and with --api-key, tables and --json; usage errors.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { main } from '../../src/cli/main.ts'
import { FAST_RATE, startKeysDevnet, USER, type KeysDevnet } from './helpers.ts'

let d: KeysDevnet
before(async () => { d = await startKeysDevnet({ billing: FAST_RATE }) })
after(async () => { await d.close() })

async function run (...args: string[]): Promise<{ code: number, out: string, err: string }> {
  const out: string[] = []
  const err: string[] = []
  const code = await main(['keys', ...args, '--url', d.url], { out: (t) => out.push(t), err: (t) => err.push(t) })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

test('create, list, show, rotate, revoke through the CLI', async () => {
  const jwt = await d.token(USER)
  const created = await run('create', '--name', 'cli key', '--scopes', 'keys:manage,usage:read', '--token', jwt)
  assert.equal(created.code, 0, created.err)
  const key = /key: (fs_test_[0-9a-f]{16}_\S{43})/.exec(created.out)?.[1]
  assert.ok(key !== undefined, created.out)
  assert.match(created.err, /only once/)
  const id = key.slice(8, 24)
  assert.match(created.out, /^ID\s+NAME\s+STATUS/m)

  const list = await run('list', '--api-key', key)
  assert.equal(list.code, 0, list.err)
  assert.match(list.out, new RegExp(`^${id}\\s+cli key\\s+active`, 'm'))
  assert.ok(!list.out.includes(key.slice(25)), 'no secret in a listing')

  const shown = await run('show', id, '--token', jwt, '--json')
  assert.equal(JSON.parse(shown.out).id, id)

  const rotated = await run('rotate', id, '--grace', '60', '--token', jwt, '--json')
  assert.equal(rotated.code, 0, rotated.err)
  const body = JSON.parse(rotated.out)
  assert.equal(body.rotated_from, id)
  assert.equal(body.old.grace_end, d.clock.now + 60_000)

  const revoked = await run('revoke', body.id, '--token', jwt)
  assert.equal(revoked.code, 0, revoked.err)
  assert.match(revoked.out, /revoked/)
  const missing = await run('show', '0123456789abcdef', '--token', jwt)
  assert.equal(missing.code, 1)
  assert.match(missing.err, /404 not_found/)
})

test('usage errors exit 2 without a request', async () => {
  assert.equal((await run('list')).code, 2, 'no credential')
  assert.equal((await run('list', '--token', 'a', '--api-key', 'b')).code, 2, 'two credentials')
  assert.equal((await run('show', 'nothex', '--token', 'a')).code, 2)
  assert.equal((await run('create', '--token', 'a')).code, 2, 'no name/scopes')
  assert.equal((await run('frobnicate', '--token', 'a')).code, 2)
  assert.equal((await run('list', '--token', 'a', '--colour', 'red')).code, 2)
})
