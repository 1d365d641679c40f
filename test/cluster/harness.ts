// Real form-state node processes on 127.0.0.1 for cluster tests and bench/cluster.ts:
// a JWKS issuer in this process, a shared cluster key, per-link TCP proxies (to cut a
// node off the network for real), node processes spawned from the CLI, and bounded waits.
import '../../src/polyfill.ts'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { createServer as createTcpServer, connect, type Server as TcpServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createDevnetIssuer, type DevnetIssuer } from '../../src/auth/devnet-issuer.ts'
import { makeClusterKey } from '../../src/replication/cluster-key.ts'

export const ROOT = resolve(import.meta.dirname, '../..')
export const SERVICE = 'cluster-test'
export const SERVICE_SECRET = 'cluster-test-secret-0123456789'
export const PROJECT = 'proj_cluster'

/** Prints a step, with the seconds since the harness was loaded. */
const t0 = Date.now()
export function say (msg: string): void {
  process.stdout.write(`# [${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`)
}

/** Polls `fn` every `everyMs` until it returns a truthy value, or throws after `ms`. */
export async function until<T> (label: string, ms: number, fn: () => Promise<T> | T, everyMs = 100): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const deadline = Date.now() + ms
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v) return v as Exclude<T, false | null | undefined | 0 | ''>
      last = v
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${label} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/** A port that was free a moment ago (bound to 0 and released). */
export async function freePort (): Promise<number> {
  const s = createTcpServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as { port: number }).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

/** An OIDC-less JWT issuer: serves its JWKS over HTTP and signs tokens in-process. */
export interface TestIssuer { jwksUrl: string, issuer: string, sign: DevnetIssuer['sign'], close (): Promise<void> }

export async function startIssuer (): Promise<TestIssuer> {
  let jwks = ''
  const server: Server = createServer((req, res) => {
    if (req.url === '/jwks.json') { res.writeHead(200, { 'content-type': 'application/json' }); res.end(jwks); return }
    res.writeHead(404); res.end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  const iss = await createDevnetIssuer({ host: '127.0.0.1', port })
  jwks = JSON.stringify(iss.jwks())
  return {
    jwksUrl: `http://127.0.0.1:${port}/jwks.json`,
    issuer: iss.issuer,
    sign: (r) => iss.sign(r),
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()) }),
  }
}

/** A TCP forwarder 127.0.0.1:port → 127.0.0.1:target that can drop everything (a cut link). */
export class Link {
  readonly port: number
  private readonly server: TcpServer
  private readonly sockets = new Set<Socket>()
  private up = true
  private constructor (port: number, server: TcpServer) { this.port = port; this.server = server }

  static async open (target: number): Promise<Link> {
    const server = createTcpServer()
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const link = new Link((server.address() as { port: number }).port, server)
    server.on('connection', (a) => {
      if (!link.up) { a.destroy(); return }
      const b = connect(target, '127.0.0.1')
      for (const [x, y] of [[a, b], [b, a]] as const) {
        link.sockets.add(x)
        x.on('error', () => y.destroy())
        x.on('close', () => { link.sockets.delete(x); y.destroy() })
        x.pipe(y)
      }
    })
    return link
  }

  /** Drop every connection through the link and refuse new ones. */
  cut (): void {
    this.up = false
    for (const s of this.sockets) s.destroy()
  }

  heal (): void { this.up = true }

  async close (): Promise<void> {
    this.cut()
    await new Promise<void>((r) => this.server.close(() => r()))
  }
}

export interface Reply { status: number, body: any }

/** One `formstate node` process; restartable on the same ports and data dir. */
export class NodeProc {
  peerId = ''
  url = ''
  proc: ChildProcess | undefined
  /** The last lines the process wrote (for failure messages). */
  readonly tail: string[] = []
  private exited: Promise<void> = Promise.resolve()

  constructor (
    readonly name: string,
    readonly dataDir: string,
    readonly httpPort: number,
    readonly p2pPort: number,
    private readonly args: () => string[],
  ) {}

  get p2pAddr (): string { return `/ip4/127.0.0.1/tcp/${this.p2pPort}` }

  /** Spawns the process and waits (bounded) for its start-up banner. */
  async start (timeoutMs = 30_000): Promise<void> {
    const argv = ['--import', 'tsx', 'src/cli/main.ts', 'node', '--data-dir', this.dataDir, '--port', String(this.httpPort),
      '--p2p-port', String(this.p2pPort), ...this.args()]
    const proc = spawn(process.execPath, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    this.proc = proc
    this.exited = new Promise((r) => proc.once('exit', () => r()))
    const banner = new Promise<void>((resolveBanner, reject) => {
      let out = ''
      const keep = (chunk: Buffer): void => {
        for (const line of chunk.toString().split('\n')) if (line !== '') this.tail.push(`${this.name}: ${line}`)
        this.tail.splice(0, Math.max(0, this.tail.length - 40))
      }
      proc.stdout!.on('data', (c: Buffer) => {
        keep(c)
        out += c.toString()
        const id = /^form-state node (\S+)$/m.exec(out)
        const url = /^http (\S+)$/m.exec(out)
        if (id !== null && url !== null && /^p2p /m.test(out)) { this.peerId = id[1]!; this.url = url[1]!; resolveBanner() }
      })
      proc.stderr!.on('data', keep)
      proc.once('exit', (code, sig) => reject(new Error(`${this.name} exited (${code ?? sig}) before its banner:\n${this.tail.join('\n')}`)))
    })
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([banner, new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`${this.name} did not start in ${timeoutMs} ms:\n${this.tail.join('\n')}`)), timeoutMs) })])
    } catch (err) {
      this.proc.kill('SIGKILL')
      throw err
    } finally {
      clearTimeout(timer)
    }
  }

  /** kill -9: no shutdown code runs. */
  async kill9 (): Promise<void> {
    this.proc?.kill('SIGKILL')
    await this.exited
  }

  /** SIGTERM, then SIGKILL if it has not exited within `ms`. */
  async stop (ms = 10_000): Promise<void> {
    const p = this.proc
    if (p === undefined || p.exitCode !== null || p.signalCode !== null) return
    p.kill('SIGTERM')
    const t = setTimeout(() => p.kill('SIGKILL'), ms)
    await this.exited
    clearTimeout(t)
  }

  async call (method: string, path: string, opts: { body?: unknown, token?: string, timeoutMs?: number } = {}): Promise<Reply> {
    const headers: Record<string, string> = opts.token !== undefined
      ? { authorization: `Bearer ${opts.token}` }
      : { 'x-service-name': SERVICE, authorization: `Bearer ${SERVICE_SECRET}` }
    if (opts.body !== undefined) headers['content-type'] = 'application/json'
    const res = await fetch(this.url + path, {
      method, headers, signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    })
    const text = await res.text()
    return { status: res.status, body: text === '' ? undefined : JSON.parse(text) }
  }

  /** GET /admin/replica (service credentials). */
  async replica (digest = true): Promise<any> {
    const r = await this.call('GET', `/admin/replica?digest=${digest}`)
    if (r.status !== 200) throw new Error(`${this.name} /admin/replica ${r.status} ${JSON.stringify(r.body)}`)
    return r.body
  }
}

export interface ClusterOptions {
  syncIntervalMs?: number
  compactIntervalMs?: number
  logLevel?: string
}

/**
 * A temp directory with a cluster key, a billing config without practical rate limits,
 * an issuer, and the node processes started from it. `close()` kills every process and
 * removes the directory; call it from an `after` hook.
 */
export class Cluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'fs-cluster-'))
  readonly keyFile = join(this.dir, 'cluster.key')
  readonly billingFile = join(this.dir, 'billing.json')
  readonly nodes: NodeProc[] = []
  readonly links: Link[] = []
  issuer!: TestIssuer

  constructor (readonly opts: ClusterOptions = {}) {
    writeFileSync(this.keyFile, makeClusterKey(), { mode: 0o600 })
    const fast = { rate_limit: { per_second: 1_000_000, burst: 1_000_000 } }
    writeFileSync(this.billingFile, JSON.stringify({ tiers: { free: fast, pro: fast } }))
  }

  async init (): Promise<this> {
    this.issuer = await startIssuer()
    return this
  }

  /** Common flags of every node; `keyFile` overridable (a node with the wrong key). */
  nodeArgs (bootstrap: () => string[], keyFile = this.keyFile): string[] {
    const b = bootstrap()
    return [
      '--cluster-key', keyFile, '--jwks-url', this.issuer.jwksUrl, '--jwt-issuer', this.issuer.issuer,
      '--service-secrets', `${SERVICE}=${SERVICE_SECRET}`, '--billing-config', this.billingFile,
      '--log-level', this.opts.logLevel ?? 'warn',
      '--sync-interval-ms', String(this.opts.syncIntervalMs ?? 1000),
      '--compact-interval-ms', String(this.opts.compactIntervalMs ?? 30_000),
      ...(b.length > 0 ? ['--bootstrap', b.join(',')] : []),
    ]
  }

  /** Adds (does not start) a node whose bootstrap list is computed at each start. */
  async add (name: string, bootstrap: () => string[], keyFile?: string): Promise<NodeProc> {
    const dataDir = join(this.dir, name)
    mkdirSync(dataDir, { recursive: true })
    const n = new NodeProc(name, dataDir, await freePort(), await freePort(), () => this.nodeArgs(bootstrap, keyFile))
    this.nodes.push(n)
    return n
  }

  async link (to: NodeProc): Promise<Link> {
    const l = await Link.open(to.p2pPort)
    this.links.push(l)
    return l
  }

  token (sub: string, role: 'admin' | 'developer' | 'user' = 'user'): Promise<string> {
    return this.issuer.sign({ sub, project_id: PROJECT, role })
  }

  /** Every node's digest once all are equal (bounded), else throws with what differs. */
  async converged (nodes: NodeProc[], ms = 30_000): Promise<string> {
    let shown = Date.now()
    return await until<string | false>(`equal digests on ${nodes.map((n) => n.name).join(', ')}`, ms, async () => {
      const rs = await Promise.all(nodes.map((n) => n.replica()))
      const first = rs[0].digest
      if (rs.every((r) => r.digest === first && r.gaps.length === 0)) return first as string
      if (Date.now() - shown > 3000) {
        shown = Date.now()
        say(`waiting: ${rs.map((r, i) => `${nodes[i]!.name}=${String(r.digest).slice(0, 10)} vv=${JSON.stringify(Object.values(r.version_vector))}`).join(' ')}`)
      }
      return false
    }, 250)
  }

  async close (): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill9().catch(() => {})))
    await Promise.all(this.links.map((l) => l.close().catch(() => {})))
    await this.issuer?.close().catch(() => {})
    rmSync(this.dir, { recursive: true, force: true })
  }
}
