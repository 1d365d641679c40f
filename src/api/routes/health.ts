/**
 * Liveness, readiness and the API description:
 * `GET /health` answers while the process runs; `GET /ready` answers 200 once the store
 * has started (503 `not_ready` before); `GET /openapi.json` is generated from the route table.
 */
import { z } from 'zod'
import { FormStateError } from '../../errors.ts'
import { buildOpenApiDocument, defineRoute, type ApiInfo, type RouteTable } from '../openapi.ts'

export interface HealthDeps {
  /** True once the store (and whatever else must run before serving) has started. */
  ready: () => boolean
  info: ApiInfo
}

/** Registers `/health`, `/ready` and `/openapi.json`. */
export function registerHealthRoutes (table: RouteTable, deps: HealthDeps): void {
  table.add(defineRoute({
    method: 'GET',
    path: '/health',
    summary: 'Liveness: the process is up',
    tag: 'health',
    auth: 'public',
    response: z.object({ status: z.literal('ok') }),
    handler: () => ({ status: 'ok' as const }),
  }))

  table.add(defineRoute({
    method: 'GET',
    path: '/ready',
    summary: 'Readiness: the store has started and requests can be served',
    tag: 'health',
    auth: 'public',
    errors: ['not_ready'],
    response: z.object({ status: z.literal('ready') }),
    handler: () => {
      if (!deps.ready()) throw new FormStateError('not_ready', 'the store has not started yet', { headers: { 'Retry-After': '1' } })
      return { status: 'ready' as const }
    },
  }))

  // Built on first request: every route file has registered by then.
  let doc: Record<string, unknown> | undefined
  table.add(defineRoute({
    method: 'GET',
    path: '/openapi.json',
    summary: 'OpenAPI 3.1 description of this API',
    tag: 'health',
    auth: 'public',
    response: z.record(z.string(), z.unknown()),
    handler: () => (doc ??= buildOpenApiDocument(table, deps.info)),
  }))
}
