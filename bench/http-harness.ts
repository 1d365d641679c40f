/**
 * HTTP benchmark harness. Every run measures a Koa hello-world (in a child process) as
 * the baseline of this machine at this moment, before and after the given targets, and prints
 * requests/s, the ratio to the baseline, and p50/p99 latency. Ratios, not absolute numbers,
 * are what compare across machines and runs.
 *
 * Used by the `bench:*` scripts: `await benchAgainstBaseline([{ name, target }], opts)`.
 * Run directly to measure the API framework itself (`GET /health` through createApp).
 */
import '../src/polyfill.ts'
import autocannon from 'autocannon'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { startChildServer, type ChildServer } from './child-server.ts'

/** One HTTP request shape to hammer. */
export interface HttpTarget {
  method?: string
  url: string
  headers?: Record<string, string>
  body?: string
}

export interface LoadOptions {
  /** Concurrent connections (default 50). */
  connections?: number
  /** Seconds per measurement (default 5, capped at 60 so a run is always bounded). */
  durationSec?: number
  /** Seconds of unmeasured warm-up before each measurement (default 1). */
  warmupSec?: number
}

export interface LoadResult {
  rps: number
  p50Ms: number
  p99Ms: number
  requests: number
  errors: number
  timeouts: number
  non2xx: number
}

const MAX_DURATION = 60

function bounded (opts: LoadOptions): Required<LoadOptions> {
  return {
    connections: Math.max(1, Math.min(opts.connections ?? 50, 1000)),
    durationSec: Math.max(1, Math.min(opts.durationSec ?? 5, MAX_DURATION)),
    warmupSec: Math.max(0, Math.min(opts.warmupSec ?? 1, 10)),
  }
}

/** Measures one target with autocannon. */
export async function runLoad (target: HttpTarget, opts: LoadOptions = {}): Promise<LoadResult> {
  const o = bounded(opts)
  const base = {
    url: target.url,
    method: target.method ?? 'GET',
    headers: { ...(target.body !== undefined ? { 'content-type': 'application/json' } : {}), ...target.headers },
    ...(target.body !== undefined ? { body: target.body } : {}),
    connections: o.connections,
    timeout: 10,
  }
  if (o.warmupSec > 0) await autocannon({ ...base, duration: o.warmupSec })
  const r = await autocannon({ ...base, duration: o.durationSec })
  return {
    rps: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    requests: r.requests.total,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
  }
}

/** A user JWT for the devnet seed user (`user@demo` of the seed project) from a devnet's issuer at `url`. */
export async function devnetUserToken (url: string): Promise<string> {
  const res = await fetch(url + '/devnet/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sub: 'user@demo', project_id: 'proj_demo', role: 'user', ttl_s: 3600 }),
  })
  if (res.status !== 200) throw new Error(`/devnet/token answered ${res.status}: ${await res.text()}`)
  return ((await res.json()) as { token: string }).token
}

/** Starts the hello-world baseline server in a child process. */
export function startHelloServer (): Promise<ChildServer> {
  return startChildServer(fileURLToPath(new URL('./hello-server.ts', import.meta.url)))
}

export interface NamedTarget {
  name: string
  /** A target, or a function producing one (called after the baseline ran). */
  target: HttpTarget | (() => HttpTarget)
}

export interface BenchRow extends LoadResult {
  name: string
  /** rps / mean baseline rps (baseline measured before and after the targets). */
  ratio: number
}

function fmt (n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
}

/** Formats rows as an aligned table. */
export function formatRows (rows: readonly BenchRow[]): string {
  const head = ['target', 'req/s', 'ratio', 'p50 ms', 'p99 ms', 'requests', 'non-2xx', 'errors']
  const body = rows.map((r) => [r.name, fmt(r.rps), `${fmt(r.ratio, 3)}x`, fmt(r.p50Ms, 1), fmt(r.p99Ms, 1), fmt(r.requests), fmt(r.non2xx), fmt(r.errors + r.timeouts)])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)))
  return [head, ...body].map((cols) => cols.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n')
}

/**
 * Measures the hello-world baseline, then each target, and prints a table with the
 * ratio of each to the baseline. Rows whose responses were not all 2xx are flagged:
 * their requests/s measure error handling, not the operation.
 */
export async function benchAgainstBaseline (targets: readonly NamedTarget[], opts: LoadOptions = {}, print: (line: string) => void = console.log): Promise<BenchRow[]> {
  const o = bounded(opts)
  print(`# ${o.connections} connections, ${o.durationSec}s per target (+${o.warmupSec}s warm-up), node ${process.version}`)
  // The baseline is measured before and after the targets (the machine is shared, load
  // drifts); ratios use the mean of the two, and a large drift is reported.
  const hello = await startHelloServer()
  const measured: Array<{ name: string, r: LoadResult }> = []
  let before: LoadResult
  let afterRun: LoadResult
  try {
    before = await runLoad({ url: hello.url + '/' }, o)
    for (const t of targets) {
      const target = typeof t.target === 'function' ? t.target() : t.target
      measured.push({ name: t.name, r: await runLoad(target, o) })
    }
    afterRun = await runLoad({ url: hello.url + '/' }, o)
  } finally {
    await hello.stop()
  }
  const base = (before.rps + afterRun.rps) / 2
  const rows: BenchRow[] = [
    { name: 'baseline: koa hello-world (before)', ...before, ratio: base > 0 ? before.rps / base : 0 },
    ...measured.map(({ name, r }) => ({ name, ...r, ratio: base > 0 ? r.rps / base : 0 })),
    { name: 'baseline: koa hello-world (after)', ...afterRun, ratio: base > 0 ? afterRun.rps / base : 0 },
  ]
  const drift = base > 0 ? Math.abs(before.rps - afterRun.rps) / base : 0
  if (drift > 0.2) print(`! baseline drifted ${(drift * 100).toFixed(0)}% during the run (shared machine?): treat ratios as rough`)
  print(formatRows(rows))
  for (const r of rows) {
    if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0) print(`! ${r.name}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts — its req/s is not the operation's`)
  }
  return rows
}

/** CPU time a process has used so far, split into user and system (kernel) time, in µs. */
export interface CpuTimes { user: number, sys: number }

/** User and system CPU time of `pid` so far; undefined off Linux. */
export function cpuTimes (pid: number | undefined): CpuTimes | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    // utime and stime, in clock ticks of 10 ms
    return { user: Number(fields[11]) * 10_000, sys: Number(fields[12]) * 10_000 }
  } catch { return undefined }
}

/** CPU time (user + system, µs) the process has used so far; undefined off Linux. */
export function cpuMicros (pid: number | undefined): number | undefined {
  const t = cpuTimes(pid)
  return t === undefined ? undefined : t.user + t.sys
}

/** One row of {@link cpuPerRequest}: server CPU per request in µs. */
export interface CpuRow { name: string, user: number, sys: number, total: number }

/**
 * Server CPU per request under load, for each target (the first is the reference, e.g.
 * hello-world); printed as a table of user, system and total µs per request with the ratio
 * reference / target of the user time and of the total.
 *
 * The two are printed apart because they answer different questions. User time is the
 * server's own JavaScript, Node and V8 work. System time is mostly the kernel sending the
 * answer, and on loopback that includes waking the load generator's thread when it was
 * idle, waiting for this server: a slow server's client is idle more often, so its sys
 * share per request grows with the server's slowness (a hello-world's client is never idle
 * and pays far less). The user column is the part the server's code controls.
 */
export async function cpuPerRequest (durationSec: number, connections: number, targets: Array<{ name: string, server: ChildServer, target: HttpTarget }>): Promise<CpuRow[]> {
  const rows: CpuRow[] = []
  for (const t of targets) {
    await runLoad(t.target, { connections, durationSec: 1, warmupSec: 0 }) // warm-up
    const before = cpuTimes(t.server.child.pid)
    if (before === undefined) { console.log('(no /proc: CPU per request not measured)'); return [] }
    const r = await runLoad(t.target, { connections, durationSec: Math.max(2, Math.round(durationSec / 2)), warmupSec: 0 })
    const after = cpuTimes(t.server.child.pid)!
    const n = Math.max(1, r.requests)
    const user = (after.user - before.user) / n
    const sys = (after.sys - before.sys) / n
    rows.push({ name: t.name, user, sys, total: user + sys })
  }
  console.log(formatCpuRows(rows))
  return rows
}

/** The CPU table: µs per request (10 ms tick resolution) and ratios to the first row. */
export function formatCpuRows (rows: readonly CpuRow[]): string {
  if (rows.length === 0) return ''
  const ref = rows[0]!
  const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(3)}x` : '-')
  const head = ['user µs', 'sys µs', 'total µs', 'user ratio', 'total ratio', 'target']
  const body = rows.map((r) => [r.user.toFixed(1), r.sys.toFixed(1), r.total.toFixed(1), ratio(ref.user, r.user), ratio(ref.total, r.total), r.name])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)))
  const lines = [head, ...body].map((cols) => cols.map((c, i) => (i === cols.length - 1 ? c : c.padStart(widths[i]!))).join('  '))
  return ['', `## server CPU per request (10 ms tick resolution; ratio = ${ref.name} CPU / target CPU)`, ...lines].join('\n')
}

// Direct run: the framework's own overhead (createApp + GET /health) against bare Koa.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string): string | undefined => { const i = process.argv.indexOf(name); return i === -1 ? undefined : process.argv[i + 1] }
  const durationSec = Number(arg('--duration') ?? 5)
  const api = await startChildServer(fileURLToPath(new URL('./api-server.ts', import.meta.url)))
  try {
    await benchAgainstBaseline([
      { name: 'form-state app: GET /health', target: { url: api.url + '/health' } },
      { name: 'form-state app: 404 problem', target: { url: api.url + '/nowhere' } },
    ], { durationSec })
  } finally {
    await api.stop()
  }
}
