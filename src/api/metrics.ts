/**
 * Prometheus metrics of one node (prom-client), in a registry of its own so several nodes
 * can run in one process (tests) without sharing counters.
 *
 * - ops applied, by origin and local/remote (store.onApply);
 * - envelopes rejected, by reason and origin; gossip batches and ops in/out; sync rounds
 *   and their durations (replication events, when the node replicates);
 * - replication lag per peer, peer connectivity, op-log length, gaps (gauges read on scrape);
 * - HTTP request latency by route template, method and status (a Koa middleware).
 *
 * Label values that come from the network (origins, peers) are capped per metric, so a
 * misbehaving peer cannot grow the registry without bound; past the cap they read `other`.
 * Nothing secret is a label: routes are templates (`/accounts/:id`), never raw paths.
 */
import { performance } from 'node:perf_hooks'
import type { Context, Middleware } from 'koa'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { ReplicaStore } from '../store/types.ts'
import { LazyHistogram, type HistogramSeries } from './lazy-histogram.ts'
import type { ReplicationEventView, ReplicationStatusView, ReplicationView } from './replication-view.ts'
import type { ApiState } from './router.ts'

/** Most distinct network-supplied label values kept per metric (then `other`). */
export const MAX_LABEL_VALUES = 256

export interface MetricsOptions {
  store: ReplicaStore
  replication?: ReplicationView
  /** Node.js process metrics (CPU, memory, event loop lag, GC). Default true. */
  processMetrics?: boolean
}

/** One node's metrics. */
export interface ApiMetrics {
  readonly registry: Registry
  /**
   * Times every request; mount it outermost so it sees the final status. Its `observe` is
   * the same recording as a plain call (createApp folds it into its outermost frame).
   */
  readonly httpMiddleware: TimingMiddleware
  /** The exposition text and its content type. */
  render (): Promise<{ contentType: string, text: string }>
  /** Stops listening to the store and replication. */
  close (): void
}

/**
 * A middleware timing each request whose recording is also offered as a plain function:
 * `observe(ctx, start)` with `start` from `performance.now()` when the request began, called
 * once the final status is known. Whoever already has an outermost frame calls it there
 * instead of mounting one more async frame.
 */
export type TimingMiddleware = Middleware & { readonly observe: (ctx: Context, start: number) => void }

/** Keeps at most `max` distinct values; later new ones map to `other`. */
function capped (max: number): (v: string) => string {
  const seen = new Set<string>()
  return (v) => {
    if (seen.has(v)) return v
    if (seen.size >= max) return 'other'
    seen.add(v)
    return v
  }
}

const HTTP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
const SYNC_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

/** Builds the registry and hooks it to the store (and replication when given). */
export function createApiMetrics (opts: MetricsOptions): ApiMetrics {
  const registry = new Registry()
  const registers = [registry]
  const { store, replication } = opts
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'formstate_' })

  const applied = new Counter({ name: 'formstate_ops_applied_total', help: 'Ops applied to this replica, by origin replica and whether committed here', labelNames: ['origin', 'source'] as const, registers })
  const rejected = new Counter({ name: 'formstate_envelopes_rejected_total', help: 'Gossip envelopes dropped, by reason and claimed origin', labelNames: ['reason', 'origin'] as const, registers })
  const batches = new Counter({ name: 'formstate_gossip_batches_total', help: 'Gossip envelopes published (out) and accepted (in)', labelNames: ['direction'] as const, registers })
  const gossipOps = new Counter({ name: 'formstate_gossip_ops_total', help: 'Ops carried by gossip envelopes, by direction', labelNames: ['direction'] as const, registers })
  const bytesOut = new Counter({ name: 'formstate_gossip_bytes_out_total', help: 'Bytes of gossip envelopes published', registers })
  const rounds = new Counter({ name: 'formstate_sync_rounds_total', help: 'Anti-entropy rounds this node pulled, by whether a snapshot was transferred', labelNames: ['snapshot'] as const, registers })
  const pulled = new Counter({ name: 'formstate_sync_ops_applied_total', help: 'Ops applied from anti-entropy rounds', registers })
  const roundSeconds = new Histogram({ name: 'formstate_sync_round_duration_seconds', help: 'Duration of anti-entropy rounds', buckets: SYNC_BUCKETS, registers })
  const compacted = new Counter({ name: 'formstate_compacted_ops_total', help: 'Ops dropped from the log by compaction', registers })
  // Observed on every request: a LazyHistogram (plain counts per series, rendered on scrape).
  const http = new LazyHistogram({ name: 'formstate_http_request_duration_seconds', help: 'HTTP request latency by route template, method and status', labelNames: ['method', 'route', 'status'], buckets: HTTP_BUCKETS, registers })

  // Gauges read when scraped: the status is computed then, never kept up to date per op.
  new Gauge({ name: 'formstate_oplog_length', help: 'Ops in this replica\'s log', registers, collect () { this.set(store.logLength()) } })
  new Gauge({ name: 'formstate_vv_gaps', help: 'Origins with ops buffered past a gap', registers, collect () { this.set(store.gaps().size) } })
  // Replication gauges exist only where there is replication (a devnet shows none).
  const newScrape = replication !== undefined ? replicationGauges(replication, registers) : () => {}

  // Per-op hot path: cache the labelled child per origin instead of hashing labels each time.
  const originLabel = capped(MAX_LABEL_VALUES)
  // One map per source keyed by the origin string itself: a concatenated key ('l' + origin)
  // allocated, flattened and hashed a new string per op.
  const localChild = new Map<string, Counter.Internal>()
  const remoteChild = new Map<string, Counter.Internal>()
  const offApply = store.onApply((op, local) => {
    const children = local ? localChild : remoteChild
    let c = children.get(op.origin)
    if (c === undefined) {
      c = applied.labels({ origin: originLabel(op.origin), source: local ? 'local' : 'remote' })
      children.set(op.origin, c)
    }
    c.inc()
  })

  const rejectOrigin = capped(MAX_LABEL_VALUES)
  const onEvent = (e: ReplicationEventView): void => {
    switch (e.type) {
      case 'batch_in': batches.inc({ direction: 'in' }); gossipOps.inc({ direction: 'in' }, e.ops); break
      case 'batch_out': batches.inc({ direction: 'out' }); gossipOps.inc({ direction: 'out' }, e.ops); bytesOut.inc(e.bytes); break
      case 'rejected': rejected.inc({ reason: e.reason, origin: rejectOrigin(e.origin ?? 'unknown') }); break
      case 'sync_round': rounds.inc({ snapshot: String(e.snapshot) }); pulled.inc(e.applied); roundSeconds.observe(e.ms / 1000); break
      case 'compacted': compacted.inc(e.dropped); break
      case 'peer': break // connectivity is a gauge read on scrape
    }
  }
  const offEvents = replication?.onEvent?.(onEvent)

  // route → method → status → series: three lookups by strings the request already holds
  // (route templates and Node's method names are long-lived strings whose hashes are cached)
  // instead of concatenating, and so hashing, a new key string per request.
  const httpChild = new Map<string, Map<string, Map<number, HistogramSeries>>>()
  let httpCached = 0
  const observe = (ctx: Context, start: number): void => {
    const route = (ctx.state as ApiState).route?.path ?? 'unmatched'
    const method = ctx.request.method
    const status = ctx.response.status
    let byMethod = httpChild.get(route)
    let byStatus = byMethod?.get(method)
    let h = byStatus?.get(status)
    if (h === undefined) {
      // Methods are not capped by Koa: keep unknown ones from growing the label set.
      h = http.seriesFor({ method: KNOWN_METHODS.has(method) ? method : 'OTHER', route, status: String(status) })
      if (httpCached < 4096) {
        if (byMethod === undefined) httpChild.set(route, byMethod = new Map())
        if (byStatus === undefined) byMethod.set(method, byStatus = new Map())
        byStatus.set(status, h)
        httpCached++
      }
    }
    http.observe(h, (performance.now() - start) / 1000)
  }
  const timed: Middleware = async (ctx, next) => {
    const start = performance.now()
    try {
      await next()
    } finally {
      observe(ctx, start)
    }
  }
  const httpMiddleware: TimingMiddleware = Object.assign(timed, { observe })

  return {
    registry,
    httpMiddleware,
    async render () {
      newScrape()
      return { contentType: registry.contentType, text: await registry.metrics() }
    },
    close () {
      offApply()
      offEvents?.()
    },
  }
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

/**
 * Lag, connectivity and reader gauges, computed from one status() per scrape. Returns the
 * function that starts a new scrape (forgets the status).
 */
function replicationGauges (replication: ReplicationView, registers: Registry[]): () => void {
  const peerLabel = capped(MAX_LABEL_VALUES)
  let cached: ReplicationStatusView | undefined
  const status = (): ReplicationStatusView => (cached ??= replication.status())
  new Gauge({
    name: 'formstate_replication_lag_ops', help: 'Ops a peer has that this replica lacks (as of its last vector)', labelNames: ['peer'] as const, registers,
    collect () { this.reset(); for (const [id, p] of Object.entries(status().peers)) this.set({ peer: peerLabel(id) }, p.lagOps) },
  })
  new Gauge({
    name: 'formstate_replication_lag_seconds', help: 'How long this replica has been behind a peer (0 when caught up)', labelNames: ['peer'] as const, registers,
    collect () { this.reset(); for (const [id, p] of Object.entries(status().peers)) this.set({ peer: peerLabel(id) }, p.lagMs / 1000) },
  })
  new Gauge({
    name: 'formstate_peer_connected', help: 'Cluster members other than this node: connected (1) or not (0)', labelNames: ['peer'] as const, registers,
    collect () {
      this.reset()
      const st = status()
      for (const m of st.members) if (m.id !== st.peerId) this.set({ peer: peerLabel(m.id) }, m.connected ? 1 : 0)
    },
  })
  new Gauge({ name: 'formstate_queue_reader_running', help: '1 when the gossip queue reader is applying batches', registers, collect () { this.set(status().readerRunning ? 1 : 0) } })
  return () => { cached = undefined }
}
