// A real devnet for the API-key tests: startDevnet on 127.0.0.1:0 with a capturing logger
// (debug level: every line any layer writes is kept, so tests can assert a secret is in
// none of them), a controllable API clock, a service secret, and an optional billing
// override (the default tier limits unless a test raises them).
import '../../src/polyfill.ts'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Role } from '../../src/auth/principal.ts'
import { parseConfig } from '../../src/config.ts'
import { createLogger, memorySink } from '../../src/log.ts'
import { startDevnet, type RunningNode } from '../../src/node.ts'
import { recordSubscription } from '../../src/state/billing-actions.ts'
import { accountIdFor } from '../../src/state/model.ts'
import { SEED_PROJECT } from '../../src/state/seed.ts'
import type { Tier } from '../../src/state/tiers.ts'

export const SERVICE = 'model-gateway'
export const SERVICE_SECRET = 'gateway-secret-0123456789abcdef'
export const PROJECT = SEED_PROJECT
export const USER = 'user@demo'
export const DEV = 'dev@demo'
export const ADMIN = 'admin@demo'

export interface Reply {
  status: number
  type: string
  headers: Headers
  body: any
  text: string
}

export interface KeysDevnet {
  node: RunningNode
  url: string
  clock: { now: number }
  /** Every log line written so far (JSON). */
  logLines: string[]
  token (sub: string, role?: Role, projectId?: string, scope?: string): Promise<string>
  /** Raw request with the given headers. */
  req (method: string, path: string, headers?: Record<string, string>, body?: unknown): Promise<Reply>
  /** Request authenticated by a JWT or API key as `Authorization: Bearer`. */
  as (credential: string, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>
  /** Request with service credentials. */
  service (method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>
  /** Creates a key for `sub` (its account must exist) and returns the create answer. */
  createKey (jwt: string, scopes: string[], extra?: Record<string, unknown>): Promise<{ id: string, key: string, body: any }>
  setTier (sub: string, tier: Tier): Promise<void>
  accountOf (sub: string, projectId?: string): string
  close (): Promise<void>
}

export interface KeysDevnetOptions {
  /** Billing config override (JSON merged over the defaults). */
  billing?: unknown
}

/** Starts the devnet. */
export async function startKeysDevnet (opts: KeysDevnetOptions = {}): Promise<KeysDevnet> {
  const dir = mkdtempSync(join(tmpdir(), 'fs-keys-test-'))
  const args = ['devnet', '--host', '127.0.0.1', '--port', '0', '--log-level', 'debug', '--service-secrets', `${SERVICE}=${SERVICE_SECRET}`]
  if (opts.billing !== undefined) {
    const file = join(dir, 'billing.json')
    writeFileSync(file, JSON.stringify(opts.billing))
    args.push('--billing-config', file)
  }
  const config = parseConfig(args, {})
  const mem = memorySink()
  const log = createLogger({ level: 'debug', sink: mem.sink, format: 'json' })
  const clock = { now: Date.now() }
  let node: RunningNode
  try {
    node = await startDevnet(config, { seed: true, log, now: () => clock.now })
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  const url = node.url
  const req = async (method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<Reply> => {
    const h = { ...headers }
    if (body !== undefined) h['content-type'] ??= 'application/json'
    const res = await fetch(url + path, { method, headers: h, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) })
    const text = await res.text()
    let parsed: unknown
    try { parsed = text === '' ? undefined : JSON.parse(text) } catch { parsed = undefined }
    return { status: res.status, type: res.headers.get('content-type') ?? '', headers: res.headers, body: parsed, text }
  }
  const d: KeysDevnet = {
    node,
    url,
    clock,
    logLines: mem.lines,
    token: (sub, role = 'user', projectId = PROJECT, scope) => node.issuer!.sign({ sub, project_id: projectId, role, ...(scope !== undefined ? { scope } : {}) }),
    req,
    as: (credential, method, path, body, headers = {}) => req(method, path, { ...headers, authorization: `Bearer ${credential}` }, body),
    service: (method, path, body, headers = {}) => req(method, path, { ...headers, authorization: `Bearer ${SERVICE_SECRET}`, 'x-service-name': SERVICE }, body),
    async createKey (jwt, scopes, extra = {}) {
      const r = await d.as(jwt, 'POST', '/api-keys/create', { name: 'test key', scopes, ...extra })
      if (r.status !== 201) throw new Error(`create failed: ${r.status} ${r.text}`)
      return { id: r.body.id, key: r.body.key, body: r.body }
    },
    async setTier (sub, tier) {
      const id = accountIdFor(PROJECT, sub)
      await recordSubscription(node.store, id, { tier, status: 'active', period_end: null, stripe_customer_id: null, stripe_subscription_id: null, event_time: clock.now })
    },
    accountOf: (sub, projectId = PROJECT) => accountIdFor(projectId, sub),
    async close () {
      await node.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
  return d
}

/** Billing override raising every tier's rate limit (tests that make many requests). */
export const FAST_RATE = { tiers: { free: { rate_limit: { per_second: 100_000, burst: 100_000 } }, pro: { rate_limit: { per_second: 100_000, burst: 100_000 } } } }
