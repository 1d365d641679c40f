// A real three-node cluster: `formstate node` processes on 127.0.0.1 with a shared cluster
// key, JWTs from a JWKS served by this process, and every link to node C through a TCP
// proxy so C can be cut off the network for real. Steps share the cluster and run in order;
// every wait is bounded and every child is killed in `after`, also on failure.
//
//        A ────────── B          A, B: direct links
//         ╲          ╱           C: only through the proxies (cut = partition)
//        [pAC]    [pBC]
//          ╲      ╱
//           C ───
import '../../src/polyfill.ts'
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeClusterKey } from '../../src/replication/cluster-key.ts'
import { Cluster, say, until, type Link, type NodeProc } from './harness.ts'
import { publishForged } from './forge.ts'

const cluster = new Cluster({ syncIntervalMs: 1000, compactIntervalMs: 2000 })
let A: NodeProc, B: NodeProc, C: NodeProc
const toC: Link[] = []
const fromC: Link[] = []

/** Creates the account of `sub` on `node` (user JWT); returns its id. */
async function createAccount (node: NodeProc, sub: string): Promise<string> {
  const r = await node.call('POST', '/accounts', { token: await cluster.token(sub) })
  assert.ok(r.status === 201 || r.status === 200, `${node.name} POST /accounts ${r.status} ${JSON.stringify(r.body)}`)
  return r.body.id as string
}

/** Every account id on `node`, read page by page from /admin/replica/digests. */
async function accountIds (node: NodeProc): Promise<Set<string>> {
  const out = new Set<string>()
  let after: string | null = ''
  while (after !== null) {
    const r = await node.call('GET', `/admin/replica/digests?prefix=acct/&limit=10000${after === '' ? '' : `&after=${encodeURIComponent(after)}`}`)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    for (const e of r.body.entities as Array<{ target: string }>) out.add(e.target.slice('acct/'.length))
    after = r.body.next
  }
  return out
}

/** Peer ids `node` holds a connection to. */
async function connected (node: NodeProc): Promise<string[]> {
  const r = await node.replica(false)
  return (r.members as Array<{ id: string, connected: boolean, self: boolean }>).filter((m) => m.connected && !m.self).map((m) => m.id)
}

describe('three formstate node processes', { timeout: 240_000 }, () => {
  before(async () => {
    await cluster.init()
    A = await cluster.add('A', () => [B.p2pAddr, `/ip4/127.0.0.1/tcp/${toC[0]!.port}`])
    B = await cluster.add('B', () => [A.p2pAddr, `/ip4/127.0.0.1/tcp/${toC[1]!.port}`])
    C = await cluster.add('C', () => fromC.map((l) => `/ip4/127.0.0.1/tcp/${l.port}`))
    toC.push(await cluster.link(C), await cluster.link(C)) // A→C, B→C
    fromC.push(await cluster.link(A), await cluster.link(B)) // C→A, C→B
    say(`starting A, B, C under ${cluster.dir}`)
    await Promise.all([A.start(), B.start(), C.start()])
    say(`A ${A.url} ${A.peerId}\n# B ${B.url} ${B.peerId}\n# C ${C.url} ${C.peerId}`)
    for (const n of [A, B, C]) await until(`${n.name} connected to both others`, 20_000, async () => (await connected(n)).length === 2)
    say('all three connected')
  })

  after(async () => {
    for (const n of cluster.nodes) if (n.proc?.exitCode != null && n.proc.exitCode !== 0) say(`${n.name} had exited: ${n.tail.slice(-5).join(' | ')}`)
    await cluster.close()
  })

  test('writes on every node converge to equal digests', async () => {
    const ids: string[] = []
    for (const n of [A, B, C]) {
      for (let i = 0; i < 10; i++) ids.push(await createAccount(n, `w-${n.name}-${i}`))
      const r = await n.call('POST', '/billing/credits/add', { body: { account_id: ids[ids.length - 1], amount: 100, idempotency_key: `grant-${n.name}`, reason: 'test' } })
      assert.equal(r.status, 201, JSON.stringify(r.body))
    }
    const digest = await cluster.converged([A, B, C])
    say(`converged: ${digest.slice(0, 16)}`)
    for (const n of [A, B, C]) {
      const have = await accountIds(n)
      assert.deepEqual(ids.filter((id) => !have.has(id)), [], `${n.name} lacks accounts`)
    }
  })

  test('the same credit grant (same idempotency key) sent to two nodes counts once', async () => {
    const id = await createAccount(A, 'dup-grant')
    await until('account on B', 10_000, async () => (await B.call('GET', `/accounts/${id}`)).status === 200)
    const before = (await A.call('GET', `/billing/credits?account_id=${id}`)).body.granted as number
    const grant = { account_id: id, amount: 700, idempotency_key: 'checkout-dup-1', reason: 'same purchase, two nodes' }
    const [ra, rb] = await Promise.all([A.call('POST', '/billing/credits/add', { body: grant }), B.call('POST', '/billing/credits/add', { body: grant })])
    say(`grant answers: A ${ra.status}, B ${rb.status}`)
    assert.ok([200, 201].includes(ra.status) && [200, 201].includes(rb.status))
    await cluster.converged([A, B, C])
    for (const n of [A, B, C]) {
      const c = (await n.call('GET', `/billing/credits?account_id=${id}`)).body
      assert.equal(c.granted - before, 700, `${n.name} counted the grant ${(c.granted - before) / 700} times`)
    }
  })

  test('kill -9 a node while writes continue: after restart it catches up and every acknowledged write is everywhere', async () => {
    const acked = new Map<string, string>() // account id → node (and phase) that answered 2xx
    let refused = 0
    let phase = 'up'
    let stop = false
    let seq = 0
    const worker = async (): Promise<void> => {
      while (!stop && seq < 5000) {
        const i = seq++
        const node = [A, B, C][i % 3]!
        try {
          const r = await node.call('POST', '/accounts', { token: await cluster.token(`kill-${i}`), timeoutMs: 3000 })
          if (r.status === 201 || r.status === 200) acked.set(r.body.id, `${node.name}:${phase}`)
          else refused++
        } catch {
          refused++
          await new Promise((r) => setTimeout(r, 20)) // a refused connection fails at once
        }
      }
    }
    const workers = Array.from({ length: 4 }, worker)
    await until('some writes acknowledged', 10_000, () => acked.size >= 60, 20)
    await C.kill9()
    phase = 'restarted'
    say(`C killed with SIGKILL after ${acked.size} acknowledged writes`)
    await new Promise((r) => setTimeout(r, 1500))
    await C.start()
    say(`C restarted (same data dir, peer id ${C.peerId})`)
    await until('C acknowledges writes again', 10_000, () => [...acked.values()].includes('C:restarted'), 20)
    await new Promise((r) => setTimeout(r, 500))
    stop = true
    await Promise.all(workers)
    const count = (tag: string) => [...acked.values()].filter((v) => v === tag).length
    say(`${acked.size} writes acknowledged (C: ${count('C:up')} before the kill, ${count('C:restarted')} after the restart), ${refused} refused or failed`)
    assert.ok(count('C:up') > 0 && refused > 0, 'C acknowledged writes before the kill, and writes failed while it was down')
    await cluster.converged([A, B, C], 45_000)
    for (const n of [A, B, C]) {
      const have = await accountIds(n)
      const lost = [...acked.keys()].filter((id) => !have.has(id))
      assert.deepEqual(lost, [], `${n.name} lacks ${lost.length} acknowledged writes`)
    }
  })

  test('the same usage record (same idempotency key) sent to two nodes counts once', async () => {
    const id = await createAccount(A, 'dup-usage')
    await until('account on B', 10_000, async () => (await B.call('GET', `/accounts/${id}`)).status === 200)
    const rec = { account_id: id, subject: { type: 'model', id: 'dup-model' }, amounts: { tokens_in: 300 }, at: Date.now(), idempotency_key: 'gateway-call-1' }
    const [ra, rb] = await Promise.all([A.call('POST', '/internal/usage/record', { body: rec }), B.call('POST', '/internal/usage/record', { body: rec })])
    say(`usage record answers: A ${ra.status} replayed=${ra.body?.replayed}, B ${rb.status} replayed=${rb.body?.replayed}`)
    assert.equal(ra.status, 200, JSON.stringify(ra.body))
    assert.equal(rb.status, 200, JSON.stringify(rb.body))
    await cluster.converged([A, B, C])
    for (const n of [A, B, C]) {
      const stats = await n.call('GET', `/usage/stats?account_id=${id}`)
      assert.equal(stats.status, 200, JSON.stringify(stats.body))
      const model = stats.body.models.find((m: { model: string }) => m.model === 'dup-model')
      assert.equal(model?.metrics.tokens_in, 300, `${n.name} counted it ${(model?.metrics.tokens_in ?? 0) / 300} times`)
      const again = await n.call('POST', '/internal/usage/record', { body: rec })
      assert.equal(again.body.replayed, true, `${n.name}: a retry after convergence is a replay`)
    }
  })

  test('cut C off: writes on both sides (and keys revoked on C while edited or rotated on A) converge after healing; revoke wins', async () => {
    const owner = await cluster.token('key-owner')
    await createAccount(A, 'key-owner')
    const created = await A.call('POST', '/api-keys/create', { token: owner, body: { name: 'ci', scopes: ['usage:read'] } })
    assert.equal(created.status, 201, JSON.stringify(created.body))
    const keyId = created.body.id as string
    const created2 = await A.call('POST', '/api-keys/create', { token: owner, body: { name: 'to-rotate', scopes: ['usage:read'] } })
    assert.equal(created2.status, 201, JSON.stringify(created2.body))
    const key2 = created2.body.id as string
    await cluster.converged([A, B, C])

    for (const l of [...toC, ...fromC]) l.cut()
    for (const n of [A, B]) await until(`${n.name} sees C disconnected`, 15_000, async () => !(await connected(n)).includes(C.peerId))
    await until('C sees nobody', 15_000, async () => (await connected(C)).length === 0)
    say('C is cut off')
    const onA = await createAccount(A, 'partition-A')
    const onC = await createAccount(C, 'partition-C')
    const edit = await A.call('PATCH', `/api-keys/${keyId}`, { token: owner, body: { name: 'renamed-on-A' } })
    const revoke = await C.call('DELETE', `/api-keys/${keyId}`, { token: owner })
    assert.equal(edit.status, 200, JSON.stringify(edit.body))
    assert.equal(revoke.status, 200, JSON.stringify(revoke.body))
    // Rotate key2 on A while C (which never sees the rotation) revokes it.
    const rotated = await A.call('POST', `/api-keys/${key2}/rotate`, { token: owner, body: { grace_seconds: 3600 } })
    assert.equal(rotated.status, 201, JSON.stringify(rotated.body))
    const newKey = rotated.body.id as string
    const newSecret = rotated.body.key as string
    assert.equal((await C.call('DELETE', `/api-keys/${key2}`, { token: owner })).status, 200)
    assert.equal((await A.call('GET', `/api-keys/${newKey}`, { token: newSecret })).status, 403, 'on A the new key authenticates (403: it lacks keys:manage)')
    await new Promise((r) => setTimeout(r, 1500)) // sync rounds would have run by now
    assert.equal((await C.call('GET', `/accounts/${onA}`)).status, 404, 'the partition held: C did not see A\'s write')
    assert.equal((await A.call('GET', `/accounts/${onC}`)).status, 404, 'the partition held: A did not see C\'s write')

    for (const l of [...toC, ...fromC]) l.heal()
    say('healed')
    await cluster.converged([A, B, C], 30_000)
    for (const n of [A, B, C]) {
      const k = await n.call('GET', `/api-keys/${keyId}`, { token: owner })
      assert.equal(k.status, 200)
      assert.equal(k.body.status, 'revoked', `${n.name}: revoke must win over the concurrent edit`)
      const nk = await n.call('GET', `/api-keys/${newKey}`, { token: owner })
      assert.equal(nk.body.status, 'revoked', `${n.name}: a revoke that did not see the rotation kills the rotated key too`)
      assert.equal(nk.body.revoked_via, key2)
      assert.equal((await n.call('GET', `/api-keys/${newKey}`, { token: newSecret })).status, 401, `${n.name}: the rotated secret is refused`)
      const events = await n.call('GET', `/api-keys/${newKey}/events`, { token: owner })
      const ev = (events.body.events as Array<{ type: string, details?: { via?: string } }>).find((e) => e.type === 'revoked')
      assert.equal(ev?.details?.via, key2, `${n.name}: the rotated key's audit shows the revoke of ${key2}`)
      assert.equal((await n.call('GET', `/accounts/${onA}`)).status, 200)
      assert.equal((await n.call('GET', `/accounts/${onC}`)).status, 200)
    }
  })

  test('a fourth node joins with an empty data dir and bootstraps from a snapshot after the others compacted', async () => {
    await until('A compacted its log', 20_000, async () => ((await A.replica(false)).compaction?.dropped ?? 0) > 0, 250)
    const D = await cluster.add('D', () => [A.p2pAddr, B.p2pAddr])
    await D.start()
    say(`D ${D.url} ${D.peerId} started empty`)
    const digest = await cluster.converged([A, B, C, D], 30_000)
    // The state and vector are in place before the snapshot's disk write ends and is counted.
    const d = await until('D counted a snapshot import', 10_000, async () => { const r = await D.replica(false); return r.sync.snapshotsImported >= 1 ? r : false }, 50)
      .catch(async () => D.replica(false))
    say(`D converged to ${digest.slice(0, 16)}; sync ${JSON.stringify(d.sync)} gossip in ${d.gossip.opsIn}`)
    assert.ok(d.sync.snapshotsImported >= 1, `D bootstrapped from a snapshot: ${JSON.stringify(d.sync)}`)
  })

  test('a node with another cluster key cannot connect', async () => {
    const otherKey = join(cluster.dir, 'other.key')
    writeFileSync(otherKey, makeClusterKey(), { mode: 0o600 })
    const E = await cluster.add('E', () => [A.p2pAddr, B.p2pAddr], otherKey)
    await E.start()
    await new Promise((r) => setTimeout(r, 3000)) // a few dial attempts (re-dialled every 2 s)
    assert.deepEqual(await connected(E), [], 'E connected to nobody')
    const members = (await A.replica(false)).members.map((m: { id: string }) => m.id)
    assert.ok(!members.includes(E.peerId), 'E is not a member of A')
    await E.stop()
  })

  test('a member gone for good is retired: compaction stops waiting for it, every node refuses it, the rest converge', async () => {
    const D = cluster.nodes.find((n) => n.name === 'D')
    assert.ok(D !== undefined, 'the fourth node of the bootstrap step')
    await D.kill9()
    say(`D (${D.peerId}) killed -9; it stays a member until retired`)
    // A write D never sees: while D is a member, no node may drop it from its log.
    await createAccount(A, `after-d-${Date.now()}@test`)
    await cluster.converged([A, B, C])
    const seq = (await A.replica(false)).version_vector[A.peerId] as number
    await new Promise((r) => setTimeout(r, 5000)) // two compaction periods (2 s) and more
    const held = await A.replica(false)
    assert.ok((held.op_log.compacted_vv[A.peerId] ?? 0) < seq, `A compacted its op ${seq} although D never had it: ${JSON.stringify(held.op_log)}`)
    const d = held.members.find((m: { id: string }) => m.id === D.peerId)
    assert.equal(d.connected, false)
    assert.ok(held.time - d.last_seen >= 5000, `D last seen ${held.time - d.last_seen} ms ago, before the 5 s wait`)

    // Bad retirements change nothing: malformed id 400, unknown 404, this node 409, a connected peer without force 409.
    const retire = (node: NodeProc, id: string, body: unknown = {}) => node.call('POST', `/admin/replica/members/${encodeURIComponent(id)}/retire`, { body })
    assert.equal((await retire(A, 'not a peer id!')).status, 400)
    assert.equal((await retire(A, 'QmNotAMember')).body.code, 'not_found')
    assert.equal((await retire(A, A.peerId)).body.code, 'conflict')
    const busy = await retire(A, B.peerId)
    assert.equal(busy.status, 409, JSON.stringify(busy.body))
    assert.match(busy.body.detail, /connected/)
    assert.equal((await retire(A, D.peerId, { force: 'yes' })).status, 400, 'force must be a boolean')
    assert.deepEqual((await A.replica(false)).retired, [])

    const r = await retire(A, D.peerId)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.deepEqual({ changed: r.body.changed, was_connected: r.body.was_connected }, { changed: true, was_connected: false })
    assert.ok(!r.body.members.includes(D.peerId))
    assert.equal((await retire(A, D.peerId)).body.changed, false, 'idempotent')
    // The retirement reaches B and C through sync, and every node compacts past D.
    for (const n of [B, C]) {
      await until(`${n.name} learnt D's retirement`, 15_000, async () => (await n.replica(false)).retired.some((x: { id: string }) => x.id === D.peerId), 200)
    }
    await until('A compacted the op D never had', 15_000, async () => ((await A.replica(false)).op_log.compacted_vv[A.peerId] ?? 0) >= seq, 250)

    // D comes back with its old identity: refused by everyone, and nobody lists it as a member.
    await D.start()
    await new Promise((r) => setTimeout(r, 3000)) // a few dial attempts (re-dialled every 2 s)
    assert.deepEqual(await connected(D), [], 'D connected to nobody')
    for (const n of [A, B, C]) {
      const st = await n.replica(false)
      assert.ok(!st.members.some((m: { id: string }) => m.id === D.peerId), `${n.name} lists D as a member`)
    }
    await createAccount(B, `after-retire-${Date.now()}@test`)
    const digest = await cluster.converged([A, B, C])
    assert.notEqual((await D.replica()).digest, digest, 'D receives nothing')
    await D.stop()
  })

  test('envelopes signed outside the cluster are rejected over real gossip, counted, and change nothing', async () => {
    const before = await A.replica()
    const sent = await publishForged({ keyFile: cluster.keyFile, target: A.p2pAddr, impersonate: B.peerId })
    say(`published ${sent} forged envelopes to A`)
    const after = await until('A counted the rejections', 15_000, async () => {
      const r = await A.replica()
      return r.rejected.not_member > before.rejected.not_member && r.rejected.bad_signature > before.rejected.bad_signature ? r : false
    }, 200)
    assert.equal(after.digest, before.digest, 'state unchanged')
  })
})
