/**
 * `GET /metrics`: Prometheus exposition text of this node (see ../metrics.ts).
 *
 * Public, like most scrape targets: Prometheus scrapes without a JWT, so restrict who can
 * reach it at the network (bind the API on a private interface, or filter `/metrics` at
 * the proxy). It exposes no secret and no tenant data: counts, latencies, route
 * templates, replica and peer ids (which are public keys).
 */
import type { ApiMetrics } from '../metrics.ts'
import { defineRoute, type RouteTable } from '../openapi.ts'

export function registerMetricsRoutes (table: RouteTable, metrics: ApiMetrics): void {
  table.add(defineRoute({
    method: 'GET',
    path: '/metrics',
    summary: 'Prometheus metrics (text exposition format)',
    description: 'Ops applied and rejected by origin, gossip batches, sync rounds and durations, replication lag per peer, ' +
      'HTTP latency by route. Public: expose the API on a private network or filter this path at the proxy.',
    tag: 'admin',
    auth: 'public',
    status: 200,
    handler: async ({ ctx }) => {
      const { contentType, text } = await metrics.render()
      ctx.type = contentType
      ctx.body = text
      return undefined
    },
  }))
}
