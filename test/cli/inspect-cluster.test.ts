// `formstate inspect` against two real cluster nodes in this process (libp2p on 127.0.0.1),
// authenticated with admin JWTs from a devnet's issuer (the nodes trust it via OIDC
// discovery): status shows replication, peers and the reader; a node whose reader is stopped
// misses a write and diff names the account and field; once it catches up diff is equal.
import '../../src/polyfill.ts'
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { main } from '../../src/cli/main.ts'
import type { CliIo } from '../../src/cli/command.ts'
import { parseConfig } from '../../src/config.ts'
import { startDevnet, type RunningClusterNode, type RunningNode } from '../../src/node.ts'
import { startTestCluster, until, type TestCluster } from '../api/cluster-helpers.ts'

function capture (): CliIo & { outText: () => string, errText: () => string } {
  const out: string[] = []
  const err: string[] = []
  return { out: (t) => out.push(t), err: (t) => err.push(t), outText: () => out.join('\n'), errText: () => err.join('\n') }
}

let issuer: RunningNode
let cluster: TestCluster
let a: RunningClusterNode
let b: RunningClusterNode
let token: string

before(async () => {
  issuer = await startDevnet(parseConfig(['devnet', '--host', '127.0.0.1', '--port', '0', '--log-level', 'silent'], {}), { seed: false })
  cluster = await startTestCluster(2, { oidcIssuer: `${issuer.url}/devnet` })
  ;[a, b] = cluster.nodes as [RunningClusterNode, RunningClusterNode]
  token = await issuer.issuer!.sign({ sub: 'ops@demo', project_id: 'proj_demo', role: 'admin' })
  await until('gossip mesh', 15_000, () => a.replicator.status().gossip.subscribers.length === 1 && b.replicator.status().gossip.subscribers.length === 1)
})
after(async () => {
  await cluster.close()
  await issuer.close()
})

const bump = (node: RunningClusterNode, target: string, total: number) =>
  node.store.commit(target, [{ field: 'credits_used', kind: 'gcounter.v1', delta: { key: node.peerId, value: total } }])

test('status of a cluster node: replication and reader running, the other node a connected member and a peer', { timeout: 30_000 }, async () => {
  await bump(a, 'acct/acc_000000000000000000000001', 1)
  await until('b has it and heard a', 15_000, () => (b.store.versionVector().get(a.peerId) ?? 0) >= 1 && b.replicator.status().peers[a.peerId] !== undefined)
  const io = capture()
  assert.equal(await main(['inspect', 'status', b.url, '--token', token, '--json'], io), 0, io.errText())
  const s = JSON.parse(io.outText())
  assert.equal(s.node.replica_id, b.peerId)
  assert.equal(s.node.peer_id, b.peerId)
  assert.equal(s.replication, 'running')
  assert.equal(s.queue_reader, 'running')
  assert.deepEqual(s.members.find((m: { id: string }) => m.id === a.peerId), { id: a.peerId, via: 'connected', connected: true, self: false, last_seen: s.time })
  assert.ok(s.peers.some((p: { id: string }) => p.id === a.peerId))
  assert.deepEqual(Object.keys(s.rejected).sort(), ['bad_signature', 'decode_error', 'garbled', 'not_member', 'replay'])
  assert.equal(typeof s.gossip.batchesIn, 'number')

  const text = capture()
  assert.equal(await main(['inspect', 'status', b.url, '--token', token], text), 0)
  assert.match(text.outText(), /replication running; queue reader running/)
  assert.match(text.outText(), /peers \(1\)/)
})

test('a stopped reader misses a write: diff names the account and field; after catching up diff is equal', { timeout: 30_000 }, async () => {
  const target = 'acct/acc_000000000000000000000002'
  await bump(a, target, 3)
  await until('converged', 15_000, () => a.store.digest() === b.store.digest())
  const eq = capture()
  assert.equal(await main(['inspect', 'diff', a.url, b.url, '--token', token], eq), 0, eq.outText() + eq.errText())

  await b.stopReader()
  await bump(a, target, 10)
  const io = capture()
  assert.equal(await main(['inspect', 'diff', a.url, b.url, '--token', token], io), 1, io.errText())
  const out = io.outText()
  assert.ok(out.includes('account acc_000000000000000000000002: 1 field(s) differ'), out)
  assert.match(out, /credits_used \(gcounter\.v1\): value 10 on A, 3 on B/)
  assert.ok(out.includes(`entries.${a.peerId}: 10 vs 3`) || out.includes(`entries["${a.peerId}"]: 10 vs 3`), out)

  const st = capture()
  assert.equal(await main(['inspect', 'status', b.url, '--token', token, '--json'], st), 0)
  assert.equal(JSON.parse(st.outText()).queue_reader, 'stopped')

  b.startReader()
  await until('caught up', 15_000, () => a.store.digest() === b.store.digest())
  const again = capture()
  assert.equal(await main(['inspect', 'diff', a.url, b.url, '--token', token], again), 0, again.outText())
})

test('watch a cluster node: the peer with its lag, op rates', { timeout: 30_000 }, async () => {
  const io = capture()
  assert.equal(await main(['inspect', 'watch', b.url, '--token', token, '--count', '2', '--interval', '100', '--json'], io), 0, io.errText())
  const frames = io.outText().split('\n').map((l) => JSON.parse(l))
  assert.equal(frames.length, 2)
  const peer = frames[1].peers.find((p: { id: string }) => p.id === a.peerId)
  assert.equal(peer.connected, true)
  assert.equal(typeof peer.lagOps, 'number')
  assert.equal(frames[1].reader, 'running')
  assert.equal(typeof frames[1].opsPerSec, 'number')
})

test('retire: refused while the peer is connected; once it is gone the node retires it, lists it and refuses it', { timeout: 30_000 }, async () => {
  const extra = await startTestCluster(1, { oidcIssuer: `${issuer.url}/devnet`, bootstrap: a.p2pAddrs()[0]! })
  const c = extra.nodes[0]!
  try {
    await until('a knows c as a connected member', 15_000, () => a.replicator.status().members.some((m) => m.id === c.peerId && m.connected))
    const busy = capture()
    assert.equal(await main(['inspect', 'retire', a.url, c.peerId, '--token', token], busy), 1)
    assert.match(busy.errText(), /409 conflict: .*connected/)
  } finally {
    await extra.close()
  }
  await until('a sees c disconnected', 15_000, () => !a.replicator.status().members.some((m) => m.id === c.peerId && m.connected))
  // Before retiring it, status says since when it is gone.
  const gone = capture()
  assert.equal(await main(['inspect', 'status', a.url, '--token', token], gone), 0)
  assert.match(gone.outText(), new RegExp(`${c.peerId}\\s+connected\\s+no\\s+\\d{4}-\\d\\d-\\d\\dT[^ ]+ \\(\\d+ s ago\\)`))
  const io = capture()
  assert.equal(await main(['inspect', 'retire', a.url, c.peerId, '--token', token], io), 0, io.errText())
  assert.match(io.outText(), new RegExp(`^retired ${c.peerId}\\nmembers now: `))
  assert.ok(!io.outText().includes(c.peerId + ','))
  const again = capture()
  assert.equal(await main(['inspect', 'retire', a.url, c.peerId, '--token', token, '--json'], again), 0)
  assert.equal(JSON.parse(again.outText()).changed, false)
  const status = capture()
  assert.equal(await main(['inspect', 'status', a.url, '--token', token], status), 0)
  assert.match(status.outText(), new RegExp(`retired \\(1\\)[\\s\\S]*${c.peerId}`))
  // b learns it from a in a sync round.
  await until('b learnt the retirement', 15_000, () => b.replicator.status().retired.some((r) => r.id === c.peerId))
  const usage = capture()
  assert.equal(await main(['inspect', 'retire', a.url], usage), 2)
  assert.match(usage.errText(), /retire takes a URL and a peer id/)
})
