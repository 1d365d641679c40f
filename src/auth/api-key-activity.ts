/**
 * Key usage and authentication failures, aggregated in memory and written to the store
 * periodically as counter deltas — never an op per request. A request costs one Map
 * lookup and two number updates here; every `flushIntervalMs` each key that was used (or
 * refused) gets one op: its `last_used` max register, its usage windows and its failure
 * windows.
 *
 * A flush writes its keys in slices of `sliceKeys`, yielding to the event loop between
 * slices: one op costs ~10-15 µs, so 10,000 active keys written in one go stalled every
 * request for ~110-150 ms each interval (100,000, the pending cap, for over a second).
 * Counts of keys whose slice is not written yet stay visible to `pendingUsage`.
 *
 * Flood resistance: failures for key ids that do not exist are only counted in memory (an
 * attacker can mint ids without limit, so they never reach the state), pending entries are
 * capped at `maxPending` (excess is counted as dropped), and the log gets at most one
 * summary line per flush, never one per failure and never a key.
 */
import type { Logger } from '../log.ts'
import type { ReplicaStore } from '../store/types.ts'
import { keyActivityChanges, type AuthFailureReason, type KeyCount } from '../state/api-key-audit.ts'
import { apiKeyKey } from '../state/model.ts'
import { bucketOf, bucketStart } from '../state/windows.ts'

/** A failure not attributable to a stored key. */
export type AnonymousFailure = 'malformed' | 'unknown_id'

export interface ApiKeyActivityOptions {
  store: ReplicaStore
  log: Logger
  now: () => number
  /** Default 5 000 ms. */
  flushIntervalMs?: number
  /** Distinct pending (key, window) entries kept between flushes. Default 100 000. */
  maxPending?: number
  /** Keys written per slice of a flush before yielding to the event loop. Default 256. */
  sliceKeys?: number
}

/** Counters for metrics and tests. */
export interface ApiKeyActivityStats {
  pendingKeys: number
  flushes: number
  opsWritten: number
  failuresKnown: number
  failuresUnknown: number
  failuresMalformed: number
  dropped: number
}

interface Use { hour: number, n: number, last: number }
interface Spilled { keyId: string, hour: number, n: number }
interface KeyEntry { counts: KeyCount[], last?: number }

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** The aggregator (a component: `start()` runs the flush timer, `stop()` flushes once more). */
export class ApiKeyActivity {
  private readonly store: ReplicaStore
  private readonly log: Logger
  private readonly now: () => number
  private readonly intervalMs: number
  private readonly maxPending: number
  private readonly sliceKeys: number
  private uses = new Map<string, Use>()
  // Taken out of `uses`/`spilled`/`failures` by the running flush, not yet written.
  private unwritten = new Map<string, KeyEntry>()
  private spilled: Spilled[] = []
  private failures = new Map<string, number>()
  private readonly lastSeen = new Map<string, number>()
  private unknownSince = 0
  private malformedSince = 0
  private timer: NodeJS.Timeout | undefined
  private flushing: Promise<void> | undefined
  private queued: Promise<void> | undefined
  private readonly counters = { flushes: 0, opsWritten: 0, failuresKnown: 0, failuresUnknown: 0, failuresMalformed: 0, dropped: 0 }

  constructor (opts: ApiKeyActivityOptions) {
    this.store = opts.store
    this.log = opts.log
    this.now = opts.now
    this.intervalMs = opts.flushIntervalMs ?? 5_000
    this.maxPending = opts.maxPending ?? 100_000
    this.sliceKeys = Math.max(1, opts.sliceKeys ?? 256)
  }

  /** Counts one request made with `keyId` at `at`. Hot path: no allocation in the common case. */
  used (keyId: string, at: number = this.now()): void {
    const hour = bucketOf('hour', at)
    const u = this.uses.get(keyId)
    if (u === undefined) {
      if (this.uses.size >= this.maxPending) { this.counters.dropped++; return }
      this.uses.set(keyId, { hour, n: 1, last: at })
      return
    }
    if (u.hour !== hour) {
      // The window changed between flushes: park the old window's count.
      this.spilled.push({ keyId, hour: u.hour, n: u.n })
      u.hour = hour
      u.n = 0
    }
    u.n++
    if (at > u.last) u.last = at
  }

  /** Counts a refused authentication of a stored key. */
  failed (keyId: string, reason: AuthFailureReason, at: number = this.now()): void {
    this.counters.failuresKnown++
    const k = `${keyId}|${reason}|${bucketOf('hour', at)}`
    const n = this.failures.get(k)
    if (n === undefined && this.failures.size >= this.maxPending) { this.counters.dropped++; return }
    this.failures.set(k, (n ?? 0) + 1)
  }

  /** Counts a refusal that names no stored key (memory only). */
  failedAnonymous (why: AnonymousFailure): void {
    if (why === 'malformed') { this.counters.failuresMalformed++; this.malformedSince++ } else { this.counters.failuresUnknown++; this.unknownSince++ }
  }

  /** The latest use of `keyId` seen by this node and not yet necessarily flushed. */
  lastUsed (keyId: string): number | undefined {
    return this.uses.get(keyId)?.last ?? this.lastSeen.get(keyId)
  }

  /** Unflushed request counts of `keyId`, per hour window start. */
  pendingUsage (keyId: string): Array<{ at: number, n: number }> {
    const out: Array<{ at: number, n: number }> = []
    // Counts of a running flush whose slice has not been written yet (failures excluded).
    for (const c of this.unwritten.get(keyId)?.counts ?? []) if (c.reason === undefined) out.push({ at: c.at, n: c.n })
    for (const s of this.spilled) if (s.keyId === keyId) out.push({ at: bucketStart('hour', s.hour), n: s.n })
    const u = this.uses.get(keyId)
    if (u !== undefined && u.n > 0) out.push({ at: bucketStart('hour', u.hour), n: u.n })
    return out
  }

  /**
   * Writes everything pending at the call: one op per key. Flushes never overlap: a call
   * during a running flush (which took only what was pending when it started) is answered
   * by one more flush after it, shared by every call made meanwhile.
   */
  flush (): Promise<void> {
    const running = this.flushing
    if (running === undefined) {
      this.flushing = this.doFlush().finally(() => { this.flushing = undefined })
      return this.flushing
    }
    const next = (): Promise<void> => { this.queued = undefined; return this.flush() }
    this.queued ??= running.then(next, next)
    return this.queued
  }

  private async doFlush (): Promise<void> {
    const uses = this.uses
    const spilled = this.spilled
    const failures = this.failures
    const unknown = this.unknownSince
    const malformed = this.malformedSince
    this.uses = new Map()
    this.spilled = []
    this.failures = new Map()
    this.unknownSince = 0
    this.malformedSince = 0
    this.counters.flushes++

    // One op per key: all its windows and its last use, summed per field by the state layer.
    const perKey = new Map<string, KeyEntry>()
    const entry = (keyId: string): KeyEntry => {
      let e = perKey.get(keyId)
      if (e === undefined) perKey.set(keyId, e = { counts: [] })
      return e
    }
    for (const s of spilled) entry(s.keyId).counts.push({ at: bucketStart('hour', s.hour), n: s.n })
    for (const [keyId, u] of uses) {
      const e = entry(keyId)
      if (u.n > 0) e.counts.push({ at: bucketStart('hour', u.hour), n: u.n })
      e.last = u.last
      this.lastSeen.set(keyId, u.last)
    }
    const byReason: Record<string, number> = {}
    let known = 0
    for (const [k, n] of failures) {
      const [keyId, reason, hour] = k.split('|') as [string, AuthFailureReason, string]
      entry(keyId).counts.push({ at: bucketStart('hour', Number(hour)), n, reason })
      byReason[reason] = (byReason[reason] ?? 0) + n
      known += n
    }
    this.lastSeenTrim()
    if (known + unknown + malformed > 0) {
      this.log.warn('api key authentication failures', { known_keys: known, by_reason: byReason, unknown_key: unknown, malformed, interval_ms: this.intervalMs })
    }

    this.unwritten = perKey
    const writes: Array<Promise<unknown>> = []
    let inSlice = 0
    try {
      for (const [keyId, e] of perKey) {
        if (inSlice === this.sliceKeys) { inSlice = 0; await yieldToEventLoop() }
        inSlice++
        // commit() applies to the state before it returns: from here the store has the counts.
        perKey.delete(keyId)
        const target = apiKeyKey(keyId)
        if (this.store.fieldValue(target, 'hash') === undefined) continue // not (yet) here
        const changes = keyActivityChanges(this.store, keyId, e.counts, e.last)
        if (changes.length === 0) continue
        writes.push(this.store.commit(target, changes).then(() => { this.counters.opsWritten++ }, (err: unknown) => {
          this.log.error('api key activity flush failed', { key_id: keyId, err })
        }))
      }
    } finally {
      this.unwritten = new Map()
    }
    await Promise.all(writes)
  }

  // lastSeen only bridges the gap between a flush and the store read; keep it bounded.
  private lastSeenTrim (): void {
    if (this.lastSeen.size > this.maxPending) this.lastSeen.clear()
  }

  /** Starts the periodic flush (unref'd timer: it never keeps the process alive). */
  start (): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => { void this.flush() }, this.intervalMs)
    this.timer.unref()
  }

  /** Stops the timer and writes what is pending. */
  async stop (): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    await this.flush()
  }

  /** Counters for metrics and tests. */
  stats (): ApiKeyActivityStats {
    return { pendingKeys: this.uses.size, ...this.counters }
  }
}
