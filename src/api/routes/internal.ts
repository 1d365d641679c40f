/**
 * Service-to-service routes under `/internal`, service credentials only:
 *
 * - `POST /internal/keys/validate`: this node as the key authority of another service.
 *   Unlike the request chain (one 401 for every bad key), a trusted service gets the
 *   distinct verdict: VALID, NOT_FOUND, EXPIRED, REVOKED, FORBIDDEN (scope or project),
 *   RATE_LIMITED (the key's own budget, shared with its direct API use) or
 *   INSUFFICIENT_CREDITS (`cost` above the balance; checked, not deducted).
 * - `POST /internal/usage/record`: metered model/agent usage for an account; with an
 *   `idempotency_key` it counts once cluster-wide (state/usage-idempotency.ts).
 *
 * Every call is audited (log line) with the service's name and the account it acts for.
 */
import { z } from 'zod'
import type { ApiKeysRuntime } from '../../auth/api-keys-runtime.ts'
import type { Logger } from '../../log.ts'
import type { ApiKeyRecord } from '../../state/api-keys.ts'
import { rateLimitKey } from '../../auth/rate-limit-middleware.ts'
import { balanceOf } from '../../state/credits.ts'
import { accountKey, ID_PATTERN } from '../../state/model.ts'
import { usageChanges } from '../../state/usage.ts'
import { recordedUsage, recordUsageOnce, usageBodyHash } from '../../state/usage-idempotency.ts'
import { FormStateError } from '../../errors.ts'
import { accountFor } from '../account-access.ts'
import { validateBody, validateResponse, VALIDATE_CODES } from '../api-key-schemas.ts'
import { accountId, clientId, MAX_TIME_MS } from '../billing-schemas.ts'
import type { ApiDeps } from '../deps.ts'
import { defineRoute, type RouteTable } from '../openapi.ts'

type Code = (typeof VALIDATE_CODES)[number]
type Validation = z.input<typeof validateResponse>

const METRIC_RE = /^[a-z][a-z0-9_]{0,31}(:[A-Za-z0-9._-]{1,64})?$/
/** How far from now a recorded usage time may lie (a week back, a minute ahead). */
const PAST_MS = 7 * 86_400_000
const FUTURE_MS = 60_000

/** Body of `POST /internal/usage/record`: amounts per metric for one model or agent. */
export const usageRecordBody = z.strictObject({
  account_id: accountId,
  subject: z.strictObject({ type: z.enum(['model', 'agent']), id: z.string().regex(ID_PATTERN) }),
  amounts: z.record(z.string().regex(METRIC_RE, 'a metric name such as tokens_in or invocations:run'), z.number().int().min(0).max(1e12))
    .refine((a) => Object.keys(a).length >= 1 && Object.keys(a).length <= 16, 'between 1 and 16 metrics'),
  at: z.number().int().min(0).max(MAX_TIME_MS).optional().describe('epoch ms of the usage (default now)'),
  idempotency_key: clientId.optional().describe('counts this record once cluster-wide: a retry with the same key and body is a replay, with another body a 409'),
})

// Built field by field (no spreads, no closure per call): this answers every validate call.
function verdict (code: Code, k?: ApiKeyRecord, ratelimit: Validation['ratelimit'] = null, credits: number | null = null): Validation {
  return {
    valid: code === 'VALID',
    code,
    key_id: k?.id ?? null,
    account_id: k?.accountId ?? null,
    project_id: k?.projectId ?? null,
    scopes: k?.scopes ?? null,
    ratelimit,
    credits_remaining: credits,
  }
}

function audited (audit: Logger, service: string | undefined, v: Validation): Validation {
  audit.info('service call', { service, action: 'keys.validate', acting_for: v.account_id, key_id: v.key_id, code: v.code })
  return v
}

/** Registers the `/internal` routes (validate only when the keys feature is present). */
export function registerInternalRoutes (table: RouteTable, deps: ApiDeps): void {
  const { store, log } = deps
  const keys: ApiKeysRuntime | undefined = deps.keys
  const audit = log.child({ component: 'internal' })

  if (keys !== undefined) {
    table.add(defineRoute({
      method: 'POST',
      path: '/internal/keys/validate',
      summary: 'Validate an API key for another service (distinct verdict codes)',
      tag: 'internal',
      auth: 'service',
      body: validateBody,
      response: validateResponse,
      handler: ({ principal, body }) => {
        const now = deps.now()
        const r = keys.authenticator.check(body.api_key, now)
        const service = principal.serviceName
        if (r.key === undefined) return audited(audit, service, verdict('NOT_FOUND'))
        const k = r.key
        if (r.code !== 'VALID') return audited(audit, service, verdict(r.code, k))
        if ((body.scope !== undefined && !k.scopes.includes(body.scope)) ||
            (principal.actingFor !== undefined && principal.actingFor !== k.projectId)) {
          return audited(audit, service, verdict('FORBIDDEN', k))
        }
        const p = keys.authenticator.principalOf(k)
        const limit = keys.limitFor(p)
        let ratelimit: Validation['ratelimit'] = null
        if (limit !== undefined) {
          const rl = keys.limiter.check(rateLimitKey(p), limit) // the limiter keeps its own clock, as in the request chain
          ratelimit = { limit: rl.limit, remaining: rl.remaining, reset: rl.resetSeconds }
          if (!rl.allowed) return audited(audit, service, verdict('RATE_LIMITED', k, ratelimit))
        }
        const credits = balanceOf(store, k.accountId)
        if (body.cost !== undefined && body.cost > credits) return audited(audit, service, verdict('INSUFFICIENT_CREDITS', k, ratelimit, credits))
        keys.authenticator.recordUse(k.id, now)
        return audited(audit, service, verdict('VALID', k, ratelimit, credits))
      },
    }))
  }

  table.add(defineRoute({
    method: 'POST',
    path: '/internal/usage/record',
    summary: 'Record metered model/agent usage for an account',
    description: 'Adds the amounts to the account\'s usage windows (minute, hour, day). With `idempotency_key` the record counts once ' +
      'cluster-wide, whichever nodes receive it: a replay (same key, same body) writes nothing and answers `replayed: true` with the ' +
      'first call\'s `at` (and header `Idempotent-Replayed: true`); the same key with another body is a 409 idempotency_conflict. ' +
      'Send `at` with the key: a retry without it is the same request, but two copies racing on two nodes could fall into different minute windows. ' +
      'Without a key every call counts (optional so existing callers keep working).',
    tag: 'internal',
    auth: 'service',
    body: usageRecordBody,
    errors: ['not_found', 'wrong_project', 'idempotency_conflict'],
    response: z.object({
      account_id: z.string(),
      subject: z.object({ type: z.string(), id: z.string() }),
      amounts: z.record(z.string(), z.number()),
      at: z.number(),
      idempotency_key: z.string().nullable(),
      replayed: z.boolean().describe('true when this idempotency key was already recorded: nothing was counted now'),
    }),
    handler: async ({ principal, body, ctx }) => {
      const now = deps.now()
      const at = body.at ?? now
      const outOfWindow = (): FormStateError => new FormStateError('invalid_field', 'at must lie within the last 7 days', { field: 'at' })
      const inWindow = at >= now - PAST_MS && at <= now + FUTURE_MS
      // A keyed call may be the retry of one recorded while its `at` was in the window: checked below.
      if (!inWindow && body.idempotency_key === undefined) throw outOfWindow()
      for (const [metric, n] of Object.entries(body.amounts)) {
        if (n > deps.billing.max_tokens_per_call) throw new FormStateError('invalid_field', `at most ${deps.billing.max_tokens_per_call} per call`, { field: `amounts.${metric}` })
      }
      // accountFor checks the account exists (and the declared project) and logs the service's access.
      const id = accountFor(store, log, principal, { mode: 'write', requested: body.account_id, action: 'POST /internal/usage/record' })
      const key = body.idempotency_key
      if (key !== undefined) {
        const input = { subject: body.subject, amounts: body.amounts, at: body.at }
        // Out of the window only an exact replay is answered (it writes nothing); anything else is refused as before.
        if (!inWindow && recordedUsage(store, id, key)?.hash !== usageBodyHash(id, input)) throw outOfWindow()
        const r = await recordUsageOnce(store, id, key, input, at, now)
        if (r.replayed) ctx.set('Idempotent-Replayed', 'true')
        return { account_id: id, subject: body.subject, amounts: body.amounts, at: r.at, idempotency_key: key, replayed: r.replayed }
      }
      const changes = usageChanges(store, id, body.subject, body.amounts, at)
      if (changes.length > 0) await store.commit(accountKey(id), changes)
      return { account_id: id, subject: body.subject, amounts: body.amounts, at, idempotency_key: null, replayed: false }
    },
  }))
}
