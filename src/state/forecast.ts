/**
 * Billing-period and forecast arithmetic: pure functions of numbers and times (ms since
 * epoch), no store, so they are unit-tested exactly. `usage-summary.ts` feeds them from
 * the usage and consumption windows.
 */

/** A billing period, `[start, end)` in ms. */
export interface Period {
  start: number
  end: number
}

const DAY_MS = 86_400_000

/** Start of the UTC calendar month containing `ms`. */
export function monthStart (ms: number): number {
  const d = new Date(ms)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
}

/** The same instant one calendar month earlier (UTC; clamped to the month's last day). */
export function oneMonthBefore (ms: number): number {
  const d = new Date(ms)
  const y = d.getUTCFullYear()
  const m = d.getUTCMonth() - 1
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate()
  return Date.UTC(y, m, Math.min(d.getUTCDate(), lastDay), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds())
}

/**
 * The billing period containing `now`. A subscription whose `period_end` lies ahead bills
 * the month that ends there; without one (free tier), or once it has passed without a
 * renewal event, the period is the UTC calendar month.
 */
export function periodAt (now: number, periodEnd: number | null): Period {
  if (periodEnd !== null && periodEnd > now) {
    const start = oneMonthBefore(periodEnd)
    // A period_end more than a month ahead (e.g. an annual plan): bill the month ending there
    // only once we are in it; before that, the calendar month is the useful frame.
    if (start <= now) return { start, end: periodEnd }
  }
  const start = monthStart(now)
  const next = new Date(start)
  return { start, end: Date.UTC(next.getUTCFullYear(), next.getUTCMonth() + 1, 1) }
}

/**
 * Average rate (units per ms) of `amount` observed over the last `lookbackMs`, but never
 * over more time than the observed history (`historyMs`, e.g. the account's age): a
 * one-hour-old account that spent 100 is spending 100 an hour, not 100 a day. Returns 0
 * when nothing was observed or no time has passed.
 */
export function ratePerMs (amount: number, lookbackMs: number, historyMs: number): number {
  const span = Math.min(lookbackMs, historyMs)
  if (!(amount > 0) || !(span > 0)) return 0
  return amount / span
}

/** Usage so far plus `rate` continued until the period ends (never below usage so far). */
export function projectToPeriodEnd (usedSoFar: number, rate: number, now: number, period: Period): number {
  const remaining = Math.max(0, period.end - Math.max(now, period.start))
  return usedSoFar + Math.max(0, rate) * remaining
}

/**
 * Days until `balance` runs out at `spendRate` credits per ms: null when nothing is being
 * spent (it never runs out), 0 when the balance is already exhausted.
 */
export function daysUntilExhausted (balance: number, spendRate: number): number | null {
  if (balance <= 0) return 0
  if (!(spendRate > 0)) return null
  return balance / spendRate / DAY_MS
}

/** What the forecast is computed from. */
export interface ForecastInput {
  now: number
  period: Period
  /** Tokens used since the period started. */
  tokensThisPeriod: number
  /** Tokens and credits used in the lookback window. */
  recentTokens: number
  recentCredits: number
  lookbackMs: number
  /** How long the account has existed (bounds the lookback). */
  historyMs: number
  balance: number
}

export interface Forecast {
  period_start: number
  period_end: number
  lookback_ms: number
  tokens_this_period: number
  tokens_per_day: number
  projected_tokens_period: number
  credits_per_day: number
  balance: number
  days_until_credits_exhausted: number | null
}

/** The forecast: recent rates projected over the rest of the period and onto the balance. */
export function forecast (i: ForecastInput): Forecast {
  const tokenRate = ratePerMs(i.recentTokens, i.lookbackMs, i.historyMs)
  const creditRate = ratePerMs(i.recentCredits, i.lookbackMs, i.historyMs)
  return {
    period_start: i.period.start,
    period_end: i.period.end,
    lookback_ms: Math.max(0, Math.min(i.lookbackMs, i.historyMs)),
    tokens_this_period: i.tokensThisPeriod,
    tokens_per_day: tokenRate * DAY_MS,
    projected_tokens_period: Math.round(projectToPeriodEnd(i.tokensThisPeriod, tokenRate, i.now, i.period)),
    credits_per_day: creditRate * DAY_MS,
    balance: i.balance,
    days_until_credits_exhausted: daysUntilExhausted(i.balance, creditRate),
  }
}
