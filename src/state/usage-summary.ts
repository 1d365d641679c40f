/**
 * Read models over the usage and consumption windows: stats per model, per agent and in
 * total for a time range; the current billing period's summary; and the forecast inputs.
 * Metrics are summed generically (whatever `usageChanges` recorded); tokens are the
 * {@link TOKEN_METRICS}.
 */
import { FormStateError } from '../errors.ts'
import type { ReplicaStore } from '../store/types.ts'
import { accountKey, lwwValue } from './model.ts'
import { balanceOf } from './credits.ts'
import { forecast, periodAt, type Forecast, type Period } from './forecast.ts'
import { subscriptionOf } from './subscription.ts'
import { spendRows, usageRows } from './usage.ts'
import { bucketOf, bucketStart, RESOLUTIONS, type Resolution } from './windows.ts'

/** Metrics that count tokens (what the metered model calls record). */
export const TOKEN_METRICS: readonly string[] = ['tokens_in', 'tokens_out']

export type MetricTotals = Record<string, number>

export interface UsageStats {
  window: Resolution
  from: number
  to: number
  models: Array<{ model: string, metrics: MetricTotals }>
  agents: Array<{ agent: string, metrics: MetricTotals }>
  totals: MetricTotals
  /** Per window bucket (start ms), ascending; only buckets with usage. */
  buckets: Array<{ start: number, metrics: MetricTotals }>
}

/** How far back a resolution's windows are kept, in ms. */
export function retentionMs (res: Resolution): number {
  return RESOLUTIONS[res].retention * RESOLUTIONS[res].sizeMs
}

/**
 * Checks a stats range: `from < to`, `from` no older than the resolution keeps (asking for
 * windows already dropped would silently answer zeros), and the range no longer than the
 * retention. 400 naming the field.
 */
export function checkStatsRange (res: Resolution, from: number, to: number, now: number): void {
  if (!(from < to)) throw new FormStateError('invalid_field', '`from` must be before `to`', { field: 'from' })
  const oldest = now - retentionMs(res)
  if (from < oldest) {
    throw new FormStateError('invalid_field', `${res} windows are kept for ${RESOLUTIONS[res].retention} ${res}s; \`from\` must be at or after ${new Date(oldest).toISOString()}`, { field: 'from', extra: { oldest } })
  }
  // One window of slack: a range may end at the end of the current, partial window.
  if (to - from > retentionMs(res) + RESOLUTIONS[res].sizeMs) {
    throw new FormStateError('invalid_field', `a ${res} range spans at most ${RESOLUTIONS[res].retention} ${res}s`, { field: 'to' })
  }
}

function add (into: MetricTotals, metric: string, n: number): void {
  into[metric] = (into[metric] ?? 0) + n
}

function sortedEntries<T> (m: Map<string, T>): Array<[string, T]> {
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}

/** Usage in buckets whose start lies in `[from, to)`, retained at `now`. */
export function usageStats (store: ReplicaStore, accountId: string, res: Resolution, from: number, to: number, now: number): UsageStats {
  const models = new Map<string, MetricTotals>()
  const agents = new Map<string, MetricTotals>()
  const buckets = new Map<number, MetricTotals>()
  const totals: MetricTotals = {}
  for (const row of usageRows(store, accountId, res, from, to, now)) {
    const bySubject = row.subject.type === 'model' ? models : agents
    let s = bySubject.get(row.subject.id)
    if (s === undefined) bySubject.set(row.subject.id, (s = {}))
    add(s, row.metric, row.value)
    add(totals, row.metric, row.value)
    let b = buckets.get(row.start)
    if (b === undefined) buckets.set(row.start, (b = {}))
    add(b, row.metric, row.value)
  }
  return {
    window: res,
    from,
    to,
    models: sortedEntries(models).map(([model, metrics]) => ({ model, metrics })),
    agents: sortedEntries(agents).map(([agent, metrics]) => ({ agent, metrics })),
    totals,
    buckets: [...buckets.entries()].sort(([a], [b]) => a - b).map(([start, metrics]) => ({ start, metrics })),
  }
}

/** Sum of the token metrics in `totals`. */
export function tokensIn (totals: MetricTotals): number {
  let n = 0
  for (const m of TOKEN_METRICS) n += totals[m] ?? 0
  return n
}

export interface PeriodUsage {
  period: Period
  models: UsageStats['models']
  agents: UsageStats['agents']
  totals: MetricTotals
  tokens: number
  credits_spent: number
}

/**
 * Usage in the current billing period, from day windows: the day containing the period's
 * start counts in full (day buckets are the finest kept for a whole period).
 */
export function periodUsage (store: ReplicaStore, accountId: string, now: number): PeriodUsage {
  const period = periodAt(now, subscriptionOf(store, accountId).period_end)
  const from = bucketStart('day', bucketOf('day', period.start))
  const stats = usageStats(store, accountId, 'day', from, period.end, now)
  const credits = spendRows(store, accountId, 'day', from, period.end, now).reduce((n, r) => n + r.credits, 0)
  return { period, models: stats.models, agents: stats.agents, totals: stats.totals, tokens: tokensIn(stats.totals), credits_spent: credits }
}

/** Hours of recent activity the forecast's rates are measured over. */
export const FORECAST_LOOKBACK_HOURS = 24

/**
 * The forecast for an account at `now`: token and credit rates over the last
 * {@link FORECAST_LOOKBACK_HOURS} hour windows (the current, partial one included),
 * projected to the end of the billing period and onto the balance.
 */
export function usageForecast (store: ReplicaStore, accountId: string, now: number): Forecast {
  const from = bucketStart('hour', bucketOf('hour', now) - (FORECAST_LOOKBACK_HOURS - 1))
  const to = now + 1
  const recent = usageStats(store, accountId, 'hour', from, to, now)
  const recentCredits = spendRows(store, accountId, 'hour', from, to, now).reduce((n, r) => n + r.credits, 0)
  const created = (lwwValue(store, accountKey(accountId), 'created_at') as number | undefined) ?? from
  // At least a minute of history, so spending in an account's first second is not a rate of 0/0.
  const historyMs = Math.max(60_000, now - created)
  const period = periodUsage(store, accountId, now)
  return forecast({
    now,
    period: period.period,
    tokensThisPeriod: period.tokens,
    recentTokens: tokensIn(recent.totals),
    recentCredits,
    lookbackMs: now - from,
    historyMs,
    balance: balanceOf(store, accountId),
  })
}
