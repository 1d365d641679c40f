/**
 * zod schemas shared by the account, billing and usage routes: ids, times, and the
 * response shapes of accounts and subscriptions (also what `/openapi.json` documents).
 */
import { z } from 'zod'
import { ID_PATTERN } from '../state/model.ts'
import { SUBSCRIPTION_STATUSES } from '../state/subscription.ts'
import { TIERS } from '../state/tiers.ts'
import { RESOLUTION_NAMES } from '../state/windows.ts'
import { ACCOUNT_ID_RE } from './account-access.ts'

/** Latest time accepted anywhere (the largest valid JS Date). */
export const MAX_TIME_MS = 8_640_000_000_000_000

export const accountId = z.string().regex(ACCOUNT_ID_RE, 'an account id: acc_ followed by 24 hex digits')

/** Client-chosen ids (checkout sessions, idempotency keys). */
export const clientId = z.string().regex(ID_PATTERN, 'letters, digits and . _ : -, at most 128')

const isoDateTime = z.iso.datetime({ offset: true })
const isoDate = z.iso.date()

/** Parses epoch milliseconds (digits) or an ISO 8601 date / date-time; undefined when neither. */
export function parseTime (s: string): number | undefined {
  let ms: number
  if (/^[0-9]{1,16}$/.test(s)) ms = Number(s)
  else if (isoDateTime.safeParse(s).success || isoDate.safeParse(s).success) ms = Date.parse(s)
  else return undefined
  return Number.isFinite(ms) && ms >= 0 && ms <= MAX_TIME_MS ? ms : undefined
}

/** A time in a query string: epoch ms or ISO 8601, as ms. */
export const timeQuery = z.string().max(40).describe('epoch milliseconds or an ISO 8601 date / date-time').transform((s, ctx) => {
  const ms = parseTime(s)
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'expected epoch milliseconds or an ISO 8601 date / date-time' })
    return z.NEVER
  }
  return ms
})

/** A time in a JSON body: an integer of epoch ms, or an ISO 8601 string. */
export const timeBody = z.union([z.number().int().min(0).max(MAX_TIME_MS), timeQuery])

export const windowName = z.enum(RESOLUTION_NAMES as [string, ...string[]]).describe('window size: minute, hour or day')

export const subscriptionSchema = z.object({
  tier: z.enum(TIERS),
  status: z.enum(SUBSCRIPTION_STATUSES),
  period_end: z.number().nullable(),
  stripe_customer_id: z.string().nullable(),
  stripe_subscription_id: z.string().nullable(),
  event_time: z.number(),
})

export const accountViewSchema = z.object({
  id: z.string(),
  project_id: z.string(),
  owner: z.string(),
  created_at: z.number(),
  tier: z.enum(TIERS).describe('the plan in force (a canceled subscription is free)'),
  status: z.enum(SUBSCRIPTION_STATUSES),
  subscription: subscriptionSchema,
  credits: z.object({ balance: z.number(), granted: z.number(), spent: z.number() }),
  agents: z.object({ hired: z.array(z.string()), used: z.number(), available: z.number().nullable().describe('free slots; null = unlimited') }),
  api_keys: z.object({ count: z.number(), limit: z.number().nullable() }),
})

export const grantSchema = z.object({
  id: z.string(),
  amount: z.number(),
  kind: z.string(),
  reason: z.string(),
  by: z.string(),
  at: z.number(),
})

export const metricsSchema = z.record(z.string(), z.number())

/** `account_id` as an optional query parameter (services must send it; users may omit it). */
export const accountQuery = { account_id: accountId.optional().describe('the account; defaults to your own (services must name one)') }
