/**
 * Anti-entropy: pull what a peer has and we lack, over `/form-state/sync/1.0.0`.
 *
 * A round (requester side): send my version vector and member list; the responder
 * answers with its own vector, members, a snapshot when it compacted ops I still need,
 * then the ops I lack (`store.opsAfter`) in length-prefixed chunks. Rounds run when a
 * peer connects, when the reader starts, and every `intervalMs` (±25 % jitter, so a
 * cluster started at once does not sync in lock-step). A round is bounded by
 * `maxOpsPerRound`; the responder says `more` and the next round follows at once.
 *
 * Pulling is paused while the reader is stopped (nothing reaches the store then);
 * serving peers never is. Both sides record the other's vector: that feeds the lag
 * figures in `status()` and causal stability (stability.ts).
 */
import { lpStream } from '@libp2p/utils'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { vvDominates, vvMerge, vvMissing, type VersionVector } from '../../crdt/version-vector.ts'
import { FormStateError } from '../errors.ts'
import type { ReplicaStore } from '../store/types.ts'
import type { OpCodec, ReplLogger } from './gossip-queue.ts'
import type { FormStateLibp2p } from './host.ts'
import type { Membership } from './membership.ts'
import { decodeFrame, encodeFrame, MAX_FRAME, SNAPSHOT_CHUNK, SYNC_PROTOCOL, type Frame } from './sync-frames.ts'

export interface SyncOptions {
  cluster: string
  node: FormStateLibp2p
  store: ReplicaStore
  codec: OpCodec
  membership: Membership
  logger: ReplLogger
  /** Period of background rounds (ms); 0 disables the timer. Default 2000. */
  intervalMs?: number
  /** Ops per OPS frame. Default 2048 (a few hundred KiB of typical ops, under MAX_FRAME). */
  chunkOps?: number
  /** Ops one round sends at most. Default 50 000. */
  maxOpsPerRound?: number
  /** A round must finish within this (ms). Default 30 000. */
  roundTimeoutMs?: number
  /** Largest snapshot accepted (bytes). Default 1 GiB. */
  maxSnapshotBytes?: number
  /** Called after every successful round this node pulled. */
  onRound?: (r: RoundResult) => void
}

/** What this node knows about one peer's replica. */
export interface PeerSyncState {
  vv: VersionVector
  /** Ops the peer had that we lacked, when we last heard its vector. */
  lagOps: number
  /** How long we have been behind the peer (0 when caught up). */
  lagMs: number
  /** Ops we have that the peer lacked, when we last heard its vector. */
  peerLagOps: number
  lastHeardAt: number
  caughtUpAt: number
  rounds: number
  errors: number
  lastRoundMs?: number
  lastError?: string
}

export interface RoundResult {
  peer: string
  applied: number
  duplicates: number
  snapshot: boolean
  more: boolean
  ms: number
}

export interface SyncStats {
  rounds: number
  roundErrors: number
  served: number
  serveErrors: number
  /** Ops received by rounds this node pulled (applied or duplicate), counted once durable. */
  opsPulled: number
  opsServed: number
  snapshotsImported: number
  snapshotsServed: number
  /** Durations (ms) of the last rounds, most recent last (at most 100). */
  recentRoundMs: number[]
}

function copyVv (vv: VersionVector): VersionVector {
  return new Map(vv)
}

export class SyncService {
  readonly stats: SyncStats = { rounds: 0, roundErrors: 0, served: 0, serveErrors: 0, opsPulled: 0, opsServed: 0, snapshotsImported: 0, snapshotsServed: 0, recentRoundMs: [] }
  readonly peers = new Map<string, PeerSyncState>()
  private readonly inflight = new Map<string, Promise<RoundResult | undefined>>()
  /** The pull that runs before the next one (pulls are serialized; never rejects). */
  private pullTurn: Promise<unknown> = Promise.resolve()
  private timer: NodeJS.Timeout | undefined
  private running = false
  private pulling = false
  private abort = new AbortController()
  private pullAbort = new AbortController()
  private readonly onConnect = (evt: CustomEvent<PeerId>): void => { void this.round(evt.detail) }

  constructor (private readonly o: SyncOptions) {}

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    this.abort = new AbortController()
    await this.o.node.handle(SYNC_PROTOCOL, (stream, conn) => this.serve(stream, conn), { maxInboundStreams: 8, force: true })
    this.o.node.addEventListener('peer:connect', this.onConnect)
    this.schedule()
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.o.node.removeEventListener('peer:connect', this.onConnect)
    this.abort.abort(new Error('sync stopped'))
    await Promise.allSettled(this.inflight.values())
    await this.o.node.unhandle(SYNC_PROTOCOL).catch(() => {})
  }

  /** Resume pulling (tracks the reader) and run a round with every peer at once. */
  resumePulling (): void {
    if (this.pulling) return
    this.pulling = true
    this.pullAbort = new AbortController()
    void this.syncAll()
  }

  /**
   * Pause pulling: rounds in flight are aborted and awaited, so once this resolves
   * nothing more reaches the store through sync.
   */
  async pausePulling (): Promise<void> {
    this.pulling = false
    this.pullAbort.abort(new Error('pulling paused'))
    await Promise.allSettled(this.inflight.values())
  }

  private schedule (): void {
    const every = this.o.intervalMs ?? 2000
    if (!this.running || every <= 0) return
    const delay = every * (0.75 + Math.random() * 0.5)
    this.timer = setTimeout(() => { void this.syncAll().finally(() => this.schedule()) }, delay)
    this.timer.unref()
  }

  /** One round with every connected peer, concurrently. */
  async syncAll (): Promise<RoundResult[]> {
    const results = await Promise.all(this.o.node.getPeers().map(async (p) => this.round(p)))
    return results.filter((r): r is RoundResult => r !== undefined)
  }

  /** One round with `peer` (joins the one in flight, if any). Never throws. */
  round (peer: PeerId): Promise<RoundResult | undefined> {
    const id = peer.toString()
    const cur = this.inflight.get(id)
    if (cur !== undefined) return cur
    if (!this.running || !this.pulling || this.o.membership.isRetired(id)) return Promise.resolve(undefined)
    // Pulls run one at a time: peers that connect together (a healed partition) would
    // otherwise each stream the same missing ops, and all but one copy are duplicates the
    // puller decodes for nothing. The next round asks with the vector the last one left.
    const p = this.pullTurn.then(async () => this.running && this.pulling ? this.pull(peer) : undefined).catch((err: unknown) => {
      this.stats.roundErrors++
      const st = this.peers.get(id)
      if (st !== undefined) { st.errors++; st.lastError = String((err as Error)?.message ?? err) }
      if (this.running) this.o.logger.debug('sync round failed', { peer: id, error: err })
      return undefined
    }).finally(() => this.inflight.delete(id))
    this.inflight.set(id, p)
    this.pullTurn = p
    return p.then((r) => {
      if (r?.more === true && this.running) void this.round(peer)
      return r
    })
  }

  private retiredIds (): string[] {
    return this.o.membership.retired().map((r) => r.id)
  }

  /** Drop what we know of a peer (it was retired): it no longer shows as a peer. */
  forget (peer: string): void {
    this.peers.delete(peer)
  }

  /** Record a peer's vector and recompute lag against ours. */
  private heard (peer: string, vv: VersionVector): PeerSyncState {
    const now = Date.now()
    let st = this.peers.get(peer)
    if (st === undefined) {
      st = { vv: new Map(), lagOps: 0, lagMs: 0, peerLagOps: 0, lastHeardAt: now, caughtUpAt: now, rounds: 0, errors: 0 }
      this.peers.set(peer, st)
    }
    // Vectors only grow; a stale answer must not move ours back.
    vvMerge(st.vv, vv)
    st.lastHeardAt = now
    this.refreshLag(st)
    return st
  }

  private refreshLag (st: PeerSyncState): void {
    const now = Date.now()
    const mine = this.o.store.versionVector()
    st.lagOps = vvMissing(st.vv, mine)
    st.peerLagOps = vvMissing(mine, st.vv)
    if (st.lagOps === 0) st.caughtUpAt = now
    st.lagMs = st.lagOps === 0 ? 0 : now - st.caughtUpAt
  }

  private async pull (peer: PeerId): Promise<RoundResult> {
    const id = peer.toString()
    const t0 = performance.now()
    const signal = AbortSignal.any([this.abort.signal, this.pullAbort.signal, AbortSignal.timeout(this.o.roundTimeoutMs ?? 30_000)])
    // Checked before every write to the store: a paused reader must receive nothing.
    const live = (): void => { if (!this.pulling || signal.aborted) throw new FormStateError('not_ready', 'pulling paused') }
    // Only over a connection we already hold: dialProtocol would dial the peer through
    // whatever addresses identify taught us, bypassing the configured peer addresses (and a
    // cut link). Connecting is the host's job (configured peers, re-dialled), not sync's.
    const conn = this.o.node.getConnections(peer).find((c) => c.status === 'open')
    if (conn === undefined) throw new FormStateError('not_ready', `not connected to ${id}`)
    const stream = await conn.newStream(SYNC_PROTOCOL, { signal })
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME })
    const read = async (): Promise<Frame> => decodeFrame((await lp.read({ signal })).subarray())
    const res: RoundResult = { peer: id, applied: 0, duplicates: 0, snapshot: false, more: false, ms: 0 }
    try {
      await lp.write(encodeFrame({ type: 'request', cluster: this.o.cluster, shard: this.o.store.shard, vv: this.o.store.versionVector(), members: this.o.membership.ids(), retired: this.retiredIds() }), { signal })
      const hello = await read()
      if (hello.type === 'error') throw new FormStateError('conflict', `peer refused sync: ${hello.code} ${hello.message}`)
      if (hello.type !== 'hello') throw new FormStateError('decode_invalid', `expected hello, got ${hello.type}`)
      // Retirements first: a member the peer still lists may be one it has just learnt was retired.
      this.o.membership.learnRetired(id, hello.retired)
      this.o.membership.vouch(id, hello.members)
      const st = this.heard(id, hello.vv)
      const chunks: Uint8Array[] = []
      const applying: Array<Promise<void>> = []
      let failed: unknown
      let snapBytes = 0
      for (;;) {
        const f = await read()
        if (f.type === 'snap_chunk') {
          snapBytes += f.bytes.length
          if (snapBytes > (this.o.maxSnapshotBytes ?? 2 ** 30)) throw new FormStateError('decode_oversized', 'snapshot too large')
          chunks.push(f.bytes)
        } else if (f.type === 'snap_end') {
          live()
          await this.o.store.importSnapshot(Buffer.concat(chunks))
          chunks.length = 0
          res.snapshot = true
          this.stats.snapshotsImported++
        } else if (f.type === 'ops') {
          const { store, codec } = this.o
          // The store decodes frames in its own format itself (no per-op caches); `decode`
          // first otherwise. Either way a malformed frame applies nothing.
          const direct = store.applyEncoded !== undefined && codec.joinEncoded !== undefined
          const ops = direct ? undefined : codec.decode(f.bytes)
          if (failed !== undefined) throw failed
          live()
          // Applied to memory now; durability is awaited once, at the end of the round, so
          // the next frame is read and applied while this one's batch is written (waiting for
          // each frame's fsync left the stream idle). The responder keeps the ops meanwhile.
          applying.push((ops === undefined ? store.applyEncoded!(f.bytes) : store.applyRemote(ops)).then((r) => {
            res.applied += r.applied
            res.duplicates += r.duplicates
            this.stats.opsPulled += r.applied + r.duplicates
          }, (err: unknown) => { failed ??= err }))
        } else if (f.type === 'end') {
          res.more = f.more
          break
        } else if (f.type === 'error') {
          throw new FormStateError('conflict', `peer failed sync: ${f.code} ${f.message}`)
        } else {
          throw new FormStateError('decode_invalid', `unexpected ${f.type} frame`)
        }
      }
      await Promise.all(applying)
      if (failed !== undefined) throw failed
      await stream.close({ signal }).catch(() => {})
      res.ms = performance.now() - t0
      st.rounds++
      st.lastRoundMs = res.ms
      this.refreshLag(st)
      this.stats.rounds++
      this.stats.recentRoundMs.push(res.ms)
      if (this.stats.recentRoundMs.length > 100) this.stats.recentRoundMs.shift()
      this.o.onRound?.(res)
      return res
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }
  }

  /** Responder side of a round. */
  private async serve (stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.o.roundTimeoutMs ?? 30_000)])
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME })
    const send = (f: Frame): Promise<void> => lp.write(encodeFrame(f), { signal })
    try {
      const req = decodeFrame((await lp.read({ signal })).subarray())
      if (req.type !== 'request') throw new FormStateError('decode_invalid', `expected request, got ${req.type}`)
      if (req.cluster !== this.o.cluster || req.shard !== this.o.store.shard) {
        await send({ type: 'error', code: 'wrong_cluster', message: `this is ${this.o.cluster} shard ${this.o.store.shard}` })
        await stream.close({ signal })
        return
      }
      if (this.o.membership.isRetired(peer)) {
        // The connection gater refuses retired peers; this covers a connection opened just before.
        await send({ type: 'error', code: 'retired', message: 'this peer id was retired from the cluster' })
        await stream.close({ signal })
        return
      }
      this.o.membership.learnRetired(peer, req.retired)
      this.o.membership.vouch(peer, req.members)
      this.heard(peer, req.vv)
      const mine = this.o.store.versionVector()
      const compacted = this.o.store.compactedVv()
      await send({ type: 'hello', vv: mine, compactedVv: compacted, members: this.o.membership.ids(), retired: this.retiredIds() })
      const cursor = copyVv(req.vv)
      if (!vvDominates(req.vv, compacted)) {
        // The peer needs ops we no longer have: send the whole state, then what follows it.
        const snap = await this.o.store.exportSnapshot()
        for (let i = 0; i < snap.length; i += SNAPSHOT_CHUNK) await send({ type: 'snap_chunk', bytes: snap.subarray(i, i + SNAPSHOT_CHUNK) })
        await send({ type: 'snap_end' })
        vvMerge(cursor, mine) // the snapshot holds at least what `mine` says
        this.stats.snapshotsServed++
      }
      const chunk = this.o.chunkOps ?? 2048
      const cap = this.o.maxOpsPerRound ?? 50_000
      let sent = 0
      let more = false
      const { store, codec } = this.o
      // Ops go out as they are logged when the store and codec allow: decoding them only to
      // re-encode them was most of a responder's work.
      const raw = store.encodedOpsAfter !== undefined && codec.joinEncoded !== undefined
      for (;;) {
        let ops: Array<{ origin: string, seq: number }>
        let bytes: () => Uint8Array
        if (raw) {
          const enc = await store.encodedOpsAfter!(cursor, chunk)
          ops = enc
          bytes = () => codec.joinEncoded!(enc.map((e) => e.bytes))
        } else {
          const dec = await store.opsAfter(cursor, chunk)
          ops = dec
          bytes = () => codec.encode(dec)
        }
        let advanced = false
        for (const op of ops) {
          if (op.seq > (cursor.get(op.origin) ?? 0)) { cursor.set(op.origin, op.seq); advanced = true }
        }
        if (ops.length === 0 || !advanced) break
        await send({ type: 'ops', bytes: bytes() })
        sent += ops.length
        if (sent >= cap) { more = true; break }
      }
      await send({ type: 'end', ops: sent, more })
      await stream.close({ signal })
      this.stats.served++
      this.stats.opsServed += sent
    } catch (err) {
      this.stats.serveErrors++
      if (this.running) this.o.logger.debug('serving sync failed', { peer, error: err })
      stream.abort(err as Error)
    }
  }
}
