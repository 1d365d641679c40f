/**
 * `npm run bench:http-inproc`: the server's own CPU per request with the network taken out.
 * A seeded in-memory devnet and a Koa hello-world run in this process; requests are handed
 * to each server's `request` listener as Node `IncomingMessage`/`ServerResponse` pairs over
 * in-memory sockets (no HTTP parser, no syscalls, no load generator competing for the
 * CPU), one at a time, in interleaved chunks. What is measured is Koa, our middleware, the
 * route and `invokeModel`, and Node's response object and header serialisation: the part
 * the server's code controls. bench:http measures the same calls over real sockets, where
 * the kernel's share (and its wake-ups of the load generator) comes on top.
 *
 * Printed: median µs of CPU per request (process.cpuUsage, user + system) per target over
 * the chunks, and the ratio hello-world / target from the same run.
 *
 * Options: --chunks N (default 10, per target), --per N (requests per chunk, default 2000).
 */
import '../src/polyfill.ts'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { IncomingMessage, ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Duplex } from 'node:stream'
import Koa from 'koa'
import { parseConfig } from '../src/config.ts'
import { startDevnet } from '../src/node.ts'
import { grantCredits } from '../src/state/billing-actions.ts'
import { accountIdFor } from '../src/state/model.ts'
import { SEED_PROJECT } from '../src/state/seed.ts'
import { devnetUserToken } from './http-harness.ts'

const arg = (name: string): string | undefined => { const i = process.argv.indexOf(name); return i === -1 ? undefined : process.argv[i + 1] }
const chunks = Math.max(1, Math.min(Number(arg('--chunks') ?? 10), 100))
const per = Math.max(100, Math.min(Number(arg('--per') ?? 2000), 100_000))

type Listener = (req: IncomingMessage, res: ServerResponse) => void
interface Shape { method: string, url: string, headers: string[], body?: Buffer }

/** An in-memory socket: what the response writes is dropped. */
function memorySocket (): Duplex {
  const s = new Duplex({ read () {}, write (_c, _e, cb) { cb() }, writev (_c, cb) { cb() } })
  Object.assign(s, { remoteAddress: '127.0.0.1', encrypted: false })
  return s
}

/** One request through `listener`, resolved when the response finished; rejects on a non-2xx. */
function send (listener: Listener, shape: Shape): Promise<void> {
  const socket = memorySocket()
  const req = new IncomingMessage(socket as never)
  req.method = shape.method
  req.url = shape.url
  req.httpVersionMajor = 1
  req.httpVersionMinor = 1
  req.httpVersion = '1.1'
  // What the HTTP parser does: raw header lines (the headers object is built lazily from them).
  ;(req as unknown as { _addHeaderLines (h: string[], n: number): void })._addHeaderLines(shape.headers, shape.headers.length)
  if (shape.body !== undefined) req.push(shape.body)
  req.push(null)
  req.complete = true
  const res = new ServerResponse(req)
  res.shouldKeepAlive = true
  res.assignSocket(socket as never)
  return new Promise((resolve, reject) => {
    res.on('finish', () => (res.statusCode < 300 ? resolve() : reject(new Error(`${shape.method} ${shape.url} answered ${res.statusCode}`))))
    listener(req, res)
  })
}

const dir = mkdtempSync(join(tmpdir(), 'fs-bench-inproc-'))
const billingFile = join(dir, 'billing.json')
const fast = { rate_limit: { per_second: 1_000_000, burst: 10_000_000 } }
writeFileSync(billingFile, JSON.stringify({ tiers: { free: fast, pro: fast, enterprise: fast } }))
const config = parseConfig(['devnet', '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn', '--billing-config', billingFile], {})
const node = await startDevnet(config, { seed: true })
try {
  await grantCredits(node.store, { accountId: accountIdFor(SEED_PROJECT, 'user@demo'), idempotencyKey: `bench-inproc:${Date.now()}`, amount: 1_000_000_000_000, kind: 'manual', reason: 'bench:http-inproc', by: 'bench', at: Date.now() })
  const token = await devnetUserToken(node.url)
  const api = node.api.server.listeners('request')[0] as Listener
  const hello = new Koa()
  hello.use((ctx) => { ctx.body = { hello: 'world' } })
  const body = Buffer.from(JSON.stringify({ input_tokens: 100, output_tokens: 50 }))
  const targets: Array<{ name: string, listener: Listener, shape: Shape }> = [
    { name: 'koa hello-world', listener: hello.callback() as Listener, shape: { method: 'GET', url: '/', headers: ['host', 'bench'] } },
    { name: 'devnet GET /health', listener: api, shape: { method: 'GET', url: '/health', headers: ['host', 'bench'] } },
    {
      name: 'POST /models/gpt-demo/invoke, JWT, memory',
      listener: api,
      shape: { method: 'POST', url: '/models/gpt-demo/invoke', headers: ['host', 'bench', 'authorization', `Bearer ${token}`, 'content-type', 'application/json', 'content-length', String(body.length)], body },
    },
  ]
  for (const t of targets) for (let i = 0; i < per; i++) await send(t.listener, t.shape) // warm-up (and a failing call stops here)
  const samples = targets.map(() => [] as number[])
  for (let c = 0; c < chunks; c++) {
    const order = c % 2 === 0 ? targets.map((_, i) => i) : targets.map((_, i) => targets.length - 1 - i)
    for (const i of order) {
      const t = targets[i]!
      const before = process.cpuUsage()
      for (let k = 0; k < per; k++) await send(t.listener, t.shape)
      const used = process.cpuUsage(before)
      samples[i]!.push((used.user + used.system) / per)
    }
  }
  const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]! }
  const spread = (xs: number[]): string => { const s = [...xs].sort((a, b) => a - b); return `${s[Math.floor(s.length / 4)]!.toFixed(1)}-${s[Math.floor((s.length * 3) / 4)]!.toFixed(1)}` }
  const ref = median(samples[0]!)
  console.log(`# in-process, ${chunks} chunks x ${per} requests per target, interleaved; node ${process.version}`)
  console.log('## server CPU per request without the network (median µs; p25-p75; ratio = hello-world / target)')
  targets.forEach((t, i) => {
    const m = median(samples[i]!)
    console.log(`${m.toFixed(1).padStart(8)} µs  (${spread(samples[i]!)})  ${(ref / m).toFixed(3)}x  ${t.name}`)
  })
} finally {
  await node.close()
  rmSync(dir, { recursive: true, force: true })
}
