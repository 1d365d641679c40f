// Billing-period and forecast arithmetic (src/state/forecast.ts): pure functions, exact values.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { daysUntilExhausted, forecast, monthStart, oneMonthBefore, periodAt, projectToPeriodEnd, ratePerMs } from '../../src/state/forecast.ts'

// Replay the property tests with FORMSTATE_SEED=<seed>.
const SEED = process.env.FORMSTATE_SEED !== undefined && process.env.FORMSTATE_SEED !== '' ? Number(process.env.FORMSTATE_SEED) : Math.floor(Math.random() * 2 ** 31)
console.log(`forecast properties seed ${SEED} (replay: FORMSTATE_SEED=${SEED})`)

const DAY = 86_400_000
const HOUR = 3_600_000
const at = (iso: string): number => Date.parse(iso)

test('monthStart and oneMonthBefore follow the UTC calendar, clamping to the month\'s last day', () => {
  assert.equal(monthStart(at('2025-03-17T12:34:56Z')), at('2025-03-01T00:00:00Z'))
  assert.equal(oneMonthBefore(at('2025-03-17T12:00:00Z')), at('2025-02-17T12:00:00Z'))
  assert.equal(oneMonthBefore(at('2025-03-31T08:00:00Z')), at('2025-02-28T08:00:00Z'))
  assert.equal(oneMonthBefore(at('2024-03-31T08:00:00Z')), at('2024-02-29T08:00:00Z'))
  assert.equal(oneMonthBefore(at('2025-01-15T00:00:00Z')), at('2024-12-15T00:00:00Z'))
})

test('periodAt: the month ending at a future period_end, else the calendar month', () => {
  const now = at('2025-03-10T00:00:00Z')
  assert.deepEqual(periodAt(now, at('2025-03-20T00:00:00Z')), { start: at('2025-02-20T00:00:00Z'), end: at('2025-03-20T00:00:00Z') })
  const calendar = { start: at('2025-03-01T00:00:00Z'), end: at('2025-04-01T00:00:00Z') }
  assert.deepEqual(periodAt(now, null), calendar)
  assert.deepEqual(periodAt(now, at('2025-03-01T00:00:00Z')), calendar, 'a past period_end (no renewal yet)')
  assert.deepEqual(periodAt(now, at('2026-01-01T00:00:00Z')), calendar, 'period_end more than a month ahead')
  assert.deepEqual(periodAt(at('2025-12-31T23:59:59Z'), null), { start: at('2025-12-01T00:00:00Z'), end: at('2026-01-01T00:00:00Z') })
})

test('periodAt always contains now', () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 4_000_000_000_000 }),
    fc.option(fc.integer({ min: 0, max: 4_000_000_000_000 }), { nil: null }),
    (now, end) => {
      const p = periodAt(now, end)
      assert.ok(p.start <= now && now < p.end, JSON.stringify({ now, end, p }))
    },
  ), { numRuns: 500, seed: SEED })
})

test('ratePerMs: over the lookback, or the shorter history; 0 when nothing happened', () => {
  assert.equal(ratePerMs(2400, 24 * HOUR, 100 * DAY), 100 / HOUR)
  assert.equal(ratePerMs(100, 24 * HOUR, HOUR), 100 / HOUR, 'a one-hour-old account')
  assert.equal(ratePerMs(0, 24 * HOUR, DAY), 0)
  assert.equal(ratePerMs(10, 0, DAY), 0)
  assert.equal(ratePerMs(10, DAY, 0), 0)
})

test('projectToPeriodEnd continues the rate over the remaining period only', () => {
  const period = { start: 0, end: 10 * DAY }
  assert.equal(projectToPeriodEnd(500, 100 / DAY, 4 * DAY, period), 500 + 600)
  assert.equal(projectToPeriodEnd(500, 100 / DAY, 12 * DAY, period), 500, 'past the end: nothing more')
  assert.equal(projectToPeriodEnd(500, 0, 4 * DAY, period), 500)
  assert.equal(projectToPeriodEnd(500, -5, 4 * DAY, period), 500, 'a negative rate is treated as none')
})

test('daysUntilExhausted: null when nothing is spent, 0 when already out', () => {
  assert.equal(daysUntilExhausted(1000, 100 / DAY), 10)
  assert.equal(daysUntilExhausted(1000, 0), null)
  assert.equal(daysUntilExhausted(0, 100 / DAY), 0)
  assert.equal(daysUntilExhausted(-3, 0), 0)
  assert.equal(daysUntilExhausted(50, 100 / DAY), 0.5)
})

test('forecast combines the pieces', () => {
  const now = at('2025-03-11T00:00:00Z')
  const period = periodAt(now, null) // March: 31 days, 10 elapsed, 21 left
  const f = forecast({ now, period, tokensThisPeriod: 10_000, recentTokens: 2_400, recentCredits: 48, lookbackMs: DAY, historyMs: 365 * DAY, balance: 480 })
  assert.equal(f.tokens_per_day, 2_400)
  assert.equal(f.projected_tokens_period, 10_000 + 21 * 2_400)
  assert.equal(f.credits_per_day, 48)
  assert.equal(f.days_until_credits_exhausted, 10)
  assert.equal(f.lookback_ms, DAY)
  assert.deepEqual([f.period_start, f.period_end], [period.start, period.end])

  const idle = forecast({ now, period, tokensThisPeriod: 7, recentTokens: 0, recentCredits: 0, lookbackMs: DAY, historyMs: DAY, balance: 480 })
  assert.equal(idle.days_until_credits_exhausted, null)
  assert.equal(idle.projected_tokens_period, 7)
})

test('projection is monotone in the rate and never below usage so far', () => {
  fc.assert(fc.property(
    fc.nat(1e9), fc.nat(1e6), fc.nat(1e6), fc.integer({ min: 0, max: 40 * DAY }),
    (used, r1, r2, now) => {
      const period = { start: 0, end: 30 * DAY }
      const [lo, hi] = r1 <= r2 ? [r1, r2] : [r2, r1]
      const a = projectToPeriodEnd(used, lo / DAY, now, period)
      const b = projectToPeriodEnd(used, hi / DAY, now, period)
      assert.ok(used <= a && a <= b)
    },
  ), { numRuns: 300, seed: SEED })
})
