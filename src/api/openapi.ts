/**
 * The route table. A route is declared once — method, path, summary, auth, input and
 * response schemas, handler — and both the Koa router (router.ts) and the OpenAPI 3.1
 * document (`GET /openapi.json`) are built from it. One file per resource under
 * `routes/` exports a registration function `(table: RouteTable, …deps) => void`.
 */
import type { Context } from 'koa'
import { z } from 'zod'
import type { Principal, Scope } from '../auth/principal.ts'
import { ERROR_STATUS } from '../errors.ts'
import type { Logger } from '../log.ts'
import { looseObjectPaths } from './validate.ts'

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

/** Who may call a route: nobody needs credentials, a user JWT, an API key, or a service. */
export type AuthMode = 'public' | 'jwt' | 'api_key' | 'service'

/** What a handler receives: validated inputs plus the request context. */
export interface RouteInput<P, Q, B> {
  params: P
  query: Q
  body: B
  /**
   * The authenticated caller. Always set on non-public routes (the framework answers 401
   * before the handler otherwise); reading it on a public route without one throws 401.
   */
  readonly principal: Principal
  readonly requestId: string
  readonly log: Logger
  /** The Koa context, for headers and status codes the declaration does not cover. */
  readonly ctx: Context
}

/** A route declaration. Use {@link defineRoute} to get the input types inferred. */
export interface RouteDef<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  readonly method: HttpMethod
  /** Koa-router path, e.g. `/v1/accounts/:account_id/keys`. */
  readonly path: string
  readonly summary: string
  readonly description?: string
  /** OpenAPI tag; defaults to the first path segment after a version prefix. */
  readonly tag?: string
  /** Accepted credentials; a list means any one of them. */
  readonly auth: AuthMode | readonly AuthMode[]
  /** Scopes the caller needs (documented; enforced by `authHook`, services exempt). */
  readonly scopes?: readonly Scope[]
  readonly params?: P
  readonly query?: Q
  readonly body?: B
  /** Response body schema; omit for 204. */
  readonly response?: R
  /** Success status; default 200, or 204 when there is no response schema. */
  readonly status?: number
  /** Error codes this route documents (besides the generic ones). */
  readonly errors?: readonly (keyof typeof ERROR_STATUS)[]
  readonly handler: (input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>) => Promise<z.input<R> | undefined> | z.input<R> | undefined
}

/** A route as stored in the table, with its types erased. */
export type AnyRoute = RouteDef<z.ZodType, z.ZodType, z.ZodType, z.ZodType>

/** Identity function that infers a route's input and output types from its schemas. */
export function defineRoute<P extends z.ZodType = z.ZodObject<{}>, Q extends z.ZodType = z.ZodObject<{}>, B extends z.ZodType = z.ZodUndefined, R extends z.ZodType = z.ZodType> (def: RouteDef<P, Q, B, R>): RouteDef<P, Q, B, R> {
  return def
}

/** Accepted auth modes of a route, as a list. */
export function authModes (route: Pick<AnyRoute, 'auth'>): readonly AuthMode[] {
  return typeof route.auth === 'string' ? [route.auth] : route.auth
}

/** Koa path `/a/:id` → OpenAPI path `/a/{id}`. */
export function openApiPath (path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
}

/** The table routes register into. Rejects duplicates and loose (non-strict) input schemas. */
export class RouteTable {
  readonly #routes: AnyRoute[] = []

  add<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType, R extends z.ZodType> (def: RouteDef<P, Q, B, R>): this {
    const route = def as unknown as AnyRoute
    const id = `${route.method} ${route.path}`
    if (this.#routes.some((r) => r.method === route.method && openApiPath(r.path) === openApiPath(route.path))) {
      throw new Error(`route ${id} declared twice`)
    }
    if (authModes(route).length === 0) throw new Error(`route ${id}: auth must name at least one mode`)
    for (const part of ['params', 'query', 'body'] as const) {
      const schema = route[part]
      if (schema === undefined) continue
      const loose = looseObjectPaths(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }))
      if (loose.length > 0) throw new Error(`route ${id}: ${part} schema has non-strict object(s) at ${loose.join(', ')}; use z.strictObject so unknown fields are rejected`)
    }
    const declared = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!)
    if (declared.length > 0 && route.params === undefined) throw new Error(`route ${id}: path has parameters but no params schema`)
    this.#routes.push(route)
    return this
  }

  /** Routes in registration order. */
  routes (): readonly AnyRoute[] {
    return this.#routes
  }
}

/** `info` of the OpenAPI document. */
export interface ApiInfo {
  title: string
  version: string
  description?: string
}

type Json = Record<string, unknown>

function jsonSchema (schema: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Json
  return rest
}

const SECURITY: Record<Exclude<AuthMode, 'public'>, Array<Record<string, string[]>>> = {
  jwt: [{ bearerJwt: [] }],
  api_key: [{ apiKeyHeader: [] }, { apiKeyBearer: [] }],
  service: [{ serviceName: [], serviceSecret: [] }],
}

const PROBLEM_SCHEMA: Json = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code', 'request_id'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string', enum: Object.keys(ERROR_STATUS) },
    request_id: { type: 'string' },
    field: { type: 'string', description: 'dotted path of the request field that was wrong' },
  },
  additionalProperties: true,
}

function parameters (schema: z.ZodType | undefined, where: 'path' | 'query'): Json[] {
  if (schema === undefined) return []
  const js = jsonSchema(schema, 'input')
  const props = (js.properties ?? {}) as Record<string, Json>
  const required = new Set((js.required ?? []) as string[])
  return Object.entries(props).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    ...(typeof s.description === 'string' ? { description: s.description } : {}),
    schema: s,
  }))
}

function problemRef (description: string): Json {
  return { description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } }
}

function operation (route: AnyRoute): Json {
  const modes = authModes(route)
  const pub = modes.includes('public')
  const responses: Record<string, Json> = {}
  const status = route.status ?? (route.response === undefined ? 204 : 200)
  responses[String(status)] = route.response === undefined
    ? { description: 'success, no content' }
    : { description: 'success', content: { 'application/json': { schema: jsonSchema(route.response, 'output') } } }
  const codes = new Set<string>(route.errors ?? [])
  if (route.body !== undefined || route.query !== undefined || route.params !== undefined) codes.add('invalid_field')
  if (!pub) { codes.add('unauthenticated'); codes.add('forbidden') }
  for (const code of codes) {
    const s = String(ERROR_STATUS[code as keyof typeof ERROR_STATUS])
    responses[s] ??= problemRef(`problem: ${[...codes].filter((c) => String(ERROR_STATUS[c as keyof typeof ERROR_STATUS]) === s).join(', ')}`)
  }
  responses.default = problemRef('problem')
  const segs = route.path.split('/').filter((s) => s !== '' && !s.startsWith(':'))
  const tag = route.tag ?? (/^v\d+$/.test(segs[0] ?? '') ? segs[1] : segs[0]) ?? 'root'
  const op: Json = {
    operationId: `${route.method.toLowerCase()}_${segs.join('_').replace(/[^A-Za-z0-9_]/g, '_') || 'root'}`,
    summary: route.summary,
    ...(route.description !== undefined ? { description: route.description } : {}),
    tags: [tag],
    security: pub ? [] : modes.flatMap((m) => SECURITY[m as Exclude<AuthMode, 'public'>]),
    ...(route.scopes !== undefined && route.scopes.length > 0 ? { 'x-required-scopes': route.scopes } : {}),
    parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query')],
    responses,
  }
  if (route.body !== undefined) {
    op.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(route.body, 'input') } } }
  }
  return op
}

/** The OpenAPI 3.1 document of every route in `table`. */
export function buildOpenApiDocument (table: RouteTable, info: ApiInfo): Json {
  const paths: Record<string, Record<string, Json>> = {}
  for (const route of table.routes()) {
    const p = openApiPath(route.path)
    paths[p] ??= {}
    paths[p][route.method.toLowerCase()] = operation(route)
  }
  return {
    openapi: '3.1.0',
    info,
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    components: {
      schemas: { Problem: PROBLEM_SCHEMA },
      securitySchemes: {
        bearerJwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        apiKeyBearer: { type: 'http', scheme: 'bearer', description: 'an API key (fs_live_… / fs_test_…) as the bearer token' },
        serviceName: { type: 'apiKey', in: 'header', name: 'X-Service-Name' },
        serviceSecret: { type: 'http', scheme: 'bearer', description: 'the service\'s shared secret' },
      },
    },
  }
}
