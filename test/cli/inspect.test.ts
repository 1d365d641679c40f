// `formstate inspect` run in-process (main([...], io)) against two real devnets. B is made a
// replica of A by applying A's op log, then one side is written to: diff must name the
// account and the field that differ, down to the counter entry.
import '../../src/polyfill.ts'
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { main } from '../../src/cli/main.ts'
import type { CliIo } from '../../src/cli/command.ts'
import { parseConfig } from '../../src/config.ts'
import { startDevnet, type RunningNode } from '../../src/node.ts'

function capture (onOut?: (t: string) => void): CliIo & { outText: () => string, errText: () => string, lines: string[] } {
  const out: string[] = []
  const err: string[] = []
  return { lines: out, out: (t) => { out.push(t); onOut?.(t) }, err: (t) => err.push(t), outText: () => out.join('\n'), errText: () => err.join('\n') }
}

async function devnet (): Promise<RunningNode> {
  const config = parseConfig(['devnet', '--host', '127.0.0.1', '--port', '0', '--log-level', 'silent'], {})
  return startDevnet(config, { seed: false })
}

async function post (node: RunningNode, token: string, path: string, body?: unknown): Promise<{ status: number, body: any }> {
  const res = await fetch(node.url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  return { status: res.status, body: await res.json() }
}

/** Applies every op A logged that B lacks: B becomes a replica of A (what replication does). */
async function replicate (from: RunningNode, to: RunningNode): Promise<void> {
  await to.store.applyRemote(await from.store.opsAfter(to.store.versionVector(), 100_000))
}

let a: RunningNode
let b: RunningNode
let accountId: string
let adminA: string

before(async () => {
  a = await devnet()
  b = await devnet()
  adminA = await a.issuer!.sign({ sub: 'ops@demo', project_id: 'proj_demo', role: 'admin' })
  const created = await post(a, await a.issuer!.sign({ sub: 'alice@demo', project_id: 'proj_demo', role: 'user' }), '/accounts')
  assert.equal(created.status, 201)
  accountId = created.body.id
  await replicate(a, b)
})
after(async () => { await a.close(); await b.close() })

test('diff of two equal replicas: digests equal, exit 0', async () => {
  assert.equal(a.store.digest(), b.store.digest())
  const io = capture()
  assert.equal(await main(['inspect', 'diff', a.url, b.url], io), 0, io.errText())
  assert.match(io.outText(), /replicas are equal/)
  assert.ok(io.outText().includes(a.store.digest()))
})

test('diff after a write on A only names the account, the field and the counter entry; exit 1', async () => {
  const grant = await post(a, adminA, '/billing/credits/add', { account_id: accountId, amount: 50, idempotency_key: 'only-on-a', reason: 'diff test' })
  assert.equal(grant.status, 201, JSON.stringify(grant.body))
  const io = capture()
  assert.equal(await main(['inspect', 'diff', a.url, b.url], io), 1, io.errText())
  const text = io.outText()
  assert.match(text, /replicas differ: 1 entities on A, 1 on B; 1 differ, 0 only on A, 0 only on B/)
  assert.ok(text.includes(`account ${accountId}:`), text)
  assert.match(text, /credits \(pncounter\.v1\): value \d+ on A, \d+ on B/)
  assert.match(text, /p\["g:[^"]*only-on-a"\]: 50 vs \(absent\)/)
  assert.match(text, /grants \(gmap\.v1\)/)

  const json = capture()
  assert.equal(await main(['inspect', 'diff', a.url, b.url, '--json'], json), 1)
  const r = JSON.parse(json.outText())
  assert.equal(r.equal, false)
  assert.deepEqual(r.differ, [`acct/${accountId}`])
  const d = r.details[0]
  assert.equal(d.account, accountId)
  const credits = d.fields.find((f: { field: string }) => f.field === 'credits')
  assert.equal(credits.valueA - credits.valueB, 50)
  assert.ok(credits.entries.some((e: { path: string, a: unknown, b?: unknown }) => e.path.includes('only-on-a') && e.a === 50 && e.b === undefined), JSON.stringify(credits.entries))
  // Fields that did not change are not listed.
  assert.ok(!d.fields.some((f: { field: string }) => f.field === 'owner'))
})

test('an entity on B only is reported as such; after catching up both ways the replicas are equal', async () => {
  const bob = await post(b, await b.issuer!.sign({ sub: 'bob@demo', project_id: 'proj_demo', role: 'user' }), '/accounts')
  assert.equal(bob.status, 201)
  const io = capture()
  assert.equal(await main(['inspect', 'diff', a.url, b.url], io), 1)
  assert.ok(io.outText().includes(`account ${bob.body.id}: only on B`), io.outText())
  await replicate(a, b)
  await replicate(b, a)
  const eq = capture()
  assert.equal(await main(['inspect', 'diff', a.url, b.url], eq), 0, eq.outText())
})

test('status: readable summary and --json of /admin/replica (devnet token minted, or --token)', async () => {
  const io = capture()
  assert.equal(await main(['inspect', 'status', a.url], io), 0, io.errText())
  const text = io.outText()
  assert.ok(text.includes(`replica     ${a.store.replicaId} (devnet, shard 0)`), text)
  assert.match(text, /replication absent; queue reader n\/a/)
  assert.ok(text.includes(`digest      ${a.store.digest()}`))
  assert.ok(text.includes(`op log      ${a.store.logLength()} ops`))
  assert.match(text, /peers \(0\)/)

  const json = capture()
  assert.equal(await main(['inspect', 'status', a.url, '--json', '--token', adminA], json), 0, json.errText())
  const s = JSON.parse(json.outText())
  assert.equal(s.digest, a.store.digest())
  assert.equal(s.version_vector[a.store.replicaId], a.store.versionVector().get(a.store.replicaId))

  const denied = capture()
  const userToken = await a.issuer!.sign({ sub: 'alice@demo', project_id: 'proj_demo', role: 'user' })
  assert.equal(await main(['inspect', 'status', a.url, '--token', userToken], denied), 1)
  assert.match(denied.errText(), /403 forbidden/)
})

test('watch --count: frames with op rates from successive readings (--json, one object per line)', async () => {
  const me = a.store.replicaId
  let wrote = 0
  const io = capture((line) => {
    // After the first frame, write 5 ops: commit applies to memory before it returns.
    if (JSON.parse(line).frame === 1) for (let i = 0; i < 5; i++) { void a.store.commit(`acct/watch-${i}`, [{ field: 'n', kind: 'gcounter.v1', delta: { key: me, value: 1 } }]); wrote++ }
  })
  assert.equal(await main(['inspect', 'watch', a.url, '--count', '2', '--interval', '50', '--json'], io), 0, io.errText())
  assert.equal(io.lines.length, 2)
  const [f1, f2] = io.lines.map((l) => JSON.parse(l))
  assert.equal(wrote, 5)
  assert.equal(f1.opsPerSec, null)
  assert.equal(f2.opsTotal - f1.opsTotal, 5)
  assert.ok(f2.opsPerSec > 0)
  const origin = f2.origins.find((o: { origin: string }) => o.origin === me)
  assert.equal(origin.seq, a.store.versionVector().get(me))
  assert.ok(origin.perSec > 0)
  assert.equal(f2.reader, 'n/a')

  const text = capture()
  assert.equal(await main(['inspect', 'watch', a.url, '--count', '1'], text), 0)
  assert.match(text.outText(), /^#1 .* replication absent, reader n\/a\nops \d+ applied \(-\/s\)/)
})

test('usage errors exit 2; unreachable nodes and nodes that issue no token exit 1', async () => {
  for (const args of [['inspect'], ['inspect', 'frob'], ['inspect', 'diff', a.url], ['inspect', 'status', 'not a url'], ['inspect', 'watch', a.url, '--count', '0'], ['inspect', 'status', a.url, '--bogus']]) {
    const io = capture()
    assert.equal(await main(args, io), 2, args.join(' '))
    assert.match(io.errText(), /Usage: formstate inspect/)
  }
  const down = capture()
  assert.equal(await main(['inspect', 'status', 'http://127.0.0.1:1'], down), 1)
  assert.match(down.errText(), /cannot reach/)

  const server: Server = createServer((_req, res) => { res.statusCode = 404; res.end('{}') })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const io = capture()
    assert.equal(await main(['inspect', 'status', `http://127.0.0.1:${(server.address() as AddressInfo).port}`], io), 1)
    assert.match(io.errText(), /admin token is needed/)
  } finally {
    server.close()
  }
})
