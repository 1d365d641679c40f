/**
 * Composition root of a cluster node (re-exported by `node.ts`): identity and store from
 * the data directory, the libp2p Replicator, the HTTP API, then the queue reader.
 *
 * Start order and why:
 * 1. identity (`<data-dir>/node-key`): the store's replica id IS the peer id, so ops this
 *    node signs carry an origin whose public key verifies them;
 * 2. the store (`<data-dir>/db`): replays its snapshot and op log, so a restart after a
 *    crash (kill -9) resumes with every acknowledged write;
 * 3. replication with the reader stopped: the host listens, dials the bootstrap peers,
 *    publishes this node's commits and serves sync, but applies nothing yet;
 * 4. the API (JWT keys from `--jwks-url` / `--oidc-issuer`; a node never has a built-in
 *    token issuer);
 * 5. `runQueueReader()`: gossip reaches the store and anti-entropy pulls what was missed.
 *
 * Cluster key: a node refuses to start without `--cluster-key` (not_ready). There is
 * deliberately no flag for an open network: only the library option
 * `allowOpenNetwork` (tests) runs without one, so a typo in a deployment cannot turn the
 * private network off.
 */
import './polyfill.ts'
import type { Listening } from './api/app.ts'
import { createJwtVerifier, jwtVerifierOptionsFromConfig } from './auth/jwt.ts'
import type { GcraRateLimiter } from './auth/rate-limit.ts'
import type { Config } from './config.ts'
import { FormStateError } from './errors.ts'
import { createLogger, type Logger } from './log.ts'
import { loadBillingConfig, openStore, runApi, type RunningNode } from './node.ts'
import { loadClusterKey } from './replication/cluster-key.ts'
import { loadOrCreateIdentity } from './replication/identity.ts'
import { Replicator, type ReplicatorOptions } from './replication/replicator.ts'
import { marketplaceKinds } from './state/kinds.ts'

/** A running cluster node. */
export interface RunningClusterNode extends RunningNode {
  readonly replicator: Replicator
  /** This node's libp2p peer id (also its replica id). */
  readonly peerId: string
  /** Addresses other nodes put in `--bootstrap` (with `/p2p/<peer id>`). */
  p2pAddrs (): string[]
  /** Start / stop handing gossip and sync to the store (the API keeps serving). */
  startReader (): void
  stopReader (): Promise<void>
}

export interface NodeStartOptions {
  log?: Logger
  /** Wall clock for the API (tests). */
  now?: () => number
  /**
   * Run without a cluster key (an open libp2p network anyone can join). For tests only;
   * no CLI flag or environment variable sets it.
   */
  allowOpenNetwork?: boolean
  /** Don't start the queue reader (start it later with `startReader()`). */
  readerStopped?: boolean
  /** Replication tuning beyond the config (tests: batching, redial period). */
  replication?: Pick<ReplicatorOptions, 'maxBatch' | 'maxDelayMs' | 'redialMs' | 'cluster'>
}

/**
 * Start the queue reader: gossip from now on reaches the store, and an anti-entropy round
 * with every connected peer pulls whatever arrived while it was stopped.
 */
export function runQueueReader (replicator: Replicator): void {
  replicator.startReader()
}

/** Starts a cluster node from a node-mode config; see the module header for the order. */
export async function startNode (config: Config, opts: NodeStartOptions = {}): Promise<RunningClusterNode> {
  if (config.mode !== 'node') throw new FormStateError('invalid_request', 'startNode needs a node-mode config')
  if (config.dataDir === undefined) throw new FormStateError('invalid_request', 'a node needs --data-dir')
  const log = opts.log ?? createLogger({ level: config.logLevel })
  let clusterKey: Uint8Array | undefined
  if (config.p2p.clusterKeyFile !== undefined) clusterKey = await loadClusterKey(config.p2p.clusterKeyFile)
  else if (opts.allowOpenNetwork !== true) {
    throw new FormStateError('not_ready', 'a node needs --cluster-key / FORMSTATE_CLUSTER_KEY_FILE (make one with `formstate cluster-key`)')
  }
  const billing = loadBillingConfig(config)
  const jwt = createJwtVerifier(jwtVerifierOptionsFromConfig(config.jwt))
  const identity = await loadOrCreateIdentity(config.dataDir)
  const store = await openStore(config, identity.peerId)

  const replicator = new Replicator().init({
    ...opts.replication,
    dataDir: config.dataDir,
    listen: config.p2p.listen,
    peers: config.p2p.bootstrap,
    ...(clusterKey !== undefined ? { clusterKey } : {}),
    syncIntervalMs: config.p2p.syncIntervalMs,
    compactIntervalMs: config.p2p.compactIntervalMs,
    startReader: false,
  }, { store, kinds: marketplaceKinds(), identity, logger: log })

  let running: { api: Listening, limiter: GcraRateLimiter } | undefined
  try {
    await replicator.start()
    running = await runApi({ config, store, billing, log, jwt, replication: replicator, ...(opts.now !== undefined ? { now: opts.now } : {}) })
    if (opts.readerStopped !== true) runQueueReader(replicator)
  } catch (err) {
    await replicator.stop().catch(() => {})
    await store.stop().catch(() => {})
    throw err
  }
  const { api, limiter } = running
  log.info('node ready', { url: api.url, peer_id: identity.peerId, p2p: replicator.status().listenAddrs, data_dir: config.dataDir, new_identity: identity.created })

  let closing: Promise<void> | undefined
  return {
    config,
    store,
    api,
    url: api.url,
    log,
    replicator,
    peerId: identity.peerId,
    p2pAddrs: () => replicator.status().listenAddrs,
    startReader: () => runQueueReader(replicator),
    stopReader: () => replicator.stopReader(),
    close () {
      // Stop taking requests first, then publish what is queued, then close the store:
      // every op acknowledged before the close is durable and (peers permitting) sent.
      closing ??= (async () => {
        limiter.stop()
        await api.close()
        replicator.flush()
        await replicator.stop()
        await store.stop()
      })()
      return closing
    },
  }
}
