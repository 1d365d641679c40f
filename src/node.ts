/**
 * Composition root: builds a replica, the API and (for a cluster node) replication from a
 * parsed Config, and starts them. `startDevnet()` runs one node with no network, writes
 * applied directly; `startNode()` adds libp2p replication. `runApi()` and
 * `runQueueReader()` start independently so the API can serve while the reader is stopped.
 */
import './polyfill.ts'
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { createApp, listen, type Listening } from './api/app.ts'
import type { ApiDeps, ReplicationView } from './api/deps.ts'
import { createApiMetrics } from './api/metrics.ts'
import { apiRoutes } from './api/routes/index.ts'
import { registerDevnetRoutes } from './api/routes/devnet.ts'
import { securityHook } from './api/security.ts'
import { createDevnetIssuer, type DevnetIssuer } from './auth/devnet-issuer.ts'
import { createJwtVerifier, jwtVerifierOptionsFromConfig, type JwtVerifier } from './auth/jwt.ts'
import type { Principal } from './auth/principal.ts'
import { GcraRateLimiter, type RateLimit } from './auth/rate-limit.ts'
import { createServiceVerifier } from './auth/service-auth.ts'
import type { Config } from './config.ts'
import { FormStateError } from './errors.ts'
import { createLogger, type Logger } from './log.ts'
import { classicLevelKv } from './store/level-kv.ts'
import { memoryKv } from './store/memory-kv.ts'
import { Replica } from './store/replica.ts'
import type { ReplicaStore } from './store/types.ts'
import { accountIdFor } from './state/model.ts'
import { marketplaceKinds } from './state/kinds.ts'
import { effectiveTier, subscriptionOf } from './state/subscription.ts'
import { billingConfigFrom, TIERS, type BillingConfig, type Tier } from './state/tiers.ts'
import { activeKeyCount } from './state/api-keys.ts'
import { createApiKeysRuntime, type ApiKeysRuntime } from './auth/api-keys-runtime.ts'
import { seedDevnet } from './state/seed.ts'

export { startNode, runQueueReader, type RunningClusterNode, type NodeStartOptions } from './node-cluster.ts'

export interface RunningNode {
  readonly config: Config
  readonly store: ReplicaStore
  readonly api: Listening
  readonly url: string
  readonly log: Logger
  /** The devnet's token issuer (devnet only, and only when no external issuer is set). */
  readonly issuer?: DevnetIssuer
  /** The API-key feature (authenticator, usage aggregation: `keys.activity.flush()`). */
  readonly keys?: ApiKeysRuntime
  close (): Promise<void>
}

export interface StartOptions {
  log?: Logger
  /** Seed the devnet with a project, accounts, models and agents (default true). */
  seed?: boolean
  /** Wall clock for the API (tests). */
  now?: () => number
}

/**
 * Loads the billing config: defaults, overridden by `--billing-config` when given; the
 * largest grant is the `--max-credit-amount` setting (one source for that limit).
 */
export function loadBillingConfig (config: Config): BillingConfig {
  const file = config.billingConfigFile === undefined ? {} : JSON.parse(readFileSync(config.billingConfigFile, 'utf8')) as Record<string, unknown>
  return billingConfigFrom({ ...file, max_credit_amount: config.maxCreditAmount })
}

/** A devnet replica id, kept in the data directory so a restart continues its seq. */
function devnetReplicaId (dataDir: string | undefined): string {
  if (dataDir === undefined) return `devnet-${randomBytes(6).toString('hex')}`
  mkdirSync(dataDir, { recursive: true })
  const file = join(dataDir, 'replica-id')
  if (existsSync(file)) return readFileSync(file, 'utf8').trim()
  const id = `devnet-${randomBytes(6).toString('hex')}`
  writeFileSync(file, id + '\n', { mode: 0o600 })
  return id
}

/** Opens (and starts) the replica for a config. */
export async function openStore (config: Config, replicaId: string): Promise<Replica> {
  const kv = config.dataDir === undefined ? memoryKv() : classicLevelKv(join(config.dataDir, 'db'))
  const store = new Replica({ replicaId, kv, kinds: marketplaceKinds(), durability: config.durability })
  await store.start()
  return store
}

function isTier (t: string | undefined): t is Tier {
  return (TIERS as readonly (string | undefined)[]).includes(t)
}

/** The rate limit of a principal: by its account's tier; services are not limited. */
export function tierLimit (store: ReplicaStore, billing: BillingConfig): (p: Principal) => RateLimit | undefined {
  return (p) => {
    if (p.kind === 'service') return undefined
    // An API key's principal already carries its account's tier.
    const tier = isTier(p.tier) ? p.tier : effectiveTier(subscriptionOf(store, p.accountId ?? accountIdFor(p.projectId, p.sub)))
    const rl = billing.tiers[tier].rate_limit
    return { ratePerSec: rl.per_second, burst: rl.burst }
  }
}

export interface ApiOptions {
  config: Config
  store: ReplicaStore
  billing: BillingConfig
  log: Logger
  jwt: JwtVerifier
  now?: () => number
  issuer?: () => DevnetIssuer | undefined
  /** Port override (the devnet binds before it knows its issuer URL). */
  port?: number
  /** Replication, for /admin/replica and /metrics (a cluster node passes its Replicator). */
  replication?: ReplicationView
  /** Readiness for `GET /ready` (default: ready once listening). */
  ready?: () => boolean
}

/** Builds and starts the HTTP API over a store. */
export async function runApi (opts: ApiOptions): Promise<{ api: Listening, limiter: GcraRateLimiter, keys: ApiKeysRuntime }> {
  const { config, store, billing, log } = opts
  const limiter = new GcraRateLimiter()
  limiter.start()
  const limitFor = tierLimit(store, billing)
  const now = opts.now ?? Date.now
  const keys = createApiKeysRuntime({ store, log, now, env: config.mode === 'devnet' ? 'test' : 'live', limiter, limitFor })
  const metrics = createApiMetrics({ store, ...(opts.replication !== undefined ? { replication: opts.replication } : {}) })
  const deps: ApiDeps = {
    store,
    billing,
    log,
    now: opts.now ?? Date.now,
    mode: config.mode,
    operatorProjects: new Set(config.operatorProjects),
    ...(config.stripeWebhookSecret !== undefined ? { stripeWebhookSecret: config.stripeWebhookSecret } : {}),
    keys,
    activeKeyCount: (accountId) => activeKeyCount(store, accountId, now()),
    ...(opts.replication !== undefined ? { replication: opts.replication } : {}),
    metrics,
  }
  const routes = apiRoutes(deps)
  if (opts.issuer !== undefined) {
    const issuer = opts.issuer
    routes.push((table) => registerDevnetRoutes(table, { issuer }))
  }
  const app = createApp({
    log,
    maxBodyBytes: config.maxBodyBytes,
    routes,
    ready: opts.ready ?? (() => true),
    authenticate: securityHook({
      jwt: opts.jwt,
      services: createServiceVerifier(config.serviceSecrets),
      apiKeys: keys.authenticator,
      limiter,
      limitFor,
    }),
    info: { title: 'form-state', version: '0.1.0', description: `form-state ${config.mode} API` },
    timing: metrics.httpMiddleware,
  })
  const listening = await listen(app, config.host, opts.port ?? config.port)
  keys.start()
  // Closing the API flushes the keys' aggregated usage once no request can add to it.
  const api: Listening = { ...listening, close: async () => { await listening.close(); await keys.stop(); metrics.close() } }
  return { api, limiter, keys }
}

/** A verifier whose implementation is supplied later (the devnet issuer needs the bound port). */
function lateVerifier (): JwtVerifier & { set (v: JwtVerifier): void } {
  let inner: JwtVerifier | undefined
  return {
    set (v) { inner = v },
    verify (token) {
      if (inner === undefined) throw new FormStateError('not_ready', 'the node is still starting; retry in a moment', { headers: { 'Retry-After': '1' } })
      return inner.verify(token)
    },
    cached (token) { return inner?.cached?.(token) },
  }
}

/**
 * A single-node devnet: no libp2p, writes applied directly, memory unless `dataDir`.
 * Trusts its own issuer (`/devnet/token`) unless an external JWKS/OIDC issuer is set.
 */
export async function startDevnet (config: Config, opts: StartOptions = {}): Promise<RunningNode> {
  const log = opts.log ?? createLogger({ level: config.logLevel })
  const billing = loadBillingConfig(config)
  const store = await openStore(config, devnetReplicaId(config.dataDir))
  const external = config.jwt.jwksUrl !== undefined || config.jwt.oidcIssuer !== undefined
  const jwt = lateVerifier()
  let issuer: DevnetIssuer | undefined
  let ready = false
  let running: { api: Listening, limiter: GcraRateLimiter, keys: ApiKeysRuntime }
  try {
    // Seed and make the issuer before listening whenever the port is known, so the first
    // request already finds both; with port 0 the issuer URL needs the bound port, and
    // /ready answers 503 until it exists.
    if (opts.seed !== false) await seedDevnet(store, billing, (opts.now ?? Date.now)())
    if (external) jwt.set(createJwtVerifier(jwtVerifierOptionsFromConfig(config.jwt)))
    else if (config.port !== 0) {
      issuer = await createDevnetIssuer({ host: config.host, port: config.port })
      jwt.set(createJwtVerifier(issuer.verifierOptions()))
    }
    running = await runApi({
      config, store, billing, log, jwt,
      ready: () => ready,
      ...(opts.now !== undefined ? { now: opts.now } : {}),
      ...(external ? {} : { issuer: () => issuer }),
    })
    if (!external && issuer === undefined) {
      issuer = await createDevnetIssuer({ host: config.host, port: running.api.port })
      jwt.set(createJwtVerifier(issuer.verifierOptions()))
    }
  } catch (err) {
    await store.stop()
    throw err
  }
  ready = true
  log.info('devnet ready', { url: running.api.url, replica: store.replicaId, data_dir: config.dataDir ?? '(memory)' })
  return {
    config,
    store,
    api: running.api,
    keys: running.keys,
    url: running.api.url,
    log,
    ...(issuer !== undefined ? { issuer } : {}),
    async close () {
      running.limiter.stop()
      await running.api.close()
      await store.stop()
    },
  }
}
