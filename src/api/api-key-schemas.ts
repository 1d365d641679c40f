/**
 * zod schemas of the API-key and internal routes: inputs (strict) and the response shapes
 * (which also keep a handler from leaking a field, e.g. the hash, that they do not list).
 */
import { z } from 'zod'
import { SCOPES } from '../auth/principal.ts'
import { API_KEY_EVENT_TYPES, AUTH_FAILURE_REASONS } from '../state/api-key-audit.ts'
import { MAX_TIME_MS, parseTime } from './billing-schemas.ts'

/** Public key ids: 16 lowercase hex digits. */
export const keyIdSchema = z.string().regex(/^[0-9a-f]{16}$/, 'a key id: 16 lowercase hex digits')
export const keyIdParams = z.strictObject({ id: keyIdSchema })

export const keyName = z.string().min(1).max(64).regex(/^[^\u0000-\u001f\u007f]+$/, 'no control characters')

/** Scopes, each known, at least one; duplicates are folded. */
export const scopeList = z.array(z.enum(SCOPES)).min(1).max(SCOPES.length * 2).transform((s) => [...new Set(s)].sort())

/** A time as epoch ms or ISO 8601 (body fields). */
export const bodyTime = z.union([
  z.number().int().min(0).max(MAX_TIME_MS),
  z.string().max(40).transform((s, ctx) => {
    const ms = parseTime(s)
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected epoch milliseconds or an ISO 8601 date / date-time' })
      return z.NEVER
    }
    return ms
  }),
])

export const createKeyBody = z.strictObject({
  name: keyName,
  scopes: scopeList,
  expires_at: bodyTime.optional().describe('epoch ms or ISO 8601; must be in the future; omit for no expiry'),
})

export const updateKeyBody = z.strictObject({
  name: keyName.optional(),
  scopes: scopeList.optional(),
  expires_at: bodyTime.nullable().optional().describe('null removes the expiry'),
})

/** Longest rotation grace: 30 days. */
export const MAX_GRACE_SECONDS = 30 * 86_400
/** Grace when the body names none: one hour. */
export const DEFAULT_GRACE_SECONDS = 3_600

export const rotateKeyBody = z.strictObject({
  grace_seconds: z.number().int().min(0).max(MAX_GRACE_SECONDS).optional().describe(`how long the old key keeps working (default ${DEFAULT_GRACE_SECONDS})`),
})

export const apiKeyView = z.object({
  id: z.string(),
  /** The non-secret start of the key string, to recognise it. */
  prefix: z.string(),
  name: z.string(),
  account_id: z.string(),
  project_id: z.string(),
  scopes: z.array(z.string()),
  status: z.enum(['active', 'revoked', 'expired']),
  created_at: z.number(),
  expires_at: z.number().nullable(),
  last_used_at: z.number().nullable(),
  rotated_from: z.string().nullable(),
  rotated_to: z.string().nullable(),
  grace_end: z.number().nullable(),
  revoked_via: z.string().nullable().describe('set when the key is revoked because this predecessor was revoked concurrently with the rotation that made it'),
})

export const createdKeyView = apiKeyView.extend({
  /** The whole key: shown in this answer only. */
  key: z.string(),
  warning: z.string(),
})

export const apiKeyEventView = z.object({
  id: z.string(),
  key_id: z.string(),
  type: z.enum(API_KEY_EVENT_TYPES),
  at: z.number(),
  by: z.string().optional(),
  reason: z.enum(AUTH_FAILURE_REASONS).optional(),
  window: z.string().optional(),
  count: z.number().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
})

export const eventsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).optional(),
})

export const VALIDATE_CODES = ['VALID', 'NOT_FOUND', 'EXPIRED', 'REVOKED', 'FORBIDDEN', 'RATE_LIMITED', 'INSUFFICIENT_CREDITS'] as const

export const validateBody = z.strictObject({
  api_key: z.string().max(512),
  scope: z.enum(SCOPES).optional(),
  cost: z.number().int().min(0).max(1e12).optional().describe('credits the caller is about to spend (checked, not deducted)'),
})

export const validateResponse = z.object({
  valid: z.boolean(),
  code: z.enum(VALIDATE_CODES),
  key_id: z.string().nullable(),
  account_id: z.string().nullable(),
  project_id: z.string().nullable(),
  scopes: z.array(z.string()).nullable(),
  ratelimit: z.object({ limit: z.number(), remaining: z.number(), reset: z.number() }).nullable(),
  credits_remaining: z.number().nullable(),
})
