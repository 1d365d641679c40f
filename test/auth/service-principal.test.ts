// Service credentials and the principal guards.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  adminOnly, ALL_SCOPES, assertSameProject, developerOrAdmin, requireRole, requireScope, requireService,
  SCOPES, type Principal,
} from '../../src/auth/principal.ts'
import { createServiceVerifier, parseServiceSecrets } from '../../src/auth/service-auth.ts'
import { isFormStateError } from '../../src/errors.ts'

function throwsCode (fn: () => unknown, code: string): void {
  assert.throws(fn, (e) => isFormStateError(e) && e.code === code)
}

const SECRET_A = 'a'.repeat(20) + ':with-colon'
const SECRET_B = 'b'.repeat(32)

describe('service secrets', () => {
  test('parses name:secret lists and JSON objects', () => {
    const m = parseServiceSecrets(` billing:${SECRET_A} , gateway:${SECRET_B}`)
    assert.deepEqual([...m], [['billing', SECRET_A], ['gateway', SECRET_B]])
    const j = parseServiceSecrets(JSON.stringify({ billing: SECRET_A }))
    assert.deepEqual([...j], [['billing', SECRET_A]])
    assert.equal(parseServiceSecrets('  ').size, 0)
    // The config module's spelling: name=secret, one per line, comments allowed.
    const lines = parseServiceSecrets(`# internal services\nbilling=${SECRET_A}\n\ngateway = ${SECRET_B}\n`)
    assert.deepEqual([...lines], [['billing', SECRET_A], ['gateway', SECRET_B]])
  })

  test('refuses bad names, short secrets, duplicates and bad JSON, without echoing secrets', () => {
    const bad = [
      'billing', ':' + SECRET_B, `Bill Ing:${SECRET_B}`, 'billing:short', `a:${SECRET_B},a:${SECRET_B}`,
      '{"billing": 5}', '{not json', '["billing"]', `billing:${'x'.repeat(2000)}`,
    ]
    for (const text of bad) {
      assert.throws(() => parseServiceSecrets(text), (e) => {
        return isFormStateError(e) && e.code === 'invalid_field' && e.field === 'service_secrets' && !e.message.includes(SECRET_B)
      }, text.slice(0, 40))
    }
  })

  test('verifyService: good credentials give a service principal', () => {
    const v = createServiceVerifier(parseServiceSecrets(`billing:${SECRET_A},gateway:${SECRET_B}`))
    const p = v.verifyService('billing', SECRET_A)
    assert.equal(p.kind, 'service')
    assert.equal(p.serviceName, 'billing')
    assert.equal(p.sub, 'service:billing')
    assert.equal(p.scopes.size, 0)
    assert.deepEqual(v.names, ['billing', 'gateway'])
    // Built once per service: read-only, so one request cannot change what the next one gets.
    assert.throws(() => { (p as { sub: string }).sub = 'service:other' }, TypeError)
    const g = v.verifyService('gateway', SECRET_B)
    assert.equal(g.serviceName, 'gateway')
    assert.deepEqual(v.verifyService('billing', SECRET_A), p)
  })

  test('verifyService: wrong name, wrong secret, another service\'s secret, prefix, huge', () => {
    const v = createServiceVerifier({ billing: SECRET_A, gateway: SECRET_B })
    throwsCode(() => v.verifyService('nobody', SECRET_A), 'invalid_service_credentials')
    throwsCode(() => v.verifyService('billing', SECRET_B), 'invalid_service_credentials')
    throwsCode(() => v.verifyService('billing', SECRET_A.slice(0, -1)), 'invalid_service_credentials')
    throwsCode(() => v.verifyService('billing', SECRET_A + 'x'), 'invalid_service_credentials')
    throwsCode(() => v.verifyService('billing', ''), 'invalid_service_credentials')
    throwsCode(() => v.verifyService('billing', SECRET_A + 'x'.repeat(100_000)), 'invalid_service_credentials')
  })
})

const user = (over: Partial<Principal> = {}): Principal => ({
  kind: 'user', sub: 'u1', projectId: 'proj_a', role: 'user', scopes: ALL_SCOPES, ...over,
})

describe('principal guards', () => {
  test('roles', () => {
    adminOnly(user({ role: 'admin' }))
    developerOrAdmin(user({ role: 'admin' }))
    developerOrAdmin(user({ role: 'developer' }))
    throwsCode(() => adminOnly(user({ role: 'developer' })), 'forbidden')
    throwsCode(() => developerOrAdmin(user({ role: 'user' })), 'forbidden')
    requireRole(user(), 'user')
    throwsCode(() => requireRole(user(), 'admin', 'developer'), 'forbidden')
  })

  test('services never pass role guards, only requireService', () => {
    const svc = createServiceVerifier({ billing: SECRET_A }).verifyService('billing', SECRET_A)
    throwsCode(() => requireRole(svc, 'user', 'developer', 'admin'), 'forbidden')
    requireService(svc)
    requireService(svc, 'billing')
    throwsCode(() => requireService(svc, 'gateway'), 'forbidden')
    throwsCode(() => requireService(user({ role: 'admin' })), 'forbidden')
  })

  test('scopes: unscoped users hold all, scoped ones exactly theirs', () => {
    for (const s of SCOPES) requireScope(user(), s)
    const scoped = user({ scopes: new Set(['usage:read']) })
    requireScope(scoped, 'usage:read')
    assert.throws(() => requireScope(scoped, 'keys:manage'), (e) => {
      return isFormStateError(e) && e.code === 'insufficient_scope' && e.status === 403 &&
        /error="insufficient_scope"/.test(e.headers?.['WWW-Authenticate'] ?? '')
    })
  })

  test('assertSameProject: same passes; other, empty and a projectless service fail alike', () => {
    assertSameProject(user(), 'proj_a')
    const errs: string[] = []
    for (const [p, id] of [[user(), 'proj_b'], [user(), ''], [user({ projectId: '' }), '']] as const) {
      try { assertSameProject(p, id) } catch (e) {
        assert.ok(isFormStateError(e) && e.code === 'wrong_project' && e.status === 403)
        errs.push(e.message)
      }
    }
    assert.equal(errs.length, 3)
    assert.equal(new Set(errs).size, 1, 'one message whatever the target')
    assert.ok(!errs[0]!.includes('proj_b'))
  })
})
