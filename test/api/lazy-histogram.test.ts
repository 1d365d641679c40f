// LazyHistogram against prom-client's own Histogram: the same observations (seeded random
// values, bucket edges, values above every bucket, several series) must print the same
// Prometheus text and the same JSON. FORMSTATE_SEED replays a run.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Histogram, Registry } from 'prom-client'
import { LazyHistogram } from '../../src/api/lazy-histogram.ts'

const seed = Number(process.env.FORMSTATE_SEED ?? Date.now() % 1_000_000)
console.log(`# lazy-histogram seed ${seed} (replay: FORMSTATE_SEED=${seed})`)

function rng (s: number): () => number {
  let x = s >>> 0 || 1
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 2 ** 32 }
}

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
const NAME = 'test_request_duration_seconds'
const HELP = 'latency "quoted" \\ help'

function pair (): { ref: Histogram<'method' | 'route' | 'status'>, lazy: LazyHistogram, a: Registry, b: Registry } {
  const a = new Registry()
  const b = new Registry()
  const ref = new Histogram({ name: NAME, help: HELP, labelNames: ['method', 'route', 'status'] as const, buckets: BUCKETS, registers: [a] })
  const lazy = new LazyHistogram({ name: NAME, help: HELP, labelNames: ['method', 'route', 'status'], buckets: BUCKETS, registers: [b] })
  return { ref, lazy, a, b }
}

test('same observations print the same text and JSON as a prom-client Histogram', async () => {
  const r = rng(seed)
  const { ref, lazy, a, b } = pair()
  const series = [
    { method: 'GET', route: '/health', status: '200' },
    { method: 'POST', route: '/models/:id/invoke', status: '200' },
    { method: 'POST', route: '/models/:id/invoke', status: '402' },
    { method: 'GET', route: 'unmatched', status: '404' },
    { method: 'GET', route: '/quote"and\\slash\nnewline', status: '500' },
  ]
  const values = [...BUCKETS, 0, 7, 1e9, ...BUCKETS.map((x) => x * (1 + 1e-12))]
  for (let i = 0; i < 5_000; i++) {
    const labels = series[Math.floor(r() * series.length)]!
    const v = r() < 0.2 ? values[Math.floor(r() * values.length)]! : r() ** 3 * 6
    ref.observe(labels, v)
    lazy.observe(lazy.seriesFor(labels), v)
  }
  const [ta, tb] = [await a.metrics(), await b.metrics()]
  assert.ok(ta.includes(`${NAME}_bucket{le="+Inf",method="GET",route="/health",status="200"}`), 'the reference text has the series')
  assert.equal(tb, ta)
  assert.deepEqual(await b.getMetricsAsJSON(), await a.getMetricsAsJSON())
  // Reset through the registry forgets every series, as prom-client's does.
  a.resetMetrics(); b.resetMetrics()
  assert.equal(await b.metrics(), await a.metrics())
})

test('a series is shared by equal labels; non-finite values and bad buckets are refused', () => {
  const { lazy } = pair()
  assert.equal(lazy.seriesFor({ method: 'GET', route: '/x', status: '200' }), lazy.seriesFor({ status: '200', route: '/x', method: 'GET' }))
  assert.notEqual(lazy.seriesFor({ method: 'GET', route: '/x', status: '200' }), lazy.seriesFor({ method: 'GET', route: '/x', status: '201' }))
  assert.throws(() => lazy.observe(lazy.seriesFor({ method: 'GET', route: '/x', status: '200' }), Number.NaN), TypeError)
  assert.throws(() => new LazyHistogram({ name: 'x', help: 'x', labelNames: [], buckets: [1, 1] }))
  assert.throws(() => new LazyHistogram({ name: 'x', help: 'x', labelNames: ['le'], buckets: [1] }))
})
