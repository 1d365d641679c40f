/**
 * Response schemas of the catalog and metered-call routes (models, agents): what the
 * routes answer and what `/openapi.json` documents. Request bodies come from
 * src/state/catalog-schemas.ts.
 */
import { z } from 'zod'
import { SUBSCRIPTION_STATUSES } from '../state/subscription.ts'
import { TIERS } from '../state/tiers.ts'
import { ID_PATTERN } from '../state/model.ts'

/** A catalog id in a path (`gpt-demo`, `mdl_…`). */
export const catalogIdParam = z.strictObject({ id: z.string().regex(ID_PATTERN, 'a catalog id: letters, digits and . _ : -, at most 128') })

const json = z.json()

export const catalogItemSchema = z.object({
  id: z.string(),
  kind: z.enum(['model', 'agent']),
  owner_project: z.string(),
  name: z.string(),
  description: z.string(),
  pricing: z.record(z.string(), z.number()).describe('model: per_1k_input, per_1k_output; agent: per_invocation (credits)'),
  config: z.record(z.string(), json),
  visibility: z.enum(['public', 'private']),
  created_at: z.number(),
  updated_at: z.number(),
})

export const catalogListSchema = z.object({
  items: z.array(catalogItemSchema),
  next_after: z.string().nullable().describe('pass as `after` for the next page; null on the last page'),
})

export const historySchema = z.object({
  id: z.string(),
  kind: z.enum(['model', 'agent']),
  entries: z.array(z.object({
    hash: z.string(),
    actor: z.string(),
    seq: z.number(),
    op: z.enum(['create', 'patch']).nullable(),
    by: z.string().nullable().describe('subject that made the change'),
    project: z.string().nullable(),
    at: z.number().describe('when (ms; Automerge keeps whole seconds)'),
    fields: z.array(z.string()),
    values: z.record(z.string(), z.unknown()).describe('each changed field right after the change'),
  })),
})

export const subscriptionBrief = z.object({ tier: z.enum(TIERS), status: z.enum(SUBSCRIPTION_STATUSES) })

/** What every billable call answers besides its own fields. */
export const meteredFields = {
  account_id: z.string(),
  cost: z.number().describe('credits charged for this call'),
  credits_remaining: z.number().describe('balance right after this call'),
  subscription: subscriptionBrief,
  usage: z.record(z.string(), z.number()).describe('what this call recorded, metric → amount'),
}

export const slotsSchema = z.object({
  hired: z.array(z.string()),
  used: z.number(),
  available: z.number().nullable().describe('free slots; null = unlimited'),
})
