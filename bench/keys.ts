/**
 * API-key authentication under load (`npm run bench:keys`): an API-key-authenticated read
 * and `POST /internal/keys/validate`, at 50 connections, against a Koa hello-world measured
 * in the same run, with 1,000 and with 1,000,000 keys stored (written directly through the
 * store). Key lookups are one Map get, so the two runs should show the same ratios.
 *
 * Key-authenticated routes: `POST /models/gpt-demo/invoke` (a metered call: eligibility,
 * debit, usage) and the read `GET /accounts/me`; `GET /health` (no auth) separates the
 * framework's cost from the key's, and the same invoke with a devnet JWT (whose verification
 * is cached) shows what the key check adds. Options: --duration S (default 5), --counts 1000,1000000.
 */
import '../src/polyfill.ts'
import { fileURLToPath } from 'node:url'
import { generateApiKey } from '../src/auth/api-key-format.ts'
import { benchAgainstBaseline, cpuPerRequest, devnetUserToken, startHelloServer, type BenchRow, type HttpTarget, type NamedTarget } from './http-harness.ts'
import { startChildServer } from './child-server.ts'

const arg = (name: string): string | undefined => { const i = process.argv.indexOf(name); return i === -1 ? undefined : process.argv[i + 1] }
const durationSec = Number(arg('--duration') ?? 5)
const counts = (arg('--counts') ?? '1000,1000000').split(',').map(Number)
const SERVICE = 'bench-gateway'
const SECRET = 'bench-service-secret-0123456789'

const summary: Array<{ count: number, rows: BenchRow[] }> = []
for (const count of counts) {
  const key = generateApiKey('test')
  console.log(`\n## ${count.toLocaleString('en-US')} keys stored`)
  const server = await startChildServer(fileURLToPath(new URL('./keys-server.ts', import.meta.url)), [String(count), key.keyId, key.hash, SERVICE, SECRET, key.display], 900_000)
  try {
    // The seed user's JWT from the devnet issuer: the same account as the key, another credential.
    const jwt = await devnetUserToken(server.url)
    const invokeBody = JSON.stringify({ input_tokens: 100, output_tokens: 100 })
    const targets: Array<NamedTarget & { target: HttpTarget }> = [
      // Reference: the same app with no authentication, to separate framework from key cost.
      { name: `GET /health (no auth), ${count} keys`, target: { url: server.url + '/health' } },
      {
        name: `POST /models/gpt-demo/invoke (X-API-Key), ${count} keys`,
        target: { method: 'POST', url: server.url + '/models/gpt-demo/invoke', headers: { 'x-api-key': key.display }, body: invokeBody },
      },
      {
        name: `POST /models/gpt-demo/invoke (JWT, reference), ${count} keys`,
        target: { method: 'POST', url: server.url + '/models/gpt-demo/invoke', headers: { authorization: `Bearer ${jwt}` }, body: invokeBody },
      },
      { name: `GET /accounts/me (X-API-Key), ${count} keys`, target: { url: server.url + '/accounts/me', headers: { 'x-api-key': key.display } } },
      {
        name: `POST /internal/keys/validate, ${count} keys`,
        target: {
          method: 'POST',
          url: server.url + '/internal/keys/validate',
          headers: { authorization: `Bearer ${SECRET}`, 'x-service-name': SERVICE },
          body: JSON.stringify({ api_key: key.display, scope: 'models:invoke', cost: 1 }),
        },
      },
    ]
    const rows = await benchAgainstBaseline(targets, { durationSec })
    summary.push({ count, rows })
    // Server CPU per request: what the shared machine's drift hurts least.
    const hello = await startHelloServer()
    try {
      await cpuPerRequest(durationSec, 50, [
        { name: 'koa hello-world', server: hello, target: { url: hello.url + '/' } },
        ...targets.map((t) => ({ name: t.name, server, target: t.target })),
      ])
    } finally {
      await hello.stop()
    }
  } finally {
    await server.stop()
  }
}

console.log('\n## summary (ratio to the Koa hello-world of the same run; target >= 0.7)')
for (const { count, rows } of summary) {
  for (const r of rows.filter((x) => !x.name.startsWith('baseline'))) console.log(`${r.ratio.toFixed(3)}x  ${r.name}`)
  void count
}
