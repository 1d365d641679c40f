/**
 * Usage counters: per model (input/output tokens, requests) and per agent (invocations by
 * operation), in minute/hour/day windows with retention. One windowed G-counter
 * (crdt/wcounter.ts) per (metric, subject) holds every window of every resolution, with a
 * per-replica entry per bucket so concurrent recording on several nodes adds up. Fields:
 * `u/<metric>/<subject>` with subject `model:<id>` or `agent:<id>`, and `spent` for the
 * credits consumed per window. Each write carries the writer's horizon (the oldest bucket
 * still retained at its time), so expired windows are dropped as the account is used:
 * an account's state is bounded by the retention, not by its age.
 */
import { type WindowedCounter, type WindowedIncrement, windowedEach, windowedIncrement } from '../../crdt/wcounter.ts'
import type { Change, ReplicaStore } from '../store/types.ts'
import { accountKey, fieldState, KIND } from './model.ts'
import { bucketOf, bucketStart, horizonOf, RESOLUTION_NAMES, type Resolution, RESOLUTIONS } from './windows.ts'

export type Subject = { type: 'model' | 'agent', id: string }

export interface UsageAmounts {
  /** metric → amount, e.g. { tokens_in: 120, tokens_out: 40, requests: 1 } or { 'invocations:run': 1 }. */
  [metric: string]: number
}

/** The field holding every window of one metric for one subject. */
export function usageField (metric: string, s: Subject): string {
  return `u/${metric}/${s.type}:${s.id}`
}

/** The field holding the credits consumed per window. */
export const SPENT_FIELD = 'spent'

const SLOTS = RESOLUTION_NAMES.map((res) => RESOLUTIONS[res].slot)
/** Buckets and horizons per resolution at `lastAt`: a metered call asks four times for one `at`. */
let lastAt = NaN
const lastBuckets: number[] = []
const lastHorizons: number[] = []

/** Increments of `n` at time `at` in every resolution, each with its horizon at `at`. */
function increments (n: number, at: number): WindowedIncrement[] {
  if (at !== lastAt) {
    for (let i = 0; i < RESOLUTION_NAMES.length; i++) {
      lastBuckets[i] = bucketOf(RESOLUTION_NAMES[i]!, at)
      lastHorizons[i] = horizonOf(RESOLUTION_NAMES[i]!, at)
    }
    lastAt = at
  }
  const out = new Array<WindowedIncrement>(SLOTS.length)
  for (let i = 0; i < SLOTS.length; i++) out[i] = { slot: SLOTS[i]!, bucket: lastBuckets[i]!, n, horizon: lastHorizons[i]! }
  return out
}

/** The change adding `n` at `at` to the windowed counter `field`, or undefined when it changes nothing. */
function windowChange (store: ReplicaStore, target: string, field: string, n: number, at: number): Change | undefined {
  const s = fieldState<WindowedCounter>(store, target, field) ?? []
  const delta = windowedIncrement(s, store.replicaId, increments(n, at))
  return delta === undefined ? undefined : { field, kind: KIND.windows, delta }
}

/** Changes adding `amounts` for `subject` at time `at` in every resolution: one per metric. */
export function usageChanges (store: ReplicaStore, accountId: string, subject: Subject, amounts: UsageAmounts, at: number): Change[] {
  const target = accountKey(accountId)
  const out: Change[] = []
  for (const metric in amounts) {
    const n = amounts[metric]!
    if (!(n > 0)) continue
    const c = windowChange(store, target, usageField(metric, subject), n, at)
    if (c !== undefined) out.push(c)
  }
  return out
}

/** Changes adding `credits` spent at `at` to the consumption windows (one change). */
export function spendWindowChanges (store: ReplicaStore, accountId: string, credits: number, at: number): Change[] {
  if (credits <= 0) return []
  const c = windowChange(store, accountKey(accountId), SPENT_FIELD, credits, at)
  return c === undefined ? [] : [c]
}

export interface UsageRow {
  metric: string
  subject: Subject
  resolution: Resolution
  start: number
  value: number
}

/**
 * Calls `fn(start, total)` for the buckets of `res` in a windowed counter whose start lies
 * in `[from, to)` and that are retained at `now` (a counter not written lately still holds
 * buckets its horizon has not caught up with: they are hidden here).
 */
function eachWindow (s: WindowedCounter, res: Resolution, from: number, to: number, now: number, fn: (start: number, total: number) => void): void {
  const lo = Math.max(horizonOf(res, now), Math.ceil(from / RESOLUTIONS[res].sizeMs))
  const hi = Math.ceil(to / RESOLUTIONS[res].sizeMs)
  windowedEach(s, RESOLUTIONS[res].slot, lo, hi, (bucket, total) => fn(bucketStart(res, bucket), total))
}

/** Usage rows of one resolution with bucket start in [from, to), retained at `now`. */
export function usageRows (store: ReplicaStore, accountId: string, res: Resolution, from: number, to: number, now: number): UsageRow[] {
  const entity = store.entity(accountKey(accountId))
  if (entity === undefined) return []
  const rows: UsageRow[] = []
  for (const [field, fs] of entity) {
    if (!field.startsWith('u/') || fs.kind !== KIND.windows) continue
    const cut = field.lastIndexOf('/')
    const metric = field.slice(2, cut)
    const subject = field.slice(cut + 1)
    const colon = subject.indexOf(':')
    const type = subject.slice(0, colon) as Subject['type']
    const id = subject.slice(colon + 1)
    eachWindow(fs.state as WindowedCounter, res, from, to, now, (start, value) => {
      rows.push({ metric, subject: { type, id }, resolution: res, start, value })
    })
  }
  return rows
}

/** Consumption per window: [{start, credits}] for one resolution in [from, to), ascending. */
export function spendRows (store: ReplicaStore, accountId: string, res: Resolution, from: number, to: number, now: number): Array<{ start: number, credits: number }> {
  const s = fieldState<WindowedCounter>(store, accountKey(accountId), SPENT_FIELD)
  const out: Array<{ start: number, credits: number }> = []
  if (s !== undefined) eachWindow(s, res, from, to, now, (start, credits) => out.push({ start, credits }))
  return out
}
