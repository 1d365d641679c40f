// Node identity and cluster key files.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IDENTITY_FILE, loadOrCreateIdentity } from '../../src/replication/identity.ts'
import { CLUSTER_KEY_LENGTH, loadClusterKey, makeClusterKey, parseClusterKey } from '../../src/replication/cluster-key.ts'
import { isFormStateError } from '../../src/errors.ts'

async function withDir (fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'fs-ident-'))
  try { await fn(dir) } finally { await rm(dir, { recursive: true, force: true }) }
}

const code = (c: string) => (err: unknown) => isFormStateError(err) && err.code === c

test('the node key is created once, reloaded with the same peer id, and mode 0600', async () => {
  await withDir(async (dir) => {
    const first = await loadOrCreateIdentity(dir)
    assert.equal(first.created, true)
    const again = await loadOrCreateIdentity(dir)
    assert.equal(again.created, false)
    assert.equal(again.peerId, first.peerId)
    assert.deepEqual(again.privateKey.raw, first.privateKey.raw)
    assert.equal((await stat(join(dir, IDENTITY_FILE))).mode & 0o777, 0o600)
  })
})

test('memory mode gets a fresh key each time', async () => {
  const a = await loadOrCreateIdentity()
  const b = await loadOrCreateIdentity()
  assert.notEqual(a.peerId, b.peerId)
  assert.equal(a.privateKey.type, 'Ed25519')
})

test('a corrupt key file is refused, not replaced', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, IDENTITY_FILE), new Uint8Array([1, 2, 3]))
    await assert.rejects(loadOrCreateIdentity(dir), code('decode_invalid'))
  })
})

test('cluster keys are swarm keys, random, and parse back', async () => {
  const a = makeClusterKey()
  const b = makeClusterKey()
  assert.equal(a.length, CLUSTER_KEY_LENGTH)
  assert.notDeepEqual(a, b)
  assert.deepEqual(parseClusterKey(a), a)
  // Editors add a trailing newline or CRLF; the key is the same.
  const crlf = new TextEncoder().encode(new TextDecoder().decode(a).replaceAll('\n', '\r\n') + '\r\n')
  assert.deepEqual(parseClusterKey(crlf), a)
  await withDir(async (dir) => {
    await writeFile(join(dir, 'key'), a)
    assert.deepEqual(await loadClusterKey(join(dir, 'key')), a)
    await assert.rejects(loadClusterKey(join(dir, 'missing')), code('not_ready'))
  })
})

test('malformed cluster keys are refused with decode_invalid', () => {
  const good = new TextDecoder().decode(makeClusterKey())
  for (const bad of ['', good.replace('/base16/', '/base64/'), good.slice(0, -2), good.replace('/psk/', '/xsk/'), good.slice(0, -1) + 'g']) {
    assert.throws(() => parseClusterKey(new TextEncoder().encode(bad)), code('decode_invalid'), JSON.stringify(bad))
  }
})
