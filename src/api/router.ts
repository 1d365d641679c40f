/**
 * Builds the Koa router from the route table: per route, the auth middleware the
 * composition root supplies (src/auth's `authenticate`), then a handler wrapper that
 * validates params/query/body against the declared schemas, calls the handler and shapes
 * the response through the declared response schema (so a handler cannot leak a field the
 * schema does not list).
 */
import Router from '@koa/router'
import type { Context, Middleware } from 'koa'
import type { Principal } from '../auth/principal.ts'
import { FormStateError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { authModes, type AnyRoute, type AuthMode, type RouteInput, type RouteTable } from './openapi.ts'
import { UNSURE } from './compiled-parser.ts'
import { compiledParserOf, parseBody, parseParams, parseQuery, zodToFormStateError } from './validate.ts'

/** Per-request state the framework keeps on `ctx.state`. */
export interface ApiState {
  requestId: string
  principal?: Principal
  route?: AnyRoute
}

/**
 * Supplies the authentication middleware of a route, given the modes it accepts. It must
 * set `ctx.state.principal` or throw (401/403); the framework re-checks that a principal is
 * present before a non-public handler runs, so a hook that forgets fails closed.
 */
export type AuthHook = ((route: AnyRoute, modes: readonly AuthMode[]) => Middleware) & {
  /**
   * Optional: the same work as a {@link RouteGuard}, which the router then calls before the
   * handler instead of composing the hook's middleware (no closure and async frame per
   * step per request). Must behave exactly as the middleware does before its `next`.
   */
  guard?: (route: AnyRoute, modes: readonly AuthMode[]) => RouteGuard
}

/**
 * A route's pre-handler step as a plain function: sets or checks what the handler needs
 * (e.g. `ctx.state.principal`); returns undefined when it finished at once, a promise when
 * it had to wait (a key lookup); throws or rejects to refuse the request.
 */
export type RouteGuard = (ctx: Context) => void | Promise<void>

export interface RouterOptions {
  log: Logger
  authenticate?: AuthHook
}

function isEmpty (v: unknown): boolean {
  return v === undefined || v === null || (typeof v === 'object' && Object.keys(v).length === 0)
}

/** Rejects input the route declares no schema for, naming the first stray field. */
function rejectUndeclared (source: 'query' | 'body', value: unknown): void {
  if (isEmpty(value)) return
  const isObject = typeof value === 'object' && value !== null
  const first = isObject ? Object.keys(value)[0]! : ''
  throw new FormStateError('unknown_field', `this route takes no ${source}${isObject ? `; unknown field '${first}'` : ''}`, {
    // The stray key, even '' (an empty key is still a field); a non-object names the source.
    field: isObject ? first : source,
    extra: { in: source },
  })
}

/**
 * The `principal` getter of every route input: one shared function reading `this.ctx`.
 * Not a closure per request — an accessor with a new function each time gave every input
 * a new hidden class (allocated in old space, holding the closure and through it the
 * request's whole ctx), so every request's objects were promoted out of the young
 * generation: scavenges of 5 ms instead of 0.3 ms and ~10 µs of GC per request.
 */
function principalOfInput (this: { ctx: Context }): Principal {
  const p = (this.ctx.state as ApiState).principal
  if (p === undefined) throw new FormStateError('unauthenticated', 'authentication required')
  return p
}

function handlerMiddleware (route: AnyRoute, log: Logger): Middleware {
  const isPublic = authModes(route).includes('public')
  const successStatus = route.status ?? (route.response === undefined ? 204 : 200)
  const shape = route.response === undefined ? undefined : compiledParserOf(route.response)
  return async (ctx) => {
    const state = ctx.state as ApiState
    if (!isPublic && state.principal === undefined) throw new FormStateError('unauthenticated', 'authentication required')
    const params = route.params !== undefined ? parseParams(ctx, route.params) : {}
    let query: unknown = {}
    if (route.query !== undefined) query = parseQuery(ctx, route.query)
    // An empty query string parses to {}: nothing to reject, and no parse or object for it.
    else if (ctx.request.querystring !== '') rejectUndeclared('query', ctx.query)
    let body: unknown
    if (route.body !== undefined) body = parseBody(ctx, route.body)
    else rejectUndeclared('body', ctx.request.body)

    let input: RouteInput<unknown, unknown, unknown>
    if (isPublic) {
      input = { params, query, body, requestId: state.requestId, log, ctx } as RouteInput<unknown, unknown, unknown>
      Object.defineProperty(input, 'principal', { get: principalOfInput, enumerable: true })
    } else {
      // A principal is known (checked above) and nothing changes it during the handler: the
      // getter would always answer this one, so it is a plain property (no defineProperty).
      input = { params, query, body, requestId: state.requestId, log, ctx, principal: state.principal! }
    }
    const result = await route.handler(input)

    // A handler may have chosen its own status (e.g. 202) through ctx; keep it if so.
    // ctx.request / ctx.response rather than ctx's delegating accessors (one call fewer each).
    const response = ctx.response
    const explicit = response.status !== 404 ? response.status : undefined
    if (route.response === undefined || result === undefined) {
      response.status = explicit ?? (result === undefined ? 204 : successStatus)
      if (result !== undefined) response.body = result
      return
    }
    // Shaped as zod would (compiled-parser.ts: the same output object) when the compiled
    // parser vouches for the result; through zod otherwise, which also reports a mismatch.
    let data: unknown = shape === undefined ? UNSURE : shape(result)
    if (data !== UNSURE && typeof data === 'object' && data !== null && !ctx.res.hasHeader('Content-Type')) {
      // A compiled parser's output is plain JSON data (strings, finite numbers, booleans,
      // null, fresh plain objects and arrays): JSON.stringify cannot throw on it. Give Koa the
      // text it would make in respond, with the Content-Type it would pick: the string body
      // skips its JSON branch (type lookup, a header removal, measuring at respond time).
      response.status = explicit ?? successStatus
      ctx.res.setHeader('Content-Type', JSON_CONTENT_TYPE)
      response.body = JSON.stringify(data)
      return
    }
    if (data === UNSURE) {
      const shaped = route.response.safeParse(result)
      if (!shaped.success) {
        // Our bug, not the client's: log the mismatch, answer a generic 500.
        const err = zodToFormStateError(shaped.error)
        log.error('response does not match its schema', { route: `${route.method} ${route.path}`, field: err.field, errors: err.extra?.errors })
        throw new FormStateError('internal', 'response does not match its schema')
      }
      data = shaped.data
    }
    response.status = explicit ?? successStatus
    // Koa gives an object or array body the type 'json' (a mime lookup per answer) unless a
    // JSON type is already set: set the very value it would pick, at the moment it would.
    if (typeof data === 'object' && data !== null && (Array.isArray(data) || Object.getPrototypeOf(data) === Object.prototype) && !ctx.res.hasHeader('Content-Type')) {
      ctx.res.setHeader('Content-Type', JSON_CONTENT_TYPE)
    }
    response.body = data
  }
}

/** What Koa sets for `ctx.type = 'json'` (framework.test.ts checks it against Koa's own). */
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8'

/** Per full router: one router per literal first path segment (see `routerMiddleware`). */
const groupsOf = new WeakMap<Router, Map<string, Router>>()

/** The first path segment of a route path, lower-cased; undefined when it is not literal. */
function literalHead (path: string): string | undefined {
  const head = path.split('/')[1] ?? ''
  return head !== '' && /^[A-Za-z0-9._~-]+$/.test(head) ? head.toLowerCase() : undefined
}

/**
 * The router's middleware, dispatching through a router holding only the routes whose first
 * path segment is the request's: @koa/router tests every route's regexp on every request
 * (50 routes here). Routes of different literal first segments cannot match the same path
 * (matching is case-insensitive, hence the lower-casing), so the outcome is the full
 * router's; a request whose first segment names no group goes through the full router.
 */
export function routerMiddleware (router: Router): Middleware {
  const full = router.routes() as Middleware
  const groups = groupsOf.get(router)
  if (groups === undefined) return full
  const mw = new Map<string, Group>()
  for (const [head, sub] of groups) mw.set(head, { sub, layers: sub.stack as unknown as RouteLayer[], router: sub.routes() as Middleware, memo: new Map(), memoSize: 0 })
  return (ctx, next) => {
    const path = ctx.request.path
    const end = path.indexOf('/', 1)
    const head = (end === -1 ? path.slice(1) : path.slice(1, end)).toLowerCase()
    const group = mw.get(head)
    if (group === undefined) return full(ctx, next)
    return dispatchOne(ctx, next, group, path) ?? group.router(ctx, next)
  }
}

interface Group {
  sub: Router
  layers: readonly RouteLayer[]
  router: Middleware
  /** method → path → how it dispatches (null: not exactly one route; the router decides). */
  memo: Map<string, Map<string, Resolved | null>>
  memoSize: number
}

/** What matching a path against a group's layers gave, for one method. */
interface Resolved {
  /** Every layer whose path matches, in order (as @koa/router collects them). */
  matched: readonly RouteLayer[]
  hit: RouteLayer
  captures: readonly string[]
  /** The hit's parameters decoded, with no earlier params to merge. */
  params: Readonly<Record<string, string>>
}

/** Most (method, path) outcomes remembered per group; past it the memo starts over. */
const MEMO_MAX = 1024

/** The parts of an @koa/router Layer that dispatch reads (its own matching and decoding). */
interface RouteLayer {
  path: string
  name?: string | null
  methods: string[]
  stack: Middleware[]
  match (path: string): boolean
  captures (path: string): string[]
  params (path: string, captures: string[], existing?: Record<string, string>): Record<string, string>
}

/** Matches `path` and `method` against the group's layers as @koa/router does. */
function resolve (group: Group, method: string, path: string): Resolved | null {
  let matched: RouteLayer[] | undefined
  let hit: RouteLayer | undefined
  let hits = 0
  for (const layer of group.layers) {
    if (!layer.match(path)) continue
    ;(matched ??= []).push(layer)
    if (layer.methods.includes(method)) { hit = layer; hits++ }
  }
  if (hits !== 1 || hit!.stack.length !== 1) return null
  const captures = hit!.captures(path)
  return { matched: matched!, hit: hit!, captures, params: hit!.params(path, captures) }
}

/**
 * Dispatches the common case, exactly one route matching path and method, the way
 * @koa/router's own middleware does (same layers, same regexps and parameter decoding, the
 * same context fields), without composing a new chain per request. Returns undefined for
 * anything else (no match, several), which the caller hands to the router itself.
 *
 * The outcome of matching depends on nothing but (method, path) (the layers' regexps and
 * `decodeURIComponent`), so it is remembered per group (bounded): a repeated path costs one
 * map lookup instead of a regexp test per route plus the capture and decoding. The context
 * still gets fresh arrays and a fresh params object every time.
 */
function dispatchOne (ctx: Context, next: () => Promise<unknown>, group: Group, path: string): Promise<unknown> | undefined {
  const method = ctx.request.method.toUpperCase()
  let byPath = group.memo.get(method)
  if (byPath === undefined) group.memo.set(method, byPath = new Map())
  let r = byPath.get(path)
  if (r === undefined) {
    r = resolve(group, method, path)
    if (group.memoSize >= MEMO_MAX) { group.memo.clear(); group.memoSize = 0; group.memo.set(method, byPath = new Map()) }
    byPath.set(path, r)
    group.memoSize++
  }
  if (r === null) return undefined
  const hit = r.hit
  const c = ctx as Context & Record<string, unknown>
  if (Array.isArray(c.matched)) (c.matched as RouteLayer[]).push(...r.matched)
  else c.matched = r.matched.slice()
  c.router = group.sub
  c.routeMatched = true
  const captures = r.captures.slice()
  c.captures = captures
  const existing = c.params as Record<string, string> | undefined
  const params = existing === undefined ? { ...r.params } : hit.params(path, captures, existing)
  ;(ctx.request as unknown as { params: unknown }).params = params
  c.params = params
  c.routerPath = hit.path
  c.routerName = hit.name ?? undefined
  c._matchedRoute = hit.path
  if (hit.name) c._matchedRouteName = hit.name
  return hit.stack[0]!(ctx, next as never)
}

/** The Koa router for every route in `table`. */
export function buildRouter (table: RouteTable, opts: RouterOptions): Router {
  const router = new Router()
  // Grouping is only sound when every route starts with a literal segment.
  const groups: Map<string, Router> | undefined = table.routes().every((r) => literalHead(r.path) !== undefined) ? new Map() : undefined
  for (const route of table.routes()) {
    const modes = authModes(route)
    const needsAuth = !(modes.length === 1 && modes[0] === 'public')
    if (needsAuth && opts.authenticate === undefined) {
      throw new Error(`route ${route.method} ${route.path} requires ${modes.join('|')} auth but no authenticate hook was given`)
    }
    const hook = opts.authenticate
    const guard = needsAuth && hook!.guard !== undefined ? hook!.guard(route, modes) : undefined
    const auth = needsAuth && guard === undefined ? hook!(route, modes) : undefined
    const handler = handlerMiddleware(route, opts.log)
    // One middleware per route (set the route, authenticate, handle) rather than a chain of
    // three that the router composes again on every request.
    const chain: Middleware[] = [guard !== undefined
      ? (ctx, next) => {
          (ctx.state as ApiState).route = route
          try {
            const waiting = guard(ctx)
            return waiting === undefined ? handler(ctx, next) : waiting.then(() => handler(ctx, next))
          } catch (err) {
            return Promise.reject(err)
          }
        }
      : auth === undefined
        ? async (ctx, next) => { (ctx.state as ApiState).route = route; await handler(ctx, next) }
        : async (ctx, next) => { (ctx.state as ApiState).route = route; await auth(ctx, () => handler(ctx, next)) }]
    router.register(route.path, [route.method], chain)
    if (groups !== undefined) {
      const head = literalHead(route.path)!
      let sub = groups.get(head)
      if (sub === undefined) groups.set(head, sub = new Router())
      sub.register(route.path, [route.method], chain)
    }
  }
  if (groups !== undefined) groupsOf.set(router, groups)
  return router
}
