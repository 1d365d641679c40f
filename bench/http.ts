/**
 * `npm run bench:http`: the metered call `POST /models/:id/invoke` with a user JWT, at 50
 * connections, against a Koa hello-world measured in the same run (bench/http-harness.ts):
 * requests/s, the ratio to hello-world (target ≥ 0.7×), p50 and p99 — with the store in
 * memory and on disk (group commit, a temp data dir). Each devnet runs in its own child
 * process; autocannon runs here. `GET /health` of the same devnet is listed as the
 * framework's own ceiling.
 *
 * The machine is shared, so requests/s drift with other load; the second table measures
 * what drift hurts least: the server process's own CPU time per request (Linux
 * /proc/<pid>/stat, user + system), and the ratio hello-world CPU / target CPU — the
 * requests/s ratio a server with a core of its own would reach.
 *
 * Options: --duration S (default 5), --connections N (default 50).
 */
import '../src/polyfill.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startChildServer, type ChildServer } from './child-server.ts'
import { benchAgainstBaseline, cpuPerRequest, devnetUserToken, startHelloServer, type HttpTarget } from './http-harness.ts'

const arg = (name: string): string | undefined => { const i = process.argv.indexOf(name); return i === -1 ? undefined : process.argv[i + 1] }
const durationSec = Number(arg('--duration') ?? 5)
const connections = Number(arg('--connections') ?? 50)
const script = fileURLToPath(new URL('./invoke-server.ts', import.meta.url))
const MODEL = 'gpt-demo'
// 100 tokens in, 50 out at gpt-demo's 1 / 2 credits per 1k: 1 credit a call (rounded up).
const BODY = JSON.stringify({ input_tokens: 100, output_tokens: 50 })


async function invokeTarget (server: ChildServer): Promise<HttpTarget> {
  const token = await devnetUserToken(server.url)
  // One call up front: a misconfigured run fails here, not as 250k non-2xx answers.
  const probe = await fetch(`${server.url}/models/${MODEL}/invoke`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: BODY })
  if (probe.status !== 200) throw new Error(`probe invoke answered ${probe.status}: ${await probe.text()}`)
  return { method: 'POST', url: `${server.url}/models/${MODEL}/invoke`, headers: { authorization: `Bearer ${token}` }, body: BODY }
}

const dataDir = mkdtempSync(join(tmpdir(), 'fs-bench-http-data-'))
const memory = await startChildServer(script)
let disk: ChildServer | undefined
try {
  disk = await startChildServer(script, [dataDir])
  const memTarget = await invokeTarget(memory)
  const diskTarget = await invokeTarget(disk)
  const rows = await benchAgainstBaseline([
    { name: 'devnet GET /health (framework ceiling)', target: { url: memory.url + '/health' } },
    { name: `POST /models/${MODEL}/invoke, JWT, memory`, target: memTarget },
    { name: `POST /models/${MODEL}/invoke, JWT, disk (group commit)`, target: diskTarget },
  ], { durationSec, connections })
  console.log('\n## summary (ratio to the Koa hello-world of the same run; target >= 0.7)')
  for (const r of rows.filter((x) => x.name.includes('invoke'))) {
    console.log(`${r.ratio.toFixed(3)}x  ${r.name}  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms${r.ratio >= 0.7 ? '' : '  (below 0.7)'}`)
  }
  const hello = await startHelloServer()
  try {
    await cpuPerRequest(durationSec, connections, [
      { name: 'koa hello-world', server: hello, target: { url: hello.url + '/' } },
      { name: 'devnet GET /health', server: memory, target: { url: memory.url + '/health' } },
      { name: `POST /models/${MODEL}/invoke, JWT, memory`, server: memory, target: memTarget },
      { name: `POST /models/${MODEL}/invoke, JWT, disk (group commit)`, server: disk, target: diskTarget },
    ])
  } finally {
    await hello.stop()
  }
} finally {
  await memory.stop()
  await disk?.stop()
  rmSync(dataDir, { recursive: true, force: true })
}
