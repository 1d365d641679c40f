/**
 * Request bodies for the catalog (models and agents): strict zod schemas the API routes
 * validate with, and the types the catalog's writers take. Limits keep one Automerge
 * change small (every change is kept forever and replicated to every node).
 */
import { z } from 'zod'
import { ID_PATTERN } from './model.ts'

export const CATALOG_KINDS = ['model', 'agent'] as const
export type CatalogKind = (typeof CATALOG_KINDS)[number]

export const MAX_NAME = 200
export const MAX_DESCRIPTION = 10_000
/** Highest price in credits (per 1k tokens or per invocation). */
export const MAX_PRICE = 1_000_000_000
/** Largest `config`, JSON-encoded, in bytes. */
export const MAX_CONFIG_BYTES = 64 * 1024
/** Deepest nesting of `config` (keeps history materialisation and proxies cheap). */
export const MAX_CONFIG_DEPTH = 16

/** Plain JSON value as stored in `config`. */
export type Json = string | number | boolean | null | Json[] | { [k: string]: Json }

const price = z.number().int().min(0).max(MAX_PRICE)
const name = z.string().trim().min(1).max(MAX_NAME)
const description = z.string().max(MAX_DESCRIPTION)
const visibility = z.enum(['public', 'private'])

/** Depth of a JSON value, and whether it uses a key that would reach an object's prototype. */
function jsonProblem (v: unknown, depth: number): string | undefined {
  if (depth > MAX_CONFIG_DEPTH) return `nested deeper than ${MAX_CONFIG_DEPTH}`
  if (Array.isArray(v)) {
    for (const x of v) { const p = jsonProblem(x, depth + 1); if (p !== undefined) return p }
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === '__proto__') return 'key __proto__ is not allowed'
      const p = jsonProblem(x, depth + 1)
      if (p !== undefined) return p
    }
  } else if (typeof v === 'number' && !Number.isFinite(v)) return 'numbers must be finite'
  return undefined
}

/** A free JSON object, ≤ 64 KB encoded, ≤ 16 levels deep. */
export const configSchema = z.record(z.string(), z.json()).superRefine((v, ctx) => {
  const problem = jsonProblem(v, 0)
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem })
  else if (Buffer.byteLength(JSON.stringify(v)) > MAX_CONFIG_BYTES) ctx.addIssue({ code: 'custom', message: `larger than ${MAX_CONFIG_BYTES} bytes as JSON` })
})

/** A caller-chosen id (slug); omitted, the node picks `mdl_…` / `agt_…`. */
export const catalogIdSchema = z.string().regex(ID_PATTERN, `must match ${ID_PATTERN.source}`)

export const modelPricingSchema = z.strictObject({ per_1k_input: price, per_1k_output: price })
export const agentPricingSchema = z.strictObject({ per_invocation: price })

export const modelCreateSchema = z.strictObject({
  id: catalogIdSchema.optional(),
  name,
  description: description.default(''),
  pricing: modelPricingSchema,
  config: configSchema.default({}),
  visibility: visibility.default('private'),
})

export const agentCreateSchema = z.strictObject({
  id: catalogIdSchema.optional(),
  name,
  description: description.default(''),
  pricing: agentPricingSchema,
  config: configSchema.default({}),
  visibility: visibility.default('private'),
})

const nonEmpty = (v: Record<string, unknown>): boolean => Object.values(v).some((x) => x !== undefined)

export const modelPatchSchema = z.strictObject({
  name: name.optional(),
  description: description.optional(),
  pricing: modelPricingSchema.partial().refine(nonEmpty, 'pricing patch names no price').optional(),
  config: configSchema.optional(),
  visibility: visibility.optional(),
}).refine(nonEmpty, 'patch names no field')

export const agentPatchSchema = z.strictObject({
  name: name.optional(),
  description: description.optional(),
  pricing: agentPricingSchema.partial().refine(nonEmpty, 'pricing patch names no price').optional(),
  config: configSchema.optional(),
  visibility: visibility.optional(),
}).refine(nonEmpty, 'patch names no field')

export type ModelCreate = z.output<typeof modelCreateSchema>
export type AgentCreate = z.output<typeof agentCreateSchema>
export type ModelPatch = z.output<typeof modelPatchSchema>
export type AgentPatch = z.output<typeof agentPatchSchema>
/** A validated create body of either kind. */
export type CatalogCreate = ModelCreate | AgentCreate
/** A validated patch body of either kind. */
export type CatalogPatch = ModelPatch | AgentPatch

/** The create and patch schemas of a kind (for routes shared by models and agents). */
export function catalogSchemas (kind: CatalogKind): { create: z.ZodType<CatalogCreate>, patch: z.ZodType<CatalogPatch> } {
  return kind === 'model'
    ? { create: modelCreateSchema, patch: modelPatchSchema }
    : { create: agentCreateSchema, patch: agentPatchSchema }
}
