// A real devnet started in-process (startDevnet, 127.0.0.1, port 0, seed data, silent log)
// with a controllable clock, a configured service secret, and helpers to call it.
import '../../src/polyfill.ts'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Role } from '../../src/auth/principal.ts'
import { parseConfig } from '../../src/config.ts'
import { startDevnet, type RunningNode } from '../../src/node.ts'
import { accountIdFor } from '../../src/state/model.ts'
import { SEED_PROJECT } from '../../src/state/seed.ts'
export { testSeed } from '../support/seed.ts'

export const SERVICE = 'billing-frontend'
export const SERVICE_SECRET = 'svc-secret-0123456789abcdef'
export const PROJECT = SEED_PROJECT
export const OTHER_PROJECT = 'proj_other'

/** Who makes a request. */
export type Caller =
  | { token: string }
  | { service: true, projectId?: string }
  | { bearer: string }
  | { none: true }

export interface CallOptions {
  body?: unknown
  /** Raw body bytes/text, sent as is (with `contentType`, default application/json). */
  raw?: string | Buffer
  contentType?: string
  headers?: Record<string, string>
}

export interface Reply {
  status: number
  type: string
  body: any
  text: string
}

export interface TestDevnet {
  node: RunningNode
  url: string
  /** The API's clock (ms); tests move it. */
  clock: { now: number }
  token (sub: string, role: Role, projectId?: string, scope?: string): Promise<string>
  call (caller: Caller, method: string, path: string, opts?: CallOptions): Promise<Reply>
  accountOf (sub: string, projectId?: string): string
  close (): Promise<void>
}

/**
 * Starts a devnet. The free tier's rate limit is raised (through a billing config file, as an
 * operator would) so the many requests of a test are not throttled; everything else is the
 * default billing config.
 */
export async function startTestDevnet (opts: { now?: number, /** Extra config flags (e.g. --stripe-webhook-secret). */ args?: readonly string[] } = {}): Promise<TestDevnet> {
  const dir = mkdtempSync(join(tmpdir(), 'fs-api-test-'))
  const billingFile = join(dir, 'billing.json')
  const fast = { rate_limit: { per_second: 100_000, burst: 100_000 } }
  writeFileSync(billingFile, JSON.stringify({ tiers: { free: fast, pro: fast } }))
  const config = parseConfig([
    'devnet', '--host', '127.0.0.1', '--port', '0', '--log-level', 'silent',
    '--service-secrets', `${SERVICE}=${SERVICE_SECRET}`, '--billing-config', billingFile, ...(opts.args ?? []),
  ], {})
  const clock = { now: opts.now ?? Date.now() }
  let node: RunningNode
  try {
    node = await startDevnet(config, { seed: true, now: () => clock.now })
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  const url = node.url
  return {
    node,
    url,
    clock,
    token: (sub, role, projectId = PROJECT, scope) => node.issuer!.sign({ sub, project_id: projectId, role, ...(scope !== undefined ? { scope } : {}) }),
    accountOf: (sub, projectId = PROJECT) => accountIdFor(projectId, sub),
    async call (caller, method, path, o = {}) {
      const headers: Record<string, string> = { ...(o.headers ?? {}) }
      if ('token' in caller) headers.authorization = `Bearer ${caller.token}`
      else if ('bearer' in caller) headers.authorization = `Bearer ${caller.bearer}`
      else if ('service' in caller) {
        headers.authorization = `Bearer ${SERVICE_SECRET}`
        headers['x-service-name'] = SERVICE
        if (caller.projectId !== undefined) headers['x-project-id'] = caller.projectId
      }
      let body: string | Buffer | undefined
      if (o.raw !== undefined) body = o.raw
      else if (o.body !== undefined) body = JSON.stringify(o.body)
      if (body !== undefined) headers['content-type'] ??= o.contentType ?? 'application/json'
      const res = await fetch(url + path, { method, headers, ...(body !== undefined ? { body } : {}) })
      const text = await res.text()
      let parsed: unknown
      try { parsed = text === '' ? undefined : JSON.parse(text) } catch { parsed = undefined }
      return { status: res.status, type: res.headers.get('content-type') ?? '', body: parsed, text }
    },
    async close () {
      await node.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** The seed users' subjects. */
export const ADMIN = 'admin@demo'
export const DEVELOPER = 'dev@demo'
export const USER = 'user@demo'

