// The API framework on a real server (127.0.0.1, port 0) with demo routes.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { z } from 'zod'
import Koa from 'koa'
import { createApp, listen, type Listening } from '../../src/api/app.ts'
import { defineRoute, RouteTable } from '../../src/api/openapi.ts'
import type { AuthHook } from '../../src/api/router.ts'
import { CrdtError } from '../../crdt/errors.ts'
import { FormStateError } from '../../src/errors.ts'
import { createLogger, memorySink } from '../../src/log.ts'

const sink = memorySink()
let ready = false
let srv: Listening

const Widget = z.strictObject({
  name: z.string().min(1),
  size: z.number().int().min(1).max(10),
  dims: z.strictObject({ w: z.number(), h: z.number() }).optional(),
})

function demoRoutes (table: RouteTable): void {
  table.add(defineRoute({
    method: 'POST',
    path: '/v1/widgets/:widget_id',
    summary: 'Create a widget',
    auth: 'public',
    params: z.strictObject({ widget_id: z.string().regex(/^w_[a-z0-9]+$/) }),
    query: z.strictObject({ dry_run: z.enum(['true', 'false']).optional() }),
    body: Widget,
    response: z.object({ id: z.string(), name: z.string(), size: z.number() }),
    status: 201,
    // Returns an extra field the response schema does not list: it must not be sent.
    handler: ({ params, body }) => ({ id: params.widget_id, name: body.name, size: body.size, internal_hash: 'h' }),
  }))
  table.add(defineRoute({ method: 'GET', path: '/v1/widgets/:widget_id', summary: 'Get', auth: 'public', params: z.strictObject({ widget_id: z.string() }), response: z.object({ id: z.string() }), handler: ({ params }) => ({ id: params.widget_id }) }))
  table.add(defineRoute({ method: 'GET', path: '/v1/boom', summary: 'Throws an unexpected error', auth: 'public', handler: () => { throw new Error('secret internals at /srv/x.ts:12') } }))
  table.add(defineRoute({ method: 'GET', path: '/v1/broke', summary: 'Returns a body that breaks its schema', auth: 'public', response: z.object({ n: z.number() }), handler: () => ({ n: 'x' as unknown as number }) }))
  table.add(defineRoute({ method: 'GET', path: '/v1/crdt', summary: 'CrdtError', auth: 'public', handler: () => { throw new CrdtError('decode_truncated', 'short input') } }))
  table.add(defineRoute({
    method: 'GET', path: '/v1/poor', summary: '402 with upgrade', auth: 'public',
    handler: () => { throw new FormStateError('credits_insufficient', 'not enough credits', { extra: { upgrade: { tier: 'pro' }, status: 999 }, headers: { 'Retry-After': '7' } }) },
  }))
  table.add(defineRoute({ method: 'GET', path: '/v1/me', summary: 'Who am I', auth: ['jwt', 'api_key'], response: z.object({ sub: z.string() }), handler: ({ principal }) => ({ sub: principal.sub }) }))
  table.add(defineRoute({ method: 'DELETE', path: '/v1/nothing', summary: 'No content', auth: 'public', handler: () => undefined }))
}

// Stand-in for src/auth: accepts `Bearer good`, and `Bearer lazy` sets no principal (the framework must fail closed).
const fakeAuth: AuthHook = () => async (ctx, next) => {
  const h = ctx.get('Authorization')
  if (h === 'Bearer good') ctx.state.principal = { kind: 'user', sub: 'u1', projectId: 'p1', role: 'admin', scopes: new Set() }
  else if (h !== 'Bearer lazy') throw new FormStateError('unauthenticated', 'no credentials', { headers: { 'WWW-Authenticate': 'Bearer' } })
  await next()
}

before(async () => {
  const log = createLogger({ level: 'debug', sink: sink.sink, format: 'json' })
  const app = createApp({ log, maxBodyBytes: 1024, routes: [demoRoutes], ready: () => ready, authenticate: fakeAuth })
  srv = await listen(app, '127.0.0.1', 0)
})
after(async () => { await srv.close() })

interface Res { status: number, headers: Headers, text: string, json: any }

async function call (method: string, path: string, opts: { body?: string, headers?: Record<string, string> } = {}): Promise<Res> {
  const res = await fetch(srv.url + path, { method, headers: opts.headers, ...(opts.body !== undefined ? { body: opts.body } : {}) })
  const text = await res.text()
  let json: unknown
  try { json = JSON.parse(text) } catch { json = undefined }
  return { status: res.status, headers: res.headers, text, json }
}

const JSON_H = { 'Content-Type': 'application/json' }

function assertProblem (r: Res, status: number, code: string): void {
  assert.equal(r.status, status, r.text)
  assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/)
  assert.equal(r.json.status, status)
  assert.equal(r.json.code, code)
  assert.equal(r.json.type, `urn:form-state:problem:${code}`)
  assert.equal(typeof r.json.title, 'string')
  assert.equal(typeof r.json.detail, 'string')
  assert.equal(r.json.request_id, r.headers.get('x-request-id'))
}

test('a valid write is validated, handled, and shaped by the response schema', async () => {
  const r = await call('POST', '/v1/widgets/w_1?dry_run=true', { body: JSON.stringify({ name: 'a', size: 3 }), headers: JSON_H })
  assert.equal(r.status, 201, r.text)
  assert.deepEqual(r.json, { id: 'w_1', name: 'a', size: 3 })
})

test('a shaped JSON answer has the headers, order and Content-Type plain Koa gives an object body', async () => {
  const plain = new Koa()
  plain.use((ctx) => { ctx.set('X-Request-Id', 'r'); ctx.status = 201; ctx.body = { id: 'w_1' } })
  const p = await listen(plain as never, '127.0.0.1', 0)
  try {
    const names = async (url: string, body?: string): Promise<string[]> => {
      const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
        const req = httpRequest(url, { method: body === undefined ? 'GET' : 'POST', headers: body === undefined ? {} : JSON_H }, resolve)
        req.on('error', reject)
        req.end(body)
      })
      res.resume()
      return res.rawHeaders.filter((_, i) => i % 2 === 0)
    }
    const ours = await names(srv.url + '/v1/widgets/w_1', JSON.stringify({ name: 'a', size: 3 }))
    assert.deepEqual(ours, await names(p.url + '/'))
    const type = async (url: string, init?: RequestInit): Promise<string | null> => (await fetch(url, init)).headers.get('content-type')
    assert.equal(await type(srv.url + '/v1/widgets/w_1', { method: 'POST', body: JSON.stringify({ name: 'a', size: 3 }), headers: JSON_H }), await type(p.url + '/'))
  } finally {
    await p.close()
  }
})

test('unknown body field → 400 unknown_field naming it (nested too)', async () => {
  let r = await call('POST', '/v1/widgets/w_1', { body: JSON.stringify({ name: 'a', size: 3, colour: 'red' }), headers: JSON_H })
  assertProblem(r, 400, 'unknown_field')
  assert.equal(r.json.field, 'colour')
  r = await call('POST', '/v1/widgets/w_1', { body: JSON.stringify({ name: 'a', size: 3, dims: { w: 1, h: 2, d: 3 } }), headers: JSON_H })
  assert.equal(r.json.field, 'dims.d')
})

test('wrong type or range → 400 invalid_field with the dotted path', async () => {
  let r = await call('POST', '/v1/widgets/w_1', { body: JSON.stringify({ name: 'a', size: 'big' }), headers: JSON_H })
  assertProblem(r, 400, 'invalid_field')
  assert.equal(r.json.field, 'size')
  r = await call('POST', '/v1/widgets/w_1', { body: JSON.stringify({ name: 'a', size: 3, dims: { w: 1, h: true } }), headers: JSON_H })
  assert.equal(r.json.field, 'dims.h')
  r = await call('POST', '/v1/widgets/w_1', { body: JSON.stringify({ name: 'a', size: 11 }), headers: JSON_H })
  assert.equal(r.json.field, 'size')
  r = await call('POST', '/v1/widgets/w_1', { body: '{}', headers: JSON_H })
  assertProblem(r, 400, 'invalid_field')
  assert.equal(r.json.field, 'name', 'a missing required field is named')
})

test('bad path params and query are named too; undeclared query is rejected', async () => {
  let r = await call('POST', '/v1/widgets/nope', { body: JSON.stringify({ name: 'a', size: 3 }), headers: JSON_H })
  assertProblem(r, 400, 'invalid_field')
  assert.equal(r.json.field, 'widget_id')
  assert.equal(r.json.in, 'params')
  r = await call('POST', '/v1/widgets/w_1?dry_run=maybe', { body: JSON.stringify({ name: 'a', size: 3 }), headers: JSON_H })
  assert.equal(r.json.field, 'dry_run')
  r = await call('POST', '/v1/widgets/w_1?verbose=1', { body: JSON.stringify({ name: 'a', size: 3 }), headers: JSON_H })
  assertProblem(r, 400, 'unknown_field')
  assert.equal(r.json.field, 'verbose')
  r = await call('GET', '/health?x=1')
  assertProblem(r, 400, 'unknown_field')
})

test('malformed JSON → 400 invalid_json', async () => {
  const r = await call('POST', '/v1/widgets/w_1', { body: '{"name": "a",', headers: JSON_H })
  assertProblem(r, 400, 'invalid_json')
})

test('a body over the limit → 413 payload_too_large', async () => {
  const r = await call('POST', '/v1/widgets/w_1', { body: JSON.stringify({ name: 'x'.repeat(2000), size: 1 }), headers: JSON_H })
  assertProblem(r, 413, 'payload_too_large')
})

test('a chunked body over the limit (no Content-Length) → 413', async () => {
  const status = await new Promise<{ status: number, code: string }>((resolve, reject) => {
    const req = httpRequest(srv.url + '/v1/widgets/w_1', { method: 'POST', headers: JSON_H }, (res) => {
      let text = ''
      res.on('data', (c) => { text += c })
      res.on('end', () => resolve({ status: res.statusCode!, code: JSON.parse(text).code }))
    })
    req.on('error', reject)
    for (let i = 0; i < 4; i++) req.write('{"name":"' + 'y'.repeat(400))
    req.end('"}')
  })
  assert.deepEqual(status, { status: 413, code: 'payload_too_large' })
})

test('a non-JSON body on a write → 415 unsupported_media_type', async () => {
  let r = await call('POST', '/v1/widgets/w_1', { body: 'name=a&size=3', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } })
  assertProblem(r, 415, 'unsupported_media_type')
  r = await call('POST', '/v1/widgets/w_1', { body: '{"name":"a","size":3}', headers: { 'Content-Type': 'text/plain' } })
  assertProblem(r, 415, 'unsupported_media_type')
  r = await call('POST', '/v1/widgets/w_1', { body: '{"name":"a","size":3}', headers: { 'Content-Type': 'application/json; charset=utf-8' } })
  assert.equal(r.status, 201, 'a charset parameter is fine')
})

test('404 not_found and 405 method_not_allowed with Allow', async () => {
  assertProblem(await call('GET', '/v1/nowhere'), 404, 'not_found')
  const r = await call('PUT', '/v1/widgets/w_1', { body: '{}', headers: JSON_H })
  assertProblem(r, 405, 'method_not_allowed')
  const allow = (r.headers.get('allow') ?? '').split(', ').sort()
  assert.deepEqual(allow, ['GET', 'HEAD', 'OPTIONS', 'POST'])
  const o = await call('OPTIONS', '/v1/widgets/w_1')
  assert.equal(o.status, 204)
})

test('request id: generated when absent, echoed when given, replaced when unsafe', async () => {
  const a = await call('GET', '/health')
  assert.match(a.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/)
  const b = await call('GET', '/v1/nowhere', { headers: { 'X-Request-Id': 'req-abc.123' } })
  assert.equal(b.headers.get('x-request-id'), 'req-abc.123')
  assert.equal(b.json.request_id, 'req-abc.123')
  const c = await call('GET', '/health', { headers: { 'X-Request-Id': 'a b\tc' } })
  assert.notEqual(c.headers.get('x-request-id'), 'a b\tc')
})

test('an unexpected error → 500 internal, generic detail, no stack; logged with the request id', async () => {
  const r = await call('GET', '/v1/boom', { headers: { 'X-Request-Id': 'boom-1' } })
  assertProblem(r, 500, 'internal')
  assert.ok(!r.text.includes('secret internals'), r.text)
  assert.ok(!/at .*\.ts:\d+/.test(r.text), r.text)
  const logged = sink.records.find((rec) => rec.level === 'error' && rec.request_id === 'boom-1')
  assert.ok(logged, 'the error is logged')
  assert.match(JSON.stringify(logged), /secret internals/)
})

test('a response that breaks its schema is a 500, not a leak', async () => {
  const r = await call('GET', '/v1/broke')
  assertProblem(r, 500, 'internal')
})

test('CrdtError codes map to FormStateError codes', async () => {
  assertProblem(await call('GET', '/v1/crdt'), 400, 'decode_truncated')
})

test('extra members and headers come from the error; standard members cannot be overridden', async () => {
  const r = await call('GET', '/v1/poor')
  assertProblem(r, 402, 'credits_insufficient')
  assert.deepEqual(r.json.upgrade, { tier: 'pro' })
  assert.equal(r.headers.get('retry-after'), '7')
})

test('auth: the hook runs for non-public routes; a hook that sets no principal fails closed', async () => {
  const none = await call('GET', '/v1/me')
  assertProblem(none, 401, 'unauthenticated')
  assert.equal(none.headers.get('www-authenticate'), 'Bearer')
  assertProblem(await call('GET', '/v1/me', { headers: { Authorization: 'Bearer lazy' } }), 401, 'unauthenticated')
  const ok = await call('GET', '/v1/me', { headers: { Authorization: 'Bearer good' } })
  assert.deepEqual(ok.json, { sub: 'u1' })
})

test('a handler returning nothing → 204; a body on a route without a body schema is rejected', async () => {
  const r = await call('DELETE', '/v1/nothing')
  assert.equal(r.status, 204)
  const b = await call('DELETE', '/v1/nothing', { body: '{"x":1}', headers: JSON_H })
  assertProblem(b, 400, 'unknown_field')
  assert.equal(b.json.field, 'x')
})

test('/health is live; /ready is 503 not_ready until the store started', async () => {
  assert.deepEqual((await call('GET', '/health')).json, { status: 'ok' })
  ready = false
  const r = await call('GET', '/ready')
  assertProblem(r, 503, 'not_ready')
  assert.equal(r.headers.get('retry-after'), '1')
  ready = true
  assert.deepEqual((await call('GET', '/ready')).json, { status: 'ready' })
})

test('the access log has one line per request, without query strings or credentials', async () => {
  await call('GET', '/v1/me?token=fs_test_supersecret123', { headers: { Authorization: 'Bearer good', 'X-Request-Id': 'acc-1' } })
  const line = sink.lines.find((l) => l.includes('"request_id":"acc-1"') && l.includes('"msg":"request"'))
  assert.ok(line)
  const rec = JSON.parse(line)
  assert.equal(rec.path, '/v1/me')
  assert.equal(rec.status, 400)
  assert.ok(!sink.lines.join('\n').includes('supersecret'))
})

test('OpenAPI 3.1 document is generated from the route table', async () => {
  const r = await call('GET', '/openapi.json')
  assert.equal(r.status, 200)
  const doc = r.json
  assert.equal(doc.openapi, '3.1.0')
  assert.equal(typeof doc.info.title, 'string')
  const op = doc.paths['/v1/widgets/{widget_id}'].post
  assert.equal(op.summary, 'Create a widget')
  const body = op.requestBody.content['application/json'].schema
  assert.deepEqual(body.required, ['name', 'size'])
  assert.equal(body.additionalProperties, false)
  assert.equal(body.properties.size.type, 'integer')
  assert.equal(body.properties.size.maximum, 10)
  assert.deepEqual(op.parameters.map((p: { name: string, in: string }) => `${p.in}:${p.name}`), ['path:widget_id', 'query:dry_run'])
  assert.ok(op.responses['201'].content['application/json'].schema.properties.id)
  assert.equal(op.responses['400'].content['application/problem+json'].schema.$ref, '#/components/schemas/Problem')
  assert.deepEqual(op.security, [])
  assert.deepEqual(doc.paths['/v1/me'].get.security, [{ bearerJwt: [] }, { apiKeyHeader: [] }, { apiKeyBearer: [] }])
  // Every $ref resolves.
  for (const ref of r.text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) assert.ok(doc.components.schemas[ref[1]!], ref[1])
})

test('route declarations are checked when the app is built', () => {
  const loose = (t: RouteTable): void => { t.add(defineRoute({ method: 'POST', path: '/x', summary: 's', auth: 'public', body: z.object({ a: z.string() }), handler: () => undefined })) }
  assert.throws(() => createApp({ maxBodyBytes: 10, routes: [loose] }), /non-strict/)
  const dup = (t: RouteTable): void => { t.add(defineRoute({ method: 'GET', path: '/health', summary: 's', auth: 'public', handler: () => undefined })) }
  assert.throws(() => createApp({ maxBodyBytes: 10, routes: [dup] }), /declared twice/)
  const noAuth = (t: RouteTable): void => { t.add(defineRoute({ method: 'GET', path: '/y', summary: 's', auth: 'jwt', handler: () => undefined })) }
  assert.throws(() => createApp({ maxBodyBytes: 10, routes: [noAuth] }), /no authenticate hook/)
  const noParams = (t: RouteTable): void => { t.add(defineRoute({ method: 'GET', path: '/z/:id', summary: 's', auth: 'public', handler: () => undefined })) }
  assert.throws(() => createApp({ maxBodyBytes: 10, routes: [noParams] }), /no params schema/)
})

for (const form of ['middleware', 'guard'] as const) {
  test(`authHook enforces the declared credential kinds and scopes over an authenticate ${form}`, async () => {
    const { authHook, authGuardHook } = await import('../../src/api/auth-hook.ts')
    // Stand-in authenticator: the credential kind comes from a header (src/auth has its own tests).
    const identify = (ctx: import('koa').Context): void => {
      const kind = ctx.get('X-Kind')
      if (kind === '') throw new FormStateError('unauthenticated', 'no credentials')
      ctx.state.principal = { kind, sub: 's', projectId: 'p', role: 'developer', scopes: new Set(ctx.get('X-Scopes').split(',')) }
    }
    const required: import('koa').Middleware = async (ctx, next) => { identify(ctx); await next() }
    // The guard answers at once, or (X-Wait) after a lookup, as src/auth's does for API keys.
    const guard = (ctx: import('koa').Context): void | Promise<void> =>
      ctx.get('X-Wait') === '' ? identify(ctx) : new Promise<void>((resolve) => setImmediate(resolve)).then(() => identify(ctx))
    const hook = form === 'middleware' ? authHook({ required }) : authGuardHook({ required: guard })
    assert.equal(hook.guard !== undefined, form === 'guard')
    const routes = (t: RouteTable): void => {
      t.add(defineRoute({ method: 'GET', path: '/k', summary: 'keys only', auth: 'api_key', scopes: ['usage:read'], response: z.object({ ok: z.boolean() }), handler: () => ({ ok: true }) }))
      t.add(defineRoute({ method: 'GET', path: '/s', summary: 'services only', auth: 'service', response: z.object({ ok: z.boolean() }), handler: () => ({ ok: true }) }))
    }
    const local = await listen(createApp({ maxBodyBytes: 100, routes: [routes], authenticate: hook, log: createLogger({ level: 'silent' }) }), '127.0.0.1', 0)
    try {
      const get = async (path: string, headers: Record<string, string>): Promise<{ status: number, code?: string }> => {
        const r = await fetch(local.url + path, { headers })
        const j = await r.json() as { code?: string }
        return { status: r.status, ...(j.code !== undefined ? { code: j.code } : {}) }
      }
      for (const wait of [{}, { 'X-Wait': '1' }] as Array<Record<string, string>>) {
        assert.deepEqual(await get('/k', { ...wait }), { status: 401, code: 'unauthenticated' })
        assert.deepEqual(await get('/k', { ...wait, 'X-Kind': 'user', 'X-Scopes': 'usage:read' }), { status: 403, code: 'forbidden' })
        assert.deepEqual(await get('/k', { ...wait, 'X-Kind': 'api_key', 'X-Scopes': 'billing:read' }), { status: 403, code: 'insufficient_scope' })
        assert.deepEqual(await get('/k', { ...wait, 'X-Kind': 'api_key', 'X-Scopes': 'usage:read' }), { status: 200 })
        assert.deepEqual(await get('/s', { ...wait, 'X-Kind': 'api_key', 'X-Scopes': '' }), { status: 403, code: 'forbidden' })
        assert.deepEqual(await get('/s', { ...wait, 'X-Kind': 'service', 'X-Scopes': '' }), { status: 200 })
      }
    } finally {
      await local.close()
    }
  })
}
