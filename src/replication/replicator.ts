/**
 * The replication component: libp2p host + membership + gossip queue + anti-entropy +
 * compaction, around one `ReplicaStore`.
 *
 * ```ts
 * const r = new Replicator().init({ clusterKey, peers, dataDir }, { store, codec, identity, logger })
 * await r.start()          // host up, publishing commits, serving sync, reader started
 * await r.stopReader()     // nothing more reaches the store; gossip still relayed
 * await r.startReader()    // catches up at once via sync
 * r.status()
 * await r.stop()
 * ```
 *
 * The store's replica id must be this node's peer id (identity.ts): ops carry it as
 * their origin and envelopes are verified against the key inside it.
 */
import '../polyfill.ts'
import { vvMissing, vvToJSON } from '../../crdt/version-vector.ts'
import { FormStateError } from '../errors.ts'
import { nullLogger } from '../log.ts'
import type { KindRegistry, ReplicaStore } from '../store/types.ts'
import { REJECT_REASONS, type RejectReason } from './envelope.ts'
import { GossipQueue, storeOpCodec, type GossipQueueStats, type OpCodec, type ReplLogger } from './gossip-queue.ts'
import { createHost, type Host } from './host.ts'
import { loadOrCreateIdentity, type NodeIdentity } from './identity.ts'
import { Membership, type MemberSource, type Retirement } from './membership.ts'
import { compactStable, stableVector } from './stability.ts'
import { SyncService, type RoundResult, type SyncStats } from './sync.ts'

export interface ReplicatorOptions {
  /** Cluster name, part of topics and signed envelopes. Default `default`. */
  cluster?: string
  /** Where the node key and members.json live; undefined = memory mode. */
  dataDir?: string
  /** TCP port on 127.0.0.1, a multiaddr or several. Default an ephemeral port. */
  listen?: number | string | readonly string[]
  /** Peers to keep connected to. */
  peers?: readonly string[]
  /** Pre-shared cluster key (swarm key format); see cluster-key.ts. */
  clusterKey?: Uint8Array
  /** Anti-entropy period (ms). Default 2000; 0 = only on connect / reader start / syncNow. */
  syncIntervalMs?: number
  /** Compaction period (ms). Default 30 000; 0 disables. */
  compactIntervalMs?: number
  /** Gossip batching. Defaults 256 ops / 10 ms (see GossipQueueOptions.maxDelayMs). */
  maxBatch?: number
  maxDelayMs?: number
  /** Re-dial period for configured peers (ms). Default 2000. */
  redialMs?: number
  /** Start the queue reader with `start()`. Default true. */
  startReader?: boolean
}

export interface ReplicatorDeps {
  store: ReplicaStore
  /** How op batches are encoded; give this or `kinds` (the store's registry). */
  codec?: OpCodec
  kinds?: KindRegistry
  /** The node identity; loaded from `dataDir` (or made fresh) when absent. */
  identity?: NodeIdentity
  logger?: ReplLogger
}

/** Things that happen, for metrics (prom-client counters in the composition root). */
export type ReplicationEvent =
  | { type: 'batch_in', origin: string, ops: number }
  | { type: 'batch_out', ops: number, bytes: number }
  | { type: 'rejected', reason: RejectReason, origin?: string }
  | { type: 'sync_round', peer: string, ms: number, applied: number, snapshot: boolean }
  | { type: 'peer', peer: string, connected: boolean }
  | { type: 'compacted', dropped: number }

export interface ReplicationStatus {
  peerId: string
  cluster: string
  shard: number
  running: boolean
  readerRunning: boolean
  listenAddrs: string[]
  /** `lastSeen`: when this node last held a connection to it (ms; now when connected; absent when never since start). */
  members: Array<{ id: string, via: MemberSource, connected: boolean, lastSeen?: number }>
  /** Peers retired from the cluster (membership.ts): refused, and not waited for by compaction. */
  retired: Retirement[]
  peers: Record<string, { vv: Record<string, number>, lagOps: number, lagMs: number, peerLagOps: number, rounds: number, errors: number, lastRoundMs?: number, lastError?: string }>
  rejected: Record<RejectReason, number>
  /** Gossip counters, plus the peers subscribed to our topic right now. */
  gossip: GossipQueueStats & { topic?: string, subscribers: string[], meshPeers: string[], delayMs?: { n: number, p50: number, p99: number, max: number } }
  sync: Omit<SyncStats, 'recentRoundMs'> & { lastRoundMs?: number, maxRoundMs?: number }
  compaction: { runs: number, dropped: number }
}

export class Replicator {
  private opts!: Required<Pick<ReplicatorOptions, 'cluster'>> & ReplicatorOptions
  private deps!: ReplicatorDeps & { logger: ReplLogger, codec: OpCodec }
  private host: Host | undefined
  private queue: GossipQueue | undefined
  private sync: SyncService | undefined
  private membership: Membership | undefined
  private compactTimer: NodeJS.Timeout | undefined
  private compacting: Promise<unknown> = Promise.resolve()
  private lastGapSync = 0
  /** host.addrs() with when it was read: libp2p rebuilds the list per call (~0.1 ms). */
  private addrsCache: { at: number, addrs: string[] } | undefined
  private readonly compaction = { runs: 0, dropped: 0 }
  /** Peer id → when a connection to it last opened or closed (since this node started). */
  private readonly lastSeen = new Map<string, number>()
  private readonly listeners = new Set<(e: ReplicationEvent) => void>()

  init (options: ReplicatorOptions, deps: ReplicatorDeps): this {
    this.opts = { ...options, cluster: options.cluster ?? 'default' }
    const codec = deps.codec ?? (deps.kinds !== undefined ? storeOpCodec(deps.kinds) : undefined)
    if (codec === undefined) throw new FormStateError('invalid_request', 'replicator needs a codec or the kind registry')
    this.deps = { ...deps, codec, logger: deps.logger ?? nullLogger }
    return this
  }

  /** Listen to replication events. Returns an unsubscribe. */
  onEvent (listener: (e: ReplicationEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private emit (e: ReplicationEvent): void {
    for (const l of this.listeners) {
      try { l(e) } catch { /* a metrics hook must not break replication */ }
    }
  }

  get peerId (): string {
    if (this.host === undefined) throw new FormStateError('not_ready', 'replicator not started')
    return this.host.peerId
  }

  async start (): Promise<void> {
    if (this.host !== undefined) return
    const { store, codec, logger } = this.deps
    const identity = this.deps.identity ?? await loadOrCreateIdentity(this.opts.dataDir)
    if (identity.peerId !== store.replicaId) {
      throw new FormStateError('conflict', `store replica id ${store.replicaId} is not this node's peer id ${identity.peerId}`)
    }
    const membership = new Membership(identity.peerId, this.opts.dataDir)
    await membership.load()
    const host = await createHost({
      privateKey: identity.privateKey,
      ...(this.opts.listen !== undefined ? { listen: this.opts.listen } : {}),
      ...(this.opts.clusterKey !== undefined ? { clusterKey: this.opts.clusterKey } : {}),
      ...(this.opts.peers !== undefined ? { peers: this.opts.peers } : {}),
      ...(this.opts.redialMs !== undefined ? { redialMs: this.opts.redialMs } : {}),
      onDialError: (addr, err) => logger.debug('peer dial failed', { addr, error: err }),
      isDenied: (id) => membership.isRetired(id),
    })
    host.node.addEventListener('peer:connect', (evt) => {
      const id = evt.detail.toString()
      if (membership.connected(id)) logger.info('new cluster member', { peer: id })
      this.lastSeen.set(id, Date.now())
      this.emit({ type: 'peer', peer: id, connected: true })
    })
    host.node.addEventListener('peer:disconnect', (evt) => {
      const id = evt.detail.toString()
      this.lastSeen.set(id, Date.now())
      this.emit({ type: 'peer', peer: id, connected: false })
    })
    const queue = new GossipQueue({
      cluster: this.opts.cluster,
      store,
      pubsub: host.pubsub,
      codec,
      secretKey: identity.privateKey.raw,
      isMember: (o) => membership.has(o),
      logger,
      ...(this.opts.maxBatch !== undefined ? { maxBatch: this.opts.maxBatch } : {}),
      ...(this.opts.maxDelayMs !== undefined ? { maxDelayMs: this.opts.maxDelayMs } : {}),
      onBatchIn: (origin, ops) => this.emit({ type: 'batch_in', origin, ops }),
      onGap: () => {
        // At most one gap-triggered round per 250 ms: a burst of envelopes behind one lost
        // batch all report the same gap.
        const now = Date.now()
        if (now - this.lastGapSync < 250) return
        this.lastGapSync = now
        void this.sync?.syncAll()
      },
      onBatchOut: (ops, bytes) => this.emit({ type: 'batch_out', ops, bytes }),
      onReject: (reason, origin) => this.emit(origin === undefined ? { type: 'rejected', reason } : { type: 'rejected', reason, origin }),
    })
    const sync = new SyncService({
      cluster: this.opts.cluster,
      node: host.node,
      store,
      codec,
      membership,
      logger,
      intervalMs: this.opts.syncIntervalMs ?? 2000,
      onRound: (r: RoundResult) => this.emit({ type: 'sync_round', peer: r.peer, ms: r.ms, applied: r.applied, snapshot: r.snapshot }),
    })
    // Batches published before a peer joined our mesh may have missed it: pull from it
    // now rather than at the next timer round.
    host.pubsub.addEventListener('gossipsub:graft', (evt) => {
      if (evt.detail.topic !== queue.topic) return
      const peer = host.node.getConnections().find((c) => c.remotePeer.toString() === evt.detail.peerId)?.remotePeer
      if (peer !== undefined) void sync.round(peer)
    })
    // However a retirement arrives (an operator here, or a member in a sync round): drop the
    // connection, and what sync knew of the peer.
    membership.onRetire((r, wasMember) => {
      logger.warn('peer retired from the cluster', { peer: r.id, by: r.by, wasMember })
      sync.forget(r.id)
      const conn = host.node.getConnections().find((c) => c.remotePeer.toString() === r.id)
      if (conn !== undefined) void host.node.hangUp(conn.remotePeer).catch(() => {})
    })
    this.host = host
    this.addrsCache = undefined
    this.membership = membership
    this.queue = queue
    this.sync = sync
    queue.start()
    await sync.start()
    const every = this.opts.compactIntervalMs ?? 30_000
    if (every > 0) {
      this.compactTimer = setInterval(() => { void this.compactNow().catch((err) => logger.warn('compaction failed', { error: err })) }, every)
      this.compactTimer.unref()
    }
    if (this.opts.startReader !== false) this.startReader()
    logger.info('replication started', { peerId: host.peerId, addrs: host.addrs(), cluster: this.opts.cluster })
  }

  async stop (): Promise<void> {
    const host = this.host
    if (host === undefined) return
    if (this.compactTimer !== undefined) clearInterval(this.compactTimer)
    await this.compacting.catch(() => {})
    await this.queue?.stop()
    await this.sync?.stop()
    await this.membership?.save().catch(() => {})
    await host.stop()
    this.host = undefined
    this.addrsCache = undefined
    this.queue = undefined
    this.sync = undefined
  }

  /** Start handing gossip to the store, and catch up through sync at once. */
  startReader (): void {
    if (this.queue === undefined || this.sync === undefined) throw new FormStateError('not_ready', 'replicator not started')
    this.queue.startReader()
    this.sync.resumePulling()
  }

  /** Stop handing anything to the store (gossip is still relayed; serving sync goes on). */
  async stopReader (): Promise<void> {
    await Promise.all([this.sync?.pausePulling(), this.queue?.stopReader()])
  }

  /** Run one anti-entropy round with every connected peer now. */
  async syncNow (): Promise<RoundResult[]> {
    if (this.sync === undefined) throw new FormStateError('not_ready', 'replicator not started')
    return this.sync.syncAll()
  }

  /** Publish queued commits now instead of waiting for the batch delay. */
  flush (): void {
    this.queue?.flush()
  }

  /** Dial a peer address now (besides the configured peers). */
  async dial (addr: string): Promise<string> {
    if (this.host === undefined) throw new FormStateError('not_ready', 'replicator not started')
    return this.host.dial(addr)
  }

  /**
   * Retire a member that is gone for good (membership.ts): compaction stops waiting for
   * it, its peer id is refused from now on, and the retirement reaches every node through
   * sync. Refused (409 `conflict`) for this node itself and, unless `force`, for a peer we
   * hold a connection to — a live node's unsynced writes would be cut off with it.
   * Idempotent: `changed` is false when it was already retired.
   */
  retire (peerId: string, opts: { force?: boolean } = {}): { changed: boolean, wasConnected: boolean } {
    const host = this.host
    const membership = this.membership
    if (host === undefined || membership === undefined) throw new FormStateError('not_ready', 'replicator not started')
    if (peerId === membership.self) throw new FormStateError('conflict', 'a node cannot retire itself; retire it from another member')
    const wasConnected = host.connectedPeers().includes(peerId)
    if (membership.isRetired(peerId)) return { changed: false, wasConnected }
    if (!membership.has(peerId)) throw new FormStateError('not_found', `${peerId} is not a member of this cluster`)
    if (wasConnected && opts.force !== true) {
      throw new FormStateError('conflict', `${peerId} is connected now: stop it first (or pass force to cut it off with whatever it has not synced)`)
    }
    return { changed: membership.retire(peerId), wasConnected }
  }

  /** Snapshot + compact the log up to what every member has seen. */
  async compactNow (): Promise<number> {
    const sync = this.sync
    const membership = this.membership
    if (sync === undefined || membership === undefined) return 0
    const run = (async () => {
      const vectors = new Map([...sync.peers].map(([id, st]) => [id, st.vv]))
      const stable = stableVector(this.deps.store.versionVector(), membership.ids(), membership.self, vectors)
      const r = await compactStable(this.deps.store, stable, this.deps.logger)
      if (r === undefined) return 0
      this.compaction.runs++
      this.compaction.dropped += r.dropped
      this.emit({ type: 'compacted', dropped: r.dropped })
      return r.dropped
    })()
    this.compacting = run.catch(() => {})
    return run
  }

  /**
   * The host's addresses, read at most once a second: status() is polled (operators,
   * `inspect watch`, benchmarks) and the list changes only when libp2p learns an address.
   */
  private listenAddrs (host: Host, now: number): string[] {
    const c = this.addrsCache
    if (c !== undefined && now - c.at < 1000) return [...c.addrs]
    const addrs = host.addrs()
    this.addrsCache = { at: now, addrs }
    return [...addrs]
  }

  status (): ReplicationStatus {
    const host = this.host
    const connected = new Set(host?.connectedPeers() ?? [])
    const peers: ReplicationStatus['peers'] = {}
    const mine = this.deps.store.versionVector()
    const now = Date.now()
    for (const [id, st] of this.sync?.peers ?? []) {
      // Lag against our vector now (gossip may have caught us up since the last round),
      // measured against the peer's vector as last heard.
      const lagOps = vvMissing(st.vv, mine)
      peers[id] = {
        vv: vvToJSON(st.vv), lagOps, lagMs: lagOps === 0 ? 0 : now - st.caughtUpAt, peerLagOps: vvMissing(mine, st.vv), rounds: st.rounds, errors: st.errors,
        ...(st.lastRoundMs !== undefined ? { lastRoundMs: st.lastRoundMs } : {}),
        ...(st.lastError !== undefined ? { lastError: st.lastError } : {}),
      }
    }
    const rejected = Object.fromEntries(REJECT_REASONS.map((r) => [r, this.queue?.verifier.rejected[r] ?? 0])) as Record<RejectReason, number>
    const { recentRoundMs, ...syncStats } = this.sync?.stats ?? { rounds: 0, roundErrors: 0, served: 0, serveErrors: 0, opsPulled: 0, opsServed: 0, snapshotsImported: 0, snapshotsServed: 0, recentRoundMs: [] }
    const last = recentRoundMs[recentRoundMs.length - 1]
    const delayMs = this.queue?.delayStats()
    return {
      peerId: host?.peerId ?? this.deps.store.replicaId,
      cluster: this.opts.cluster,
      shard: this.deps.store.shard,
      running: host !== undefined,
      readerRunning: this.queue?.readerRunning ?? false,
      listenAddrs: host === undefined ? [] : this.listenAddrs(host, now),
      members: (this.membership?.list() ?? []).map((m) => {
        const seen = connected.has(m.id) || m.via === 'self' ? now : this.lastSeen.get(m.id)
        return { id: m.id, via: m.via, connected: connected.has(m.id), ...(seen !== undefined ? { lastSeen: seen } : {}) }
      }),
      retired: this.membership?.retired() ?? [],
      peers,
      rejected,
      gossip: {
        ...(this.queue?.stats ?? { batchesOut: 0, opsOut: 0, batchesIn: 0, opsIn: 0, droppedWhileStopped: 0, publishErrors: 0, applyErrors: 0 }),
        ...(this.queue !== undefined ? { topic: this.queue.topic } : {}),
        ...(delayMs !== undefined ? { delayMs } : {}),
        subscribers: this.queue?.subscribers() ?? [],
        meshPeers: this.queue?.meshPeers() ?? [],
      },
      sync: { ...syncStats, ...(last !== undefined ? { lastRoundMs: last, maxRoundMs: Math.max(...recentRoundMs) } : {}) },
      compaction: { ...this.compaction },
    }
  }
}
