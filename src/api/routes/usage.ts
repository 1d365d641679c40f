/**
 * Usage: `GET /usage/stats` (per model, per agent and totals over a time range, in
 * minute/hour/day windows) and `GET /usage/forecast` (recent rate → projected tokens this
 * period, days until the credits run out). Scope `usage:read`; who may read which account
 * is decided in `account-access.ts` (own account; project admins any of the project;
 * services any).
 */
import { z } from 'zod'
import { usageForecast, usageStats, checkStatsRange } from '../../state/usage-summary.ts'
import { bucketOf, bucketStart, RESOLUTIONS, type Resolution } from '../../state/windows.ts'
import { accountFor } from '../account-access.ts'
import { accountQuery, metricsSchema, timeQuery, windowName } from '../billing-schemas.ts'
import type { ApiDeps } from '../deps.ts'
import { defineRoute, type RouteTable } from '../openapi.ts'

export function registerUsageRoutes (table: RouteTable, deps: ApiDeps): void {
  const { store, log } = deps

  table.add(defineRoute({
    method: 'GET',
    path: '/usage/stats',
    summary: 'Usage per model, per agent and in total over a time range',
    description: 'Counts windows whose start lies in [from, to). from/to are epoch ms or ISO 8601; ' +
      'from must be before to and no older than the window size is kept (minute: 2 h, hour: 7 d, day: 90 d). ' +
      'Defaults: window hour, from the oldest kept window, to the end of the current one.',
    auth: ['jwt', 'api_key', 'service'],
    scopes: ['usage:read'],
    query: z.strictObject({
      ...accountQuery,
      window: windowName.optional(),
      from: timeQuery.optional(),
      to: timeQuery.optional(),
    }),
    errors: ['not_found', 'wrong_project'],
    response: z.object({
      account_id: z.string(),
      window: z.string(),
      from: z.number(),
      to: z.number(),
      models: z.array(z.object({ model: z.string(), metrics: metricsSchema })),
      agents: z.array(z.object({ agent: z.string(), metrics: metricsSchema })),
      totals: metricsSchema,
      buckets: z.array(z.object({ start: z.number(), metrics: metricsSchema })),
    }),
    handler: ({ principal, query }) => {
      const res = (query.window ?? 'hour') as Resolution
      const now = deps.now()
      const from = query.from ?? bucketStart(res, bucketOf(res, now) - RESOLUTIONS[res].retention + 1)
      const to = query.to ?? bucketStart(res, bucketOf(res, now) + 1)
      checkStatsRange(res, from, to, now)
      const id = accountFor(store, log, principal, { mode: 'read', requested: query.account_id, action: 'GET /usage/stats' })
      return { account_id: id, ...usageStats(store, id, res, from, to, now) }
    },
  }))

  table.add(defineRoute({
    method: 'GET',
    path: '/usage/forecast',
    summary: 'Projected tokens this period and days until the credits run out',
    description: 'Rates are measured over the last 24 hour windows (or the account\'s life if shorter). ' +
      'days_until_credits_exhausted is null when nothing is being spent.',
    auth: ['jwt', 'api_key', 'service'],
    scopes: ['usage:read'],
    query: z.strictObject(accountQuery),
    errors: ['not_found', 'wrong_project'],
    response: z.object({
      account_id: z.string(),
      period_start: z.number(),
      period_end: z.number(),
      lookback_ms: z.number(),
      tokens_this_period: z.number(),
      tokens_per_day: z.number(),
      projected_tokens_period: z.number(),
      credits_per_day: z.number(),
      balance: z.number(),
      days_until_credits_exhausted: z.number().nullable(),
    }),
    handler: ({ principal, query }) => {
      const id = accountFor(store, log, principal, { mode: 'read', requested: query.account_id, action: 'GET /usage/forecast' })
      return { account_id: id, ...usageForecast(store, id, deps.now()) }
    },
  }))
}
