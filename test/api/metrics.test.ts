// GET /metrics: Prometheus text from a registry per node. On a devnet: ops applied by origin
// follow the writes, HTTP latency is labelled by route template (no ids, no secrets). On two
// real cluster nodes in one process: gossip batches out/in, remote ops by origin, sync
// rounds, lag and connectivity per peer, each node counting only its own.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { ADMIN, SERVICE_SECRET, startTestDevnet, USER, type TestDevnet } from './devnet-helpers.ts'
import { startTestCluster, until } from './cluster-helpers.ts'
import type { ReplicationEventView, ReplicationStatusView } from '../../src/api/deps.ts'
import { createApiMetrics, MAX_LABEL_VALUES } from '../../src/api/metrics.ts'
import { marketplaceKinds } from '../../src/state/kinds.ts'
import { memoryLevelKv } from '../../src/store/level-kv.ts'
import { Replica } from '../../src/store/replica.ts'

/** The value of the sample `name{labels}` (labels matched as a subset), or undefined. */
function sample (text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null || m[1] !== name) continue
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]))
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3])
  }
  return undefined
}

async function scrape (url: string): Promise<{ type: string, text: string, status: number }> {
  const r = await fetch(url + '/metrics')
  return { status: r.status, type: r.headers.get('content-type') ?? '', text: await r.text() }
}

let d: TestDevnet
before(async () => { d = await startTestDevnet() })
after(async () => { await d.close() })

test('devnet /metrics: public Prometheus text; ops applied by origin follow writes', async () => {
  const me = d.node.store.replicaId
  const m0 = await scrape(d.url)
  assert.equal(m0.status, 200)
  assert.match(m0.type, /^text\/plain; version=0\.0\.4/)
  const before = sample(m0.text, 'formstate_ops_applied_total', { origin: me, source: 'local' }) ?? 0
  const ops0 = d.node.store.versionVector().get(me) ?? 0
  const admin = await d.token(ADMIN, 'admin')
  for (let i = 0; i < 3; i++) {
    const r = await d.call({ token: admin }, 'POST', '/billing/credits/add', { body: { account_id: d.accountOf(USER), amount: 5, idempotency_key: `m-${i}`, reason: 'metrics' } })
    assert.equal(r.status, 201, r.text)
  }
  const written = (d.node.store.versionVector().get(me) ?? 0) - ops0
  assert.ok(written >= 3)
  const m1 = await scrape(d.url)
  assert.equal(sample(m1.text, 'formstate_ops_applied_total', { origin: me, source: 'local' }), before + written)
  assert.equal(sample(m1.text, 'formstate_oplog_length'), d.node.store.logLength())
  // No replication on a devnet: no lag series, no reader gauge value.
  assert.equal(sample(m1.text, 'formstate_replication_lag_ops'), undefined)
  assert.equal(sample(m1.text, 'formstate_queue_reader_running'), undefined)
  assert.ok(sample(m1.text, 'formstate_process_cpu_seconds_total') !== undefined, 'process metrics')
})

test('HTTP latency histogram: by route template, method and status; no ids or secrets in the text', async () => {
  const admin = await d.token(ADMIN, 'admin')
  const id = d.accountOf(USER)
  assert.equal((await d.call({ token: admin }, 'GET', `/accounts/${id}`)).status, 200)
  assert.equal((await d.call({ none: true }, 'GET', `/accounts/${id}`)).status, 401)
  assert.equal((await d.call({ none: true }, 'GET', `/no/such/path/${id}`)).status, 404)
  const { text } = await scrape(d.url)
  assert.ok((sample(text, 'formstate_http_request_duration_seconds_count', { method: 'GET', route: '/accounts/:id', status: '200' }) ?? 0) >= 1)
  assert.ok((sample(text, 'formstate_http_request_duration_seconds_count', { method: 'GET', route: '/accounts/:id', status: '401' }) ?? 0) >= 1)
  assert.ok((sample(text, 'formstate_http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status: '404' }) ?? 0) >= 1)
  assert.ok((sample(text, 'formstate_http_request_duration_seconds_bucket', { route: '/accounts/:id', status: '200', le: '+Inf' }) ?? 0) >= 1)
  assert.ok(!text.includes(id), 'account ids are not labels')
  // Exactly one observation per request (the timing is recorded by the request frame, once).
  const count = (t: string): number => sample(t, 'formstate_http_request_duration_seconds_count', { method: 'GET', route: '/accounts/:id', status: '401' }) ?? 0
  for (let i = 0; i < 3; i++) assert.equal((await d.call({ none: true }, 'GET', `/accounts/${id}`)).status, 401)
  assert.equal(count((await scrape(d.url)).text), count(text) + 3)
  assert.ok(!text.includes(admin) && !text.includes(SERVICE_SECRET), 'no credentials')
})

test('two cluster nodes: gossip out/in, remote ops by origin, sync rounds, per-peer lag and connectivity', { timeout: 60_000 }, async () => {
  const c = await startTestCluster(2)
  try {
    const [a, b] = c.nodes as [typeof c.nodes[0], typeof c.nodes[0]]
    await until('connected', 15_000, () => a.replicator.status().gossip.subscribers.length === 1 && b.replicator.status().gossip.subscribers.length === 1)
    for (let i = 1; i <= 20; i++) await a.store.commit('acct/metrics-test', [{ field: 'n', kind: 'gcounter.v1', delta: { key: a.peerId, value: i } }])
    await until('b has a\'s writes', 15_000, () => (b.store.versionVector().get(a.peerId) ?? 0) >= 20)
    await until('a sync round on b', 15_000, () => b.replicator.status().sync.rounds > 0)

    const ta = (await scrape(a.url)).text
    const tb = (await scrape(b.url)).text
    assert.equal(sample(ta, 'formstate_ops_applied_total', { origin: a.peerId, source: 'local' }), 20)
    assert.equal(sample(tb, 'formstate_ops_applied_total', { origin: a.peerId, source: 'remote' }), 20)
    assert.equal(sample(tb, 'formstate_ops_applied_total', { origin: a.peerId, source: 'local' }), undefined)
    assert.equal(sample(ta, 'formstate_ops_applied_total', { origin: a.peerId, source: 'remote' }), undefined, 'registries are per node')
    assert.ok((sample(ta, 'formstate_gossip_batches_total', { direction: 'out' }) ?? 0) >= 1)
    // Ops reach b by gossip or by a sync round; together they carry all 20.
    const gossipIn = sample(tb, 'formstate_gossip_ops_total', { direction: 'in' }) ?? 0
    const synced = sample(tb, 'formstate_sync_ops_applied_total') ?? 0
    assert.ok(gossipIn + synced >= 20, `gossip ${gossipIn} + sync ${synced}`)
    assert.ok((sample(tb, 'formstate_sync_rounds_total', { snapshot: 'false' }) ?? 0) >= 1)
    assert.ok((sample(tb, 'formstate_sync_round_duration_seconds_count') ?? 0) >= 1)
    assert.equal(sample(tb, 'formstate_peer_connected', { peer: a.peerId }), 1)
    assert.equal(sample(tb, 'formstate_queue_reader_running'), 1)
    assert.equal(sample(tb, 'formstate_replication_lag_ops', { peer: a.peerId }), 0)
    assert.equal(sample(tb, 'formstate_replication_lag_seconds', { peer: a.peerId }), 0)

    // A stopped reader shows on the gauge.
    await b.stopReader()
    assert.equal(sample((await scrape(b.url)).text, 'formstate_queue_reader_running'), 0)
  } finally {
    await c.close()
  }
})

test('rejected envelopes by reason and claimed origin; origins from the network are capped (then "other")', async () => {
  // The event source stands in for replication (the thing under test is the metrics mapping).
  const store = new Replica({ replicaId: 'r1', kv: memoryLevelKv(), kinds: marketplaceKinds(), durability: 'none' })
  await store.start()
  let emit: (e: ReplicationEventView) => void = () => {}
  const metrics = createApiMetrics({
    store,
    processMetrics: false,
    replication: { status: () => ({ peerId: 'r1', members: [], peers: {}, readerRunning: true }) as unknown as ReplicationStatusView, onEvent: (l) => { emit = l; return () => {} } },
  })
  try {
    emit({ type: 'rejected', reason: 'bad_signature', origin: 'evil' })
    emit({ type: 'rejected', reason: 'bad_signature', origin: 'evil' })
    emit({ type: 'rejected', reason: 'garbled' })
    for (let i = 0; i < MAX_LABEL_VALUES + 10; i++) emit({ type: 'rejected', reason: 'not_member', origin: `o${i}` })
    emit({ type: 'batch_out', ops: 7, bytes: 900 })
    emit({ type: 'compacted', dropped: 5 })
    const { text } = await metrics.render()
    assert.equal(sample(text, 'formstate_envelopes_rejected_total', { reason: 'bad_signature', origin: 'evil' }), 2)
    assert.equal(sample(text, 'formstate_envelopes_rejected_total', { reason: 'garbled', origin: 'unknown' }), 1)
    // 'evil' and 'unknown' took two of the slots; the rest of the origins past the cap are 'other'.
    assert.equal(sample(text, 'formstate_envelopes_rejected_total', { reason: 'not_member', origin: 'other' }), 12)
    assert.equal(text.split('\n').filter((l) => l.startsWith('formstate_envelopes_rejected_total{reason="not_member"')).length, MAX_LABEL_VALUES - 2 + 1)
    assert.equal(sample(text, 'formstate_gossip_ops_total', { direction: 'out' }), 7)
    assert.equal(sample(text, 'formstate_gossip_bytes_out_total'), 900)
    assert.equal(sample(text, 'formstate_compacted_ops_total'), 5)
    assert.equal(sample(text, 'formstate_queue_reader_running'), 1)
    assert.equal(sample(text, 'formstate_process_cpu_seconds_total'), undefined)
  } finally {
    metrics.close()
    await store.stop()
  }
})
