/**
 * GCRA (generic cell rate algorithm) rate limiter.
 *
 * Each key costs one number: its theoretical arrival time (TAT), the instant at which the
 * key's bucket would be full again. A request of cost `c` advances the TAT by `c`
 * emission intervals (T = 1 s / rate) and is allowed when the new TAT is no more than
 * `burst * T` ahead of now. A key whose TAT is in the past is indistinguishable from an
 * absent key, so evicting it loses nothing: that is what keeps memory bounded without
 * ever granting extra requests.
 *
 * Koa-free: the middleware and the API decide which key and limit to use.
 */
import { FormStateError } from '../errors.ts'

/** A limit: sustained rate and how many requests may arrive at once. */
export interface RateLimit {
  /** Sustained requests per second (> 0). */
  readonly ratePerSec: number
  /** Bucket size: requests allowed back to back from idle (integer >= 1). */
  readonly burst: number
}

/** The outcome of one {@link GcraRateLimiter.check}. */
export interface RateLimitResult {
  readonly allowed: boolean
  /** The burst size (what `X-RateLimit-Limit` reports). */
  readonly limit: number
  /** Requests of cost 1 that would still be allowed right now. */
  readonly remaining: number
  /** Whole seconds until the bucket is full again (0 when full). */
  readonly resetSeconds: number
  /** Whole seconds to wait before this request would be allowed (0 when allowed). */
  readonly retryAfterSeconds: number
}

/** Construction options; all optional. */
export interface RateLimiterOptions {
  /** Clock in milliseconds; injected by tests. Default `Date.now`. */
  readonly now?: () => number
  /** Run a bounded sweep every this many checks. Default 64. */
  readonly sweepEvery?: number
  /** Entries inspected per sweep. Default 2 × sweepEvery, so reclaiming outpaces inserting. */
  readonly sweepBatch?: number
  /** Also sweep on an unref'd timer at this interval (ms) once `start()` is called. Default 10 000. */
  readonly sweepIntervalMs?: number
  /** Hard cap on tracked keys; past it the oldest entry is dropped. Default 1 000 000. */
  readonly maxKeys?: number
}

/** Counters for metrics and tests. */
export interface RateLimiterStats {
  readonly size: number
  readonly checks: number
  /** Idle entries reclaimed by sweeps (lossless). */
  readonly evictedIdle: number
  /** Live entries dropped because `maxKeys` was reached (fails open for that key). */
  readonly evictedForced: number
}

// Absorbs floating-point error in (burst*T - delay) / T so 3 - 1e-12 still counts as 3.
const EPS = 1e-9

/** A GCRA limiter holding one TAT per key. */
export class GcraRateLimiter {
  private readonly tats = new Map<string, number>()
  private readonly clock: () => number
  private readonly sweepEvery: number
  private readonly sweepBatch: number
  private readonly sweepIntervalMs: number
  private readonly maxKeys: number
  private cursor: IterableIterator<[string, number]> | undefined
  private timer: NodeJS.Timeout | undefined
  private checks = 0
  private evictedIdle = 0
  private evictedForced = 0

  constructor (opts: RateLimiterOptions = {}) {
    this.clock = opts.now ?? Date.now
    this.sweepEvery = positiveInt(opts.sweepEvery ?? 64, 'sweepEvery')
    this.sweepBatch = positiveInt(opts.sweepBatch ?? this.sweepEvery * 2, 'sweepBatch')
    this.sweepIntervalMs = positiveInt(opts.sweepIntervalMs ?? 10_000, 'sweepIntervalMs')
    this.maxKeys = positiveInt(opts.maxKeys ?? 1_000_000, 'maxKeys')
  }

  /**
   * Counts a request of `cost` against `key` under `limit` and says whether it may proceed.
   * A refused request does not consume capacity.
   */
  check (key: string, limit: RateLimit, cost = 1, now: number = this.clock()): RateLimitResult {
    const { ratePerSec, burst } = limit
    if (!(ratePerSec > 0) || !Number.isFinite(ratePerSec)) throw new RangeError('ratePerSec must be a positive finite number')
    positiveInt(burst, 'burst')
    if (!Number.isInteger(cost) || cost < 1 || cost > burst) throw new RangeError('cost must be an integer in [1, burst]')

    if (++this.checks % this.sweepEvery === 0) this.sweep(this.sweepBatch, now)

    const interval = 1000 / ratePerSec
    const window = burst * interval
    const stored = this.tats.get(key)
    const tat = stored === undefined || stored < now ? now : stored
    const newTat = tat + cost * interval
    const allowAt = newTat - window

    if (allowAt > now) {
      return {
        allowed: false,
        limit: burst,
        remaining: Math.max(0, Math.floor((window - (tat - now)) / interval + EPS)),
        resetSeconds: Math.ceil((tat - now) / 1000),
        retryAfterSeconds: Math.max(1, Math.ceil((allowAt - now) / 1000)),
      }
    }
    if (stored === undefined) this.makeRoom(now)
    this.tats.set(key, newTat)
    return {
      allowed: true,
      limit: burst,
      remaining: Math.max(0, Math.floor((window - (newTat - now)) / interval + EPS)),
      resetSeconds: Math.ceil((newTat - now) / 1000),
      retryAfterSeconds: 0,
    }
  }

  /**
   * Inspects up to `max` entries from where the last sweep stopped and deletes the idle
   * ones (TAT not after `now`). Returns how many were deleted.
   */
  sweep (max: number = this.sweepBatch, now: number = this.clock()): number {
    let deleted = 0
    for (let seen = 0; seen < max && this.tats.size > 0; seen++) {
      this.cursor ??= this.tats.entries()
      const next = this.cursor.next()
      if (next.done === true) {
        this.cursor = undefined
        continue
      }
      const [key, tat] = next.value
      if (tat <= now) {
        this.tats.delete(key)
        deleted++
      }
    }
    this.evictedIdle += deleted
    return deleted
  }

  /** Starts the background sweep timer (unref'd: it never keeps the process alive). */
  start (): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => { this.sweep(this.sweepBatch * 64) }, this.sweepIntervalMs)
    this.timer.unref()
  }

  /** Stops the background sweep timer. */
  stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  /** Current size and counters. */
  stats (): RateLimiterStats {
    return { size: this.tats.size, checks: this.checks, evictedIdle: this.evictedIdle, evictedForced: this.evictedForced }
  }

  // Before inserting a new key at the cap: reclaim idle entries, and if all are live drop
  // the oldest-inserted one. Dropping a live entry fails open for that key, which is the
  // price of a hard memory bound under a flood of distinct keys.
  private makeRoom (now: number): void {
    if (this.tats.size < this.maxKeys) return
    this.sweep(this.sweepBatch, now)
    while (this.tats.size >= this.maxKeys) {
      const oldest = this.tats.keys().next()
      if (oldest.done === true) break
      this.tats.delete(oldest.value)
      this.evictedForced++
    }
  }
}

function positiveInt (n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer`)
  return n
}

/**
 * The standard rate-limit headers for a result. `X-RateLimit-Reset` is a delta in
 * seconds (time until the bucket is full), not an epoch; `Retry-After` only on refusal.
 */
export function rateLimitHeaders (r: RateLimitResult): Record<string, string> {
  const h: Record<string, string> = {
    'X-RateLimit-Limit': String(r.limit),
    'X-RateLimit-Remaining': String(r.remaining),
    'X-RateLimit-Reset': String(r.resetSeconds),
  }
  if (!r.allowed) h['Retry-After'] = String(r.retryAfterSeconds)
  return h
}

/** The 429 to throw for a refused result, carrying its headers and `retry_after`. */
export function rateLimitError (r: RateLimitResult): FormStateError {
  return new FormStateError('rate_limited', 'rate limit exceeded', {
    headers: rateLimitHeaders(r),
    extra: { retry_after: r.retryAfterSeconds },
  })
}
