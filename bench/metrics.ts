/**
 * Cost of the HTTP metrics middleware (`npm run bench:metrics`): GET /health through
 * createApp without and with the timing middleware, each as a ratio to a Koa hello-world
 * measured in the same run; then the latency of a /metrics scrape.
 */
import '../src/polyfill.ts'
import { fileURLToPath } from 'node:url'
import { startChildServer } from './child-server.ts'
import { benchAgainstBaseline } from './http-harness.ts'

const arg = (name: string): string | undefined => { const i = process.argv.indexOf(name); return i === -1 ? undefined : process.argv[i + 1] }
const durationSec = Number(arg('--duration') ?? 5)
const script = fileURLToPath(new URL('./metrics-server.ts', import.meta.url))
const off = await startChildServer(script, ['off'])
const on = await startChildServer(script, ['on'])
try {
  const rows = await benchAgainstBaseline([
    { name: 'GET /health, no metrics middleware', target: { url: off.url + '/health' } },
    { name: 'GET /health, metrics middleware', target: { url: on.url + '/health' } },
    { name: 'GET /health, no metrics middleware (again)', target: { url: off.url + '/health' } },
    { name: 'GET /metrics scrape', target: { url: on.url + '/metrics' } },
  ], { durationSec, connections: 50 })
  const without = (rows[1]!.rps + rows[3]!.rps) / 2
  console.log(`metrics middleware: ${(rows[2]!.rps / without).toFixed(3)}x the requests/s of the same app without it`)
} finally {
  await off.stop()
  await on.stop()
}
