// routerMiddleware dispatches through per-first-segment routers: for any request it must
// pick the same route (or none) as the full @koa/router, including case-insensitive and
// trailing-slash matches, params, unknown first segments and wrong methods.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import Koa from 'koa'
import { z } from 'zod'
import { listen, type Listening } from '../../src/api/app.ts'
import { defineRoute, RouteTable } from '../../src/api/openapi.ts'
import { buildRouter, routerMiddleware, type ApiState } from '../../src/api/router.ts'
import { createLogger } from '../../src/log.ts'

function table (withParamHead: boolean): RouteTable {
  const t = new RouteTable()
  const ok = (name: string) => () => ({ name })
  const response = z.object({ name: z.string() })
  t.add(defineRoute({ method: 'GET', path: '/models', summary: 'a', auth: 'public', response, handler: ok('list') }))
  t.add(defineRoute({ method: 'GET', path: '/models/:id', summary: 'b', auth: 'public', params: z.strictObject({ id: z.string() }), response, handler: ok('get') }))
  t.add(defineRoute({ method: 'POST', path: '/models/:id/invoke', summary: 'c', auth: 'public', params: z.strictObject({ id: z.string() }), response, handler: ok('invoke') }))
  t.add(defineRoute({ method: 'GET', path: '/health', summary: 'd', auth: 'public', response, handler: ok('health') }))
  t.add(defineRoute({ method: 'GET', path: '/v1.0/x', summary: 'e', auth: 'public', response, handler: ok('dotted') }))
  // Scribbles on what the router left on the context: a later request must not see it.
  t.add(defineRoute({
    method: 'POST', path: '/models/:id/mutate', summary: 'g', auth: 'public', params: z.strictObject({ id: z.string() }), response,
    handler: ({ ctx }) => {
      const c = ctx as unknown as { params: Record<string, string>, captures: string[], matched: Array<{ path: string }> }
      c.params.id += '!'
      c.captures.push('scribbled')
      c.matched.push({ path: '/scribbled' })
      return { name: 'mutate' }
    },
  }))
  if (withParamHead) t.add(defineRoute({ method: 'GET', path: '/:anything/deep', summary: 'f', auth: 'public', params: z.strictObject({ anything: z.string() }), response, handler: ok('param-head') }))
  return t
}

function server (t: RouteTable, grouped: boolean): Promise<Listening> {
  const router = buildRouter(t, { log: createLogger({ level: 'silent' }) })
  const app = new Koa<ApiState>()
  app.use(async (ctx, next) => {
    await next()
    if (ctx.body === undefined) ctx.body = { name: 'unmatched' }
    ctx.set('X-Route', (ctx.state as ApiState).route?.path ?? '-')
    // What @koa/router leaves on the context; the single-match fast path must leave the same.
    const c = ctx as unknown as Record<string, unknown> & { matched?: Array<{ path: string }> }
    ctx.set('X-Ctx', encodeURIComponent(JSON.stringify({
      params: c.params, captures: c.captures, routerPath: c.routerPath, routerName: c.routerName ?? null, matchedRoute: c._matchedRoute,
      routeMatched: c.routeMatched, matched: c.matched?.map((l) => l.path), requestParams: (ctx.request as unknown as { params?: unknown }).params,
    })))
  })
  app.use(grouped ? routerMiddleware(router) : router.routes())
  return listen(app, '127.0.0.1', 0)
}

const servers: Listening[] = []
after(async () => { for (const s of servers) await s.close() })

const requests: Array<[string, string]> = [
  ['GET', '/models'], ['GET', '/models/'], ['GET', '/MODELS'], ['GET', '/Models/gpt-demo'], ['GET', '/models/a%2Fb'],
  ['POST', '/models/x/invoke'], ['POST', '/models/x/INVOKE'], ['GET', '/models/x/invoke'], ['PUT', '/models'],
  ['GET', '/health'], ['HEAD', '/health'], ['GET', '/Health/'], ['GET', '/healthz'], ['GET', '/v1.0/x'], ['GET', '/V1.0/X'],
  ['GET', '/'], ['GET', '//models'], ['GET', '/nowhere/deep'], ['GET', '/models/deep'], ['GET', '/health/deep'], ['GET', '/%6Dodels'],
  ['POST', '/models/m/mutate'], ['POST', '/models/m/mutate'],
]

for (const withParamHead of [false, true]) {
  test(`grouped dispatch answers like the full router (param-first route: ${withParamHead})`, async () => {
    const t = table(withParamHead)
    const full = await server(t, false)
    const grouped = await server(t, true)
    servers.push(full, grouped)
    // Twice: the second pass is answered from the grouped router's (method, path) memo.
    for (const [method, path] of [...requests, ...requests]) {
      const [a, b] = await Promise.all([full, grouped].map((s) => fetch(s.url + path, { method })))
      const [ta, tb] = await Promise.all([a!.text(), b!.text()])
      assert.deepEqual([b!.status, b!.headers.get('x-route'), tb, b!.headers.get('x-ctx')], [a!.status, a!.headers.get('x-route'), ta, a!.headers.get('x-ctx')], `${method} ${path}`)
    }
  })
}

test('the comparison is not vacuous: routes are actually matched', async () => {
  const s = await server(table(false), true)
  servers.push(s)
  const r = await fetch(s.url + '/MODELS/abc')
  assert.equal(r.headers.get('x-route'), '/models/:id')
  assert.deepEqual(await r.json(), { name: 'get' })
  const c = JSON.parse(decodeURIComponent(r.headers.get('x-ctx')!))
  assert.deepEqual([c.params, c.matchedRoute, c.routeMatched], [{ id: 'abc' }, '/models/:id', true])
})
