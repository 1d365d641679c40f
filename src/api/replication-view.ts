/**
 * What the API may see of replication, as plain JSON-able data. src/api never imports
 * src/replication (layering): these types mirror `ReplicationStatus` and
 * `ReplicationEvent` structurally, so the composition root can hand the real `Replicator`
 * over as a {@link ReplicationView} (test/api/replication-view.test.ts checks it still fits).
 * A devnet has no replication: `ApiDeps.replication` is then absent.
 */

/** One cluster member and whether we hold a connection to it now. */
export interface MemberView {
  id: string
  /** How it became a member: `self`, `connected` (completed a pnet handshake), `vouched`. */
  via: string
  connected: boolean
  /** When this node last held a connection to it (ms; absent when never since it started). */
  lastSeen?: number
}

/** What this node knows of one peer's replica (from the last anti-entropy exchange). */
export interface PeerView {
  /** The peer's version vector as last heard. */
  vv: Record<string, number>
  /** Ops the peer has that we lack. */
  lagOps: number
  /** How long we have been behind the peer (0 when caught up). */
  lagMs: number
  /** Ops we have that the peer lacked. */
  peerLagOps: number
  rounds: number
  errors: number
  lastRoundMs?: number
  lastError?: string
}

/** A snapshot of the replication component's state. */
export interface ReplicationStatusView {
  peerId: string
  cluster: string
  shard: number
  running: boolean
  readerRunning: boolean
  listenAddrs: string[]
  members: MemberView[]
  /** Peers retired from the cluster: refused, and no longer waited for by compaction. */
  retired: Array<{ id: string, by: string, at: number }>
  peers: Record<string, PeerView>
  /** Envelopes dropped, by reason (garbled, not_member, bad_signature, replay, decode_error). */
  rejected: Record<string, number>
  gossip: {
    batchesOut: number
    opsOut: number
    batchesIn: number
    opsIn: number
    droppedWhileStopped: number
    publishErrors: number
    applyErrors: number
    topic?: string
    subscribers: string[]
    meshPeers: string[]
  }
  sync: {
    rounds: number
    roundErrors: number
    served: number
    serveErrors: number
    opsPulled: number
    opsServed: number
    snapshotsImported: number
    snapshotsServed: number
    lastRoundMs?: number
    maxRoundMs?: number
  }
  compaction: { runs: number, dropped: number }
}

/** Things replication reports as they happen (feeds /metrics). */
export type ReplicationEventView =
  | { type: 'batch_in', origin: string, ops: number }
  | { type: 'batch_out', ops: number, bytes: number }
  | { type: 'rejected', reason: string, origin?: string }
  | { type: 'sync_round', peer: string, ms: number, applied: number, snapshot: boolean }
  | { type: 'peer', peer: string, connected: boolean }
  | { type: 'compacted', dropped: number }

/**
 * The narrow interface the API sees of replication. `Replicator` satisfies it as is.
 */
export interface ReplicationView {
  /** Current status; cheap enough to call on every `/admin/replica` and `/metrics` scrape. */
  status (): ReplicationStatusView
  /**
   * Retire a member that is gone for good (the one write an operator makes here). Throws
   * `conflict` for this node or a connected peer without `force`, `not_found` for a peer
   * that is not a member; `changed` is false when it was retired already.
   */
  retire? (peerId: string, opts?: { force?: boolean }): { changed: boolean, wasConnected: boolean }
  /** Subscribe to replication events (metrics). Returns an unsubscribe. */
  onEvent? (listener: (e: ReplicationEventView) => void): () => void
}
