/**
 * `formstate inspect watch URL`: polls `/admin/replica` (without the digest, which hashes
 * the whole state) and turns successive readings into rates: ops/s per origin from the
 * version vector, rejected envelopes/s, and the lag of each peer as the node reports it.
 */
import { performance } from 'node:perf_hooks'
import type { AdminClient, ReplicaStatus } from './inspect-client.ts'

/** One refresh. Rates are null on the first frame (nothing to compare with yet). */
export interface WatchFrame {
  frame: number
  /** Node time of the reading (ms since the epoch). */
  time: number
  replica: string
  replication: string
  reader: string
  logLength: number
  /** Ops applied, all origins (sum of the contiguous version vector). */
  opsTotal: number
  opsPerSec: number | null
  origins: Array<{ origin: string, seq: number, perSec: number | null }>
  peers: Array<{ id: string, connected: boolean, lagOps: number, lagMs: number, errors: number }>
  gaps: number
  rejectedTotal: number
  rejectedPerSec: number | null
}

interface Reading { status: ReplicaStatus, at: number }

const sum = (xs: Iterable<number>): number => { let s = 0; for (const x of xs) s += x; return s }

/** The frame for `cur`, with rates against `prev` (taken `cur.at - prev.at` ms before). */
export function frameOf (n: number, cur: Reading, prev: Reading | undefined): WatchFrame {
  const s = cur.status
  const dt = prev === undefined ? 0 : (cur.at - prev.at) / 1000
  const rate = (now: number, before: number | undefined): number | null =>
    prev === undefined || dt <= 0 ? null : Math.max(0, now - (before ?? 0)) / dt
  const opsTotal = sum(Object.values(s.version_vector))
  const rejectedTotal = sum(Object.values(s.rejected))
  const connected = new Map(s.members.map((m) => [m.id, m.connected]))
  return {
    frame: n,
    time: s.time,
    replica: s.node.replica_id,
    replication: s.replication,
    reader: s.queue_reader,
    logLength: s.op_log.length,
    opsTotal,
    opsPerSec: rate(opsTotal, prev === undefined ? undefined : sum(Object.values(prev.status.version_vector))),
    origins: Object.entries(s.version_vector).map(([origin, seq]) => ({ origin, seq, perSec: rate(seq, prev?.status.version_vector[origin]) })),
    peers: s.peers.map((p) => ({ id: p.id, connected: connected.get(p.id) ?? false, lagOps: p.lag_ops, lagMs: p.lag_ms, errors: p.errors })),
    gaps: s.gaps.length,
    rejectedTotal,
    rejectedPerSec: rate(rejectedTotal, prev === undefined ? undefined : sum(Object.values(prev.status.rejected))),
  }
}

export interface WatchOptions {
  intervalMs: number
  /** Stop after this many frames (scripts, tests); default: until aborted. */
  count?: number
  signal?: AbortSignal
  onFrame: (f: WatchFrame) => void
}

function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve()
    const done = (): void => { clearTimeout(t); signal?.removeEventListener('abort', done); resolve() }
    const t = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}

/** Polls until `count` frames or the signal aborts. Resolves with the number of frames. */
export async function watch (client: AdminClient, opts: WatchOptions): Promise<number> {
  let prev: Reading | undefined
  let n = 0
  while (opts.signal?.aborted !== true && (opts.count === undefined || n < opts.count)) {
    const started = performance.now()
    const status = await client.status(false)
    const cur = { status, at: performance.now() }
    opts.onFrame(frameOf(++n, cur, prev))
    prev = cur
    if (opts.count !== undefined && n >= opts.count) break
    await sleep(Math.max(0, opts.intervalMs - (performance.now() - started)), opts.signal)
  }
  return n
}
