/**
 * The Koa app. Middleware order (outermost first): timing, request id, access log, error
 * middleware (one frame: `requestFrame`), JSON-only writes (415) and body parser (413 /
 * 400 invalid_json) (one: `jsonRequest`), router (built from the route table: auth,
 * validation, handler), 404/405 fallback.
 */
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import Koa, { type Middleware } from 'koa'
import { createLogger, type Logger } from '../log.ts'
import { jsonRequest } from './json-body.ts'
import type { TimingMiddleware } from './metrics.ts'
import { fallback, requestFrame } from './middleware.ts'
import { RouteTable, type ApiInfo } from './openapi.ts'
import { buildRouter, routerMiddleware, type ApiState, type AuthHook } from './router.ts'
import { registerHealthRoutes } from './routes/health.ts'

/** Registers one resource's routes (one `routes/<resource>.ts` exports one of these). */
export type RouteRegistrar = (table: RouteTable) => void

export interface AppDeps {
  /** Defaults to a logger writing to stderr at `info`. */
  log?: Logger
  /** Request body limit in bytes (config `maxBodyBytes`). */
  maxBodyBytes: number
  /** Resource route registrations; health/ready/openapi are always added. */
  routes?: readonly RouteRegistrar[]
  /** Readiness for `GET /ready`; defaults to always ready. */
  ready?: () => boolean
  /** Auth middleware per route; required as soon as one route is not public. */
  authenticate?: AuthHook
  info?: ApiInfo
  /** Prefix of problem `type` URIs. */
  problemTypeBase?: string
  /**
   * Outermost middleware timing each request (metrics.ts `httpMiddleware`). When it offers
   * `observe` (a TimingMiddleware), that is called from the request frame instead: the same
   * recording, one async frame fewer per request.
   */
  timing?: Middleware | TimingMiddleware
}

/** The app plus the route table it was built from. */
export type FormStateApp = Koa<ApiState> & { readonly routeTable: RouteTable }

/** Builds the Koa app. Throws at build time on a bad route declaration. */
export function createApp (deps: AppDeps): FormStateApp {
  const log = (deps.log ?? createLogger()).child({ component: 'api' })
  const table = new RouteTable()
  registerHealthRoutes(table, {
    ready: deps.ready ?? (() => true),
    info: deps.info ?? { title: 'form-state', version: '0.1.0' },
  })
  for (const register of deps.routes ?? []) register(table)
  const router = buildRouter(table, { log, ...(deps.authenticate !== undefined ? { authenticate: deps.authenticate } : {}) })

  const app = new Koa<ApiState>() as FormStateApp
  Object.defineProperty(app, 'routeTable', { value: table })
  const observe = (deps.timing as Partial<TimingMiddleware> | undefined)?.observe
  if (deps.timing !== undefined && observe === undefined) app.use(deps.timing)
  // (timing +) requestId() + accessLog(log) + errorMiddleware(...) in one frame.
  app.use(requestFrame({ log, ...(deps.problemTypeBase !== undefined ? { typeBase: deps.problemTypeBase } : {}), ...(observe !== undefined ? { observe } : {}) }))
  app.use(jsonRequest(deps.maxBodyBytes))
  app.use(routerMiddleware(router))
  app.use(fallback(router))
  // The error middleware catches everything; this only sees failures after headers were sent.
  app.on('error', (err) => log.error('unhandled app error', { err }))
  return app
}

/** A listening server and its base URL. */
export interface Listening {
  server: Server
  url: string
  port: number
  close: () => Promise<void>
}

/** Listens on `host:port` (port 0 = ephemeral) and resolves once bound. */
export async function listen (app: Koa<ApiState>, host: string, port: number): Promise<Listening> {
  const server = app.listen(port, host)
  await once(server, 'listening')
  const addr = server.address() as AddressInfo
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  return {
    server,
    port: addr.port,
    url: `http://${shownHost}:${addr.port}`,
    close: () => new Promise<void>((resolve, reject) => {
      server.close((err) => (err !== undefined ? reject(err) : resolve()))
      server.closeAllConnections() // keep-alive sockets would otherwise hold close() open
    }),
  }
}
