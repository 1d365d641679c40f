// Open-loop writer of bench/cluster.ts, run as its own process so that the load it offers
// does not depend on (or disturb) the poller that measures visibility in the parent.
//
// Sends `rate` credit grants per second for `seconds` to `url` over keep-alive HTTP/1.1
// connections (node:http, a bounded pool), round-robin over the seeded accounts. Each write
// is due at start + i/rate; a write that falls due while `maxInflight` are unanswered is
// not sent and counted as `skipped` (the writer, or the server, could not keep up), so the
// offered rate is reported as what was actually sent.
//
// argv: url rate seconds accounts tag [connections maxInflight]
// Prints one JSON line: { sent, skipped, errors, startMs, endMs, cpuMs, acks: [[sentMs, ackMs], ...] }
// with times on the shared clock (performance.timeOrigin + now(), ms), so the parent can
// compare them with its own polls.
import '../src/polyfill.ts'
import { Agent, request } from 'node:http'
import { performance } from 'node:perf_hooks'
import { accountIdFor } from '../src/state/model.ts'
import { PROJECT, SERVICE, SERVICE_SECRET } from '../test/cluster/harness.ts'

const [url, rateArg, secondsArg, accountsArg, tag, connArg, inflightArg] = process.argv.slice(2)
const rate = Number(rateArg)
const seconds = Number(secondsArg)
const accounts = Number(accountsArg)
const connections = Number(connArg ?? 64)
const maxInflight = Number(inflightArg ?? 1024)
if (url === undefined || !(rate > 0) || !(seconds > 0) || !(accounts > 0) || tag === undefined) {
  throw new Error('usage: cluster-writer.ts url rate seconds accounts tag [connections maxInflight]')
}

const target = new URL('/billing/credits/add', url)
const agent = new Agent({ keepAlive: true, maxSockets: connections })
const abs = (): number => performance.timeOrigin + performance.now()
const ids = Array.from({ length: Math.min(accounts, 100_000) }, (_, i) => accountIdFor(PROJECT, `seed-${i}`))

let inflight = 0
let errors = 0
let skipped = 0
let sent = 0
const acks: Array<[number, number]> = []

function send (i: number): Promise<void> {
  const body = JSON.stringify({ account_id: ids[i % ids.length], amount: 1, idempotency_key: `w-${tag}-${i}`, reason: 'bench' })
  const t = abs()
  inflight++
  sent++
  return new Promise<void>((resolve) => {
    const req = request(target, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-service-name': SERVICE, authorization: `Bearer ${SERVICE_SECRET}` },
      timeout: 30_000,
    }, (res) => {
      res.resume()
      res.on('end', () => {
        inflight--
        if (res.statusCode === 201) acks.push([t, abs()])
        else errors++
        resolve()
      })
    })
    const fail = (): void => { inflight--; errors++; resolve() }
    req.on('error', fail)
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.end(body)
  })
}

const n = Math.round(rate * seconds)
const pending: Array<Promise<void>> = []
const start = abs()
let i = 0
while (i < n) {
  // Send everything due by now (a timer tick can be late by several ms on a busy machine:
  // the writes it covers go out together rather than being dropped).
  const now = abs()
  while (i < n && start + i * 1000 / rate <= now) {
    if (inflight >= maxInflight) skipped++
    else pending.push(send(i))
    i++
  }
  if (i < n) await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(5, start + i * 1000 / rate - abs()))))
}
const end = abs()
await Promise.all(pending)
agent.destroy()
const cpu = process.cpuUsage()
process.stdout.write(JSON.stringify({ sent, skipped, errors, startMs: start, endMs: end, cpuMs: (cpu.user + cpu.system) / 1000, acks }) + '\n')
