// The account-access policy (src/api/account-access.ts) for principals the HTTP tests cannot
// mint yet (API keys come with the keys feature), against a real devnet store.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { accountFor } from '../../src/api/account-access.ts'
import type { Principal } from '../../src/auth/principal.ts'
import { FormStateError } from '../../src/errors.ts'
import { createLogger, memorySink } from '../../src/log.ts'
import { ADMIN, PROJECT, startTestDevnet, USER, type TestDevnet } from './devnet-helpers.ts'

let d: TestDevnet
const sink = memorySink()
const log = createLogger({ level: 'info', sink: sink.sink, format: 'json' })

before(async () => { d = await startTestDevnet() })
after(async () => { await d.close() })

function code (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof FormStateError)
    return err.code
  }
  return 'ok'
}

const key = (accountId: string, role: Principal['role'] = 'user'): Principal => ({
  kind: 'api_key', sub: USER, projectId: PROJECT, role, scopes: new Set(), accountId, keyId: 'key_1',
})

test('an API key acts on its own account only, and never writes', () => {
  const own = d.accountOf(USER)
  const p = key(own)
  assert.equal(accountFor(d.node.store, log, p, { mode: 'read', action: 't' }), own)
  assert.equal(accountFor(d.node.store, log, p, { mode: 'read', requested: own, action: 't' }), own)
  assert.equal(code(() => accountFor(d.node.store, log, p, { mode: 'read', requested: d.accountOf(ADMIN), action: 't' })), 'forbidden')
  assert.equal(code(() => accountFor(d.node.store, log, key(own, 'admin'), { mode: 'write', requested: own, action: 't' })), 'forbidden', 'a key is not an admin session')
  assert.equal(code(() => accountFor(d.node.store, log, key(`acc_${'9'.repeat(24)}`), { mode: 'read', action: 't' })), 'not_found')
})

test('services must name an account, are held to a declared project, and are logged by name', () => {
  const svc: Principal = { kind: 'service', sub: 'service:billing', projectId: '', role: 'user', scopes: new Set(), serviceName: 'billing' }
  assert.equal(code(() => accountFor(d.node.store, log, svc, { mode: 'write', action: 't' })), 'invalid_field')
  const id = d.accountOf(USER)
  assert.equal(accountFor(d.node.store, log, svc, { mode: 'write', requested: id, action: 'POST /x' }), id)
  const line = sink.records.find((r) => r.msg === 'service account access')
  assert.equal(line?.service, 'billing')
  assert.equal(line?.action, 'POST /x')
  assert.equal(line?.account_id, id)
  const acting = { ...svc, projectId: 'proj_x', actingFor: 'proj_x' }
  assert.equal(code(() => accountFor(d.node.store, log, acting, { mode: 'read', requested: id, action: 't' })), 'wrong_project')
})
