/**
 * The queue: committed ops go out as signed batches on gossipsub; batches from other
 * replicas come in, are verified whole, and applied.
 *
 * Publisher: listens to `store.onCommit`, collects ops and flushes a batch when it holds
 * `maxBatch` ops or `maxDelayMs` after the first op arrived — gossipsub costs about a
 * millisecond a message, so one message per op would cap a node at ~1000 writes/s.
 * A batch is sealed with one ed25519 signature (envelope.ts) and published on
 * `form-state/<cluster>/shard/<n>/ops`. Publishing with no peers is not an error: the ops
 * are in the log and anti-entropy delivers them later.
 *
 * Reader: subscribed from start to stop (so this node keeps relaying gossip for others),
 * but it only hands ops to the store while started. Stopped, it drops what arrives;
 * anti-entropy (sync.ts) catches the store up once the reader starts again.
 */
import type { GossipSub, Message } from '@libp2p/gossipsub'
import type { Logger } from '../log.ts'
import { decodeOps, decodeOpsWithBytes, encodeOps, joinEncodedOps, type EncodedBatch } from '../store/op-codec.ts'
import type { KindRegistry, Op, ReplicaStore, ShardId } from '../store/types.ts'
import type { KeyObject } from 'node:crypto'
import { signingKey } from './ed25519.ts'
import { checkOpsMatchHeader, EnvelopeVerifier, sealEnvelope, type RejectReason } from './envelope.ts'

/** Encodes and decodes op batches (the store's op codec bound to its kind registry). */
export interface OpCodec {
  encode (ops: readonly Op[]): Uint8Array
  /** All or nothing: throws on any malformed op. */
  decode (bytes: Uint8Array): Op[]
  /** `encode` of ops given as their logged encodings (`ReplicaStore.encodedOpsAfter`). */
  joinEncoded? (encoded: readonly Uint8Array[]): Uint8Array
  /**
   * `decode` for a batch about to be applied: each op with its own bytes and no per-op
   * caches (`ReplicaStore.applyDecoded` takes it as is). All or nothing.
   */
  decodeBatch? (bytes: Uint8Array): EncodedBatch
}

/** The store's op codec bound to a kind registry. */
export function storeOpCodec (kinds: KindRegistry): OpCodec {
  return { encode: (ops) => encodeOps(ops, kinds), decode: (bytes) => decodeOps(bytes, kinds), joinEncoded: joinEncodedOps, decodeBatch: (bytes) => decodeOpsWithBytes(bytes, kinds) }
}

export type ReplLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>

/** The gossip topic of one shard of one cluster. */
export function opsTopic (cluster: string, shard: ShardId): string {
  return `form-state/${cluster}/shard/${shard}/ops`
}

export interface GossipQueueOptions {
  cluster: string
  store: ReplicaStore
  pubsub: GossipSub
  codec: OpCodec
  /** nacl secret key (64 bytes) of this node: libp2p `Ed25519PrivateKey.raw`. */
  secretKey: Uint8Array
  isMember: (origin: string) => boolean
  logger: ReplLogger
  /** Flush at this many ops. Default 256. */
  maxBatch?: number
  /**
   * Flush this long after the first queued op (ms). Default 10: a batch costs the two ends
   * ~1.4 ms of CPU whatever it holds, so at 1,000 commits/s 10 ms (~10 ops a batch) instead
   * of 5 ms (~5) cut the CPU per replicated op by about a third, for ≤ 5 ms more latency.
   */
  maxDelayMs?: number
  /** Split batches whose encoded ops exceed this (bytes). Default 512 KiB. */
  maxBatchBytes?: number
  /** Called with every verified batch, e.g. for metrics. */
  onBatchIn?: (origin: string, ops: number) => void
  /**
   * Called when a batch from `origin` was applied but the store still lacks ops of that
   * origin below it (gossip lost or reordered an envelope): a sync round fills the gap
   * now rather than at the next periodic round, which the whole vector would wait for.
   */
  onGap?: (origin: string) => void
  /** Called with every published batch. */
  onBatchOut?: (ops: number, bytes: number) => void
  /** Called with every rejected envelope (after it is counted and logged). */
  onReject?: (reason: RejectReason, origin?: string) => void
}

export interface GossipQueueStats {
  batchesOut: number
  opsOut: number
  batchesIn: number
  opsIn: number
  /** Batches that arrived while the reader was stopped. */
  droppedWhileStopped: number
  publishErrors: number
  applyErrors: number
}

/** A verified envelope's ops, and the same ops with their bytes when the store takes those. */
interface Received { ops: Op[], batch?: EncodedBatch }

export class GossipQueue {
  readonly topic: string
  readonly verifier: EnvelopeVerifier<Received>
  readonly stats: GossipQueueStats = { batchesOut: 0, opsOut: 0, batchesIn: 0, opsIn: 0, droppedWhileStopped: 0, publishErrors: 0, applyErrors: 0 }
  private queue: Op[] = []
  private timer: NodeJS.Timeout | undefined
  private unsubscribeCommit: (() => void) | undefined
  private reading = false
  private running = false
  /** Durability of the batches applied so far (awaited by stop). */
  private applying: Promise<void> = Promise.resolve()
  private publishing: Promise<void> = Promise.resolve()
  private readonly maxBatch: number
  private readonly maxDelayMs: number
  private readonly maxBatchBytes: number
  /** The node's signing key, parsed once. */
  private readonly signKey: KeyObject
  private readonly onMessage = (evt: CustomEvent<Message>): void => { this.receive(evt.detail) }

  constructor (private readonly opts: GossipQueueOptions) {
    this.topic = opsTopic(opts.cluster, opts.store.shard)
    this.maxBatch = opts.maxBatch ?? 256
    this.maxDelayMs = opts.maxDelayMs ?? 10
    this.maxBatchBytes = opts.maxBatchBytes ?? 512 * 1024
    this.signKey = signingKey(opts.secretKey)
    // Decoded with each op's bytes when both ends allow it: the store then logs those bytes
    // as they are, with no per-op cache entries (weak-table churn was a receiver's GC) and
    // no re-validation of ops the decoder just validated.
    const { decodeBatch } = opts.codec
    const direct = decodeBatch !== undefined && opts.store.applyDecoded !== undefined
    this.verifier = new EnvelopeVerifier<Received>({
      cluster: opts.cluster,
      isMember: opts.isMember,
      decode: (bytes, header) => {
        if (direct) {
          const batch = decodeBatch(bytes)
          const ops = batch.map((b) => b.op)
          checkOpsMatchHeader(ops, header)
          return { ops, batch }
        }
        const ops = opts.codec.decode(bytes)
        checkOpsMatchHeader(ops, header)
        return { ops }
      },
      onReject: (reason, detail, origin) => {
        opts.logger.warn('envelope rejected', { reason, detail, origin })
        opts.onReject?.(reason, origin)
      },
    })
  }

  /** Start publishing local commits and relaying gossip (the reader stays as it was). */
  start (): void {
    if (this.running) return
    this.running = true
    this.opts.pubsub.addEventListener('message', this.onMessage)
    this.opts.pubsub.subscribe(this.topic)
    this.unsubscribeCommit = this.opts.store.onCommit((ops) => this.enqueue(ops))
  }

  /** Flush what is queued, then stop publishing and listening. */
  async stop (): Promise<void> {
    if (!this.running) return
    this.unsubscribeCommit?.()
    this.unsubscribeCommit = undefined
    this.flush()
    await this.publishing
    this.running = false
    this.opts.pubsub.removeEventListener('message', this.onMessage)
    try { this.opts.pubsub.unsubscribe(this.topic) } catch { /* pubsub already stopped */ }
    await this.applying
  }

  startReader (): void { this.reading = true }
  async stopReader (): Promise<void> {
    this.reading = false
    await this.applying
  }

  get readerRunning (): boolean { return this.reading }

  /** Peers gossipsub knows to be subscribed to our topic. */
  subscribers (): string[] {
    return this.running ? this.opts.pubsub.getSubscribers(this.topic).map((p) => p.toString()) : []
  }

  /**
   * Peers in our gossip mesh for the topic. A subscriber that is not (yet) in the mesh
   * may miss a publish — its stream from us may not be open — so readiness checks use this.
   */
  meshPeers (): string[] {
    // getMeshPeers is on the GossipSub class but not on its exported interface.
    const ps = this.opts.pubsub as unknown as { getMeshPeers?: (topic: string) => string[] }
    return this.running ? (ps.getMeshPeers?.(this.topic) ?? []) : []
  }

  private enqueue (ops: readonly Op[]): void {
    for (const op of ops) {
      // Only our own ops travel under our signature (onCommit only hands those out).
      if (op.origin === this.opts.store.replicaId) this.queue.push(op)
    }
    if (this.queue.length >= this.maxBatch) this.flush()
    else if (this.queue.length > 0 && this.timer === undefined) {
      this.timer = setTimeout(() => { this.timer = undefined; this.flush() }, this.maxDelayMs)
    }
  }

  /** Seal and publish everything queued, in batches of contiguous seqs. */
  flush (): void {
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
    const ops = this.queue
    this.queue = []
    if (ops.length === 0) return
    const batches: Op[][] = []
    let cur: Op[] = []
    for (const op of ops) {
      const prev = cur[cur.length - 1]
      if (cur.length >= this.maxBatch || (prev !== undefined && op.seq !== prev.seq + 1)) { batches.push(cur); cur = [] }
      cur.push(op)
    }
    batches.push(cur)
    const envelopes = batches.flatMap((b) => this.seal(b))
    // Publish in order, one at a time, without blocking the commit path.
    this.publishing = this.publishing.then(async () => {
      for (const [env, n] of envelopes) {
        try {
          await this.opts.pubsub.publish(this.topic, env)
          this.stats.batchesOut++
          this.stats.opsOut += n
          this.opts.onBatchOut?.(n, env.length)
        } catch (err) {
          this.stats.publishErrors++
          this.opts.logger.debug('publish failed; sync will deliver these ops', { error: err, ops: n })
        }
      }
    })
  }

  private seal (batch: Op[]): Array<[Uint8Array, number]> {
    const bytes = this.opts.codec.encode(batch)
    if (bytes.length > this.maxBatchBytes && batch.length > 1) {
      const half = Math.ceil(batch.length / 2)
      return [...this.seal(batch.slice(0, half)), ...this.seal(batch.slice(half))]
    }
    const first = batch[0]!
    const env = sealEnvelope({
      cluster: this.opts.cluster,
      origin: this.opts.store.replicaId,
      shard: this.opts.store.shard,
      firstSeq: first.seq,
      lastSeq: batch[batch.length - 1]!.seq,
      sentAt: Date.now(),
      ops: bytes,
    }, this.signKey)
    return [[env, batch.length]]
  }

  /** Seal-to-receive delays (ms) of the last accepted batches (a ring). */
  private readonly delays = new Float64Array(1024)
  private delayCount = 0

  /**
   * Seal-to-receive delay of the last (up to 1024) accepted batches: the origin's clock at
   * sealing against ours at arrival, so only meaningful between nodes on one host or with
   * synchronised clocks. Says whether a write-to-visible tail is in transit or in apply.
   */
  delayStats (): { n: number, p50: number, p99: number, max: number } | undefined {
    const n = Math.min(this.delayCount, this.delays.length)
    if (n === 0) return undefined
    const xs = this.delays.slice(0, n).sort()
    const at = (p: number): number => xs[Math.min(n - 1, Math.floor(p * n))]!
    return { n, p50: at(0.5), p99: at(0.99), max: xs[n - 1]! }
  }

  private receive (msg: Message): void {
    if (msg.topic !== this.topic) return
    if (!this.reading) { this.stats.droppedWhileStopped++; return }
    const res = this.verifier.open(msg.data)
    if (!res.ok) return
    // Our own batches come back only through replays of gossip; skip the store round-trip.
    if (res.header.origin === this.opts.store.replicaId) return
    this.delays[this.delayCount++ % this.delays.length] = Date.now() - res.header.sentAt
    this.stats.batchesIn++
    const { ops, batch } = res.ops
    this.stats.opsIn += ops.length
    this.opts.onBatchIn?.(res.header.origin, ops.length)
    // Applied now, in arrival order (applyRemote applies to memory before it returns; the
    // store's write queue keeps the log in the same order). Waiting for each batch to be
    // durable before applying the next made every envelope queue behind the previous
    // one's fsync: at 1,000 writes/s that, not the network, was the write-to-visible tail.
    const store = this.opts.store
    const durable = (batch !== undefined ? store.applyDecoded!(batch) : store.applyRemote(ops)).catch((err: unknown) => {
      this.stats.applyErrors++
      this.opts.logger.error('applying a verified batch failed', { error: err, origin: res.header.origin })
    })
    this.applying = Promise.all([this.applying, durable]).then(() => {})
    // applyRemote applied (or refused) the batch synchronously: the vector says now
    // whether anything below it is missing.
    const origin = res.header.origin
    if ((this.opts.store.versionVector().get(origin) ?? 0) < res.header.lastSeq) this.opts.onGap?.(origin)
  }
}
