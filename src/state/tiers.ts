/**
 * Tiers and their limits (`BillingConfig`): defaults here, overridable by a JSON file
 * (`--billing-config`). Parsed once at start-up; everything else receives the typed object.
 */
import { z } from 'zod'

export const TIERS = ['free', 'pro', 'enterprise'] as const
export type Tier = (typeof TIERS)[number]

const rateLimitSchema = z.strictObject({
  per_second: z.number().positive().max(1_000_000),
  burst: z.number().int().positive().max(10_000_000),
})

const tierSchema = z.strictObject({
  /** Credits granted at the start of each paid period (and once on account creation for free). */
  included_credits: z.number().int().min(0).max(1e12),
  /** Concurrent hired agents; null = unlimited. */
  agent_slots: z.number().int().min(0).max(1_000_000).nullable(),
  /** Active API keys per account; null = unlimited. */
  api_key_limit: z.number().int().min(0).max(1_000_000).nullable(),
  rate_limit: rateLimitSchema,
})

export const billingConfigSchema = z.strictObject({
  tiers: z.strictObject({ free: tierSchema, pro: tierSchema, enterprise: tierSchema }),
  /** Default prices in credits per 1,000 tokens, for models without their own pricing. */
  default_price_per_1k_input: z.number().int().min(0).max(1e9),
  default_price_per_1k_output: z.number().int().min(0).max(1e9),
  /** Largest single credit grant or adjustment accepted from the API. */
  max_credit_amount: z.number().int().positive().max(1e12),
  /** Largest token count accepted in one metered call. */
  max_tokens_per_call: z.number().int().positive().max(1e9),
})

export type BillingConfig = z.infer<typeof billingConfigSchema>
export type TierLimits = BillingConfig['tiers'][Tier]

export const DEFAULT_BILLING_CONFIG: BillingConfig = Object.freeze({
  tiers: {
    free: { included_credits: 1_000, agent_slots: 1, api_key_limit: 2, rate_limit: { per_second: 10, burst: 20 } },
    pro: { included_credits: 50_000, agent_slots: 5, api_key_limit: 20, rate_limit: { per_second: 100, burst: 200 } },
    enterprise: { included_credits: 1_000_000, agent_slots: null, api_key_limit: null, rate_limit: { per_second: 1_000, burst: 2_000 } },
  },
  default_price_per_1k_input: 1,
  default_price_per_1k_output: 2,
  max_credit_amount: 100_000_000,
  max_tokens_per_call: 10_000_000,
}) as BillingConfig

/** Defaults deep-merged with a partial override (e.g. the parsed config file), validated. */
export function billingConfigFrom (override: unknown): BillingConfig {
  const merged = deepMerge(structuredClone(DEFAULT_BILLING_CONFIG), override ?? {})
  return billingConfigSchema.parse(merged)
}

/** The next tier up and what it adds, for 402 `upgrade` hints; undefined at the top. */
export function upgradeHint (cfg: BillingConfig, tier: Tier): { tier: Tier, adds: Record<string, unknown> } | undefined {
  const i = TIERS.indexOf(tier)
  const next = TIERS[i + 1]
  if (next === undefined) return undefined
  const a = cfg.tiers[tier]
  const b = cfg.tiers[next]
  const adds: Record<string, unknown> = {}
  if (b.included_credits > a.included_credits) adds.included_credits = b.included_credits
  if (b.agent_slots !== a.agent_slots) adds.agent_slots = b.agent_slots ?? 'unlimited'
  if (b.api_key_limit !== a.api_key_limit) adds.api_key_limit = b.api_key_limit ?? 'unlimited'
  if (b.rate_limit.per_second > a.rate_limit.per_second) adds.rate_limit_per_second = b.rate_limit.per_second
  return { tier: next, adds }
}

function deepMerge (base: any, over: any): any {
  if (over === null || typeof over !== 'object' || Array.isArray(over)) return over
  if (base === null || typeof base !== 'object' || Array.isArray(base)) return over
  for (const [k, v] of Object.entries(over)) base[k] = k in base ? deepMerge(base[k], v) : v
  return base
}
