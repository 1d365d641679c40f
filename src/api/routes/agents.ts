/**
 * Agents: the shared catalog routes (list, get, create, patch, history; see
 * catalog-routes.ts), hiring (`POST` / `DELETE /agents/:id/hire`, bounded by the tier's
 * agent slots) and the metered call `POST /agents/:id/invoke` (requires the agent hired;
 * charges its per-invocation price; counts invocations by operation).
 *
 * Calls act on the caller's own account (a user token's, or the API key's). Each is one
 * synchronous check-and-commit (src/state/metering.ts), then awaits durability.
 */
import { z } from 'zod'
import type { Principal } from '../../auth/principal.ts'
import { FormStateError } from '../../errors.ts'
import { isHired } from '../../state/account.ts'
import { configSchema } from '../../state/catalog-schemas.ts'
import { invocationPrice } from '../../state/catalog-read.ts'
import { hireAgent, invokeAgent, releaseAgent, type HireOutcome } from '../../state/metering.ts'
import { accountFor, ownAccountId } from '../account-access.ts'
import { catalogIdParam, meteredFields, slotsSchema } from '../catalog-api-schemas.ts'
import { registerCatalogRoutes, visibleItem } from '../catalog-routes.ts'
import type { ApiDeps } from '../deps.ts'
import { defineRoute, type RouteTable } from '../openapi.ts'

/** Operation names: what `invocations:<operation>` usage metrics are keyed by. */
const OPERATION_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

const hireResponse = z.object({
  account_id: z.string(),
  agent: z.string(),
  hired: z.boolean(),
  changed: z.boolean().describe('false when the call changed nothing (already hired / not hired)'),
  slots: slotsSchema,
  credits_remaining: z.number(),
})

/** Operations an agent declares in `config.operations` (undefined: it accepts any). */
function declaredOperations (config: Readonly<Record<string, unknown>>): readonly string[] | undefined {
  const ops = config.operations
  return Array.isArray(ops) && ops.every((o) => typeof o === 'string') ? ops as string[] : undefined
}

export function registerAgentRoutes (table: RouteTable, deps: ApiDeps): void {
  const { store, billing, log } = deps
  registerCatalogRoutes(table, deps, 'agent')

  const own = (p: Principal, action: string): string => accountFor(store, log, p, { mode: 'read', requested: ownAccountId(p), action })
  const hireAnswer = (accountId: string, agent: string, r: HireOutcome): z.input<typeof hireResponse> => ({
    account_id: accountId,
    agent,
    hired: r.hired.includes(agent),
    changed: r.changed,
    slots: { hired: r.hired, used: r.used, available: r.available },
    credits_remaining: r.balance,
  })

  table.add(defineRoute({
    method: 'POST',
    path: '/agents/:id/hire',
    summary: 'Hire an agent for your account (takes one of your tier\'s agent slots; idempotent)',
    description: '201 when hired now, 200 when it already was. 402 agent_slots_exhausted (with an upgrade hint) when every slot is in use.',
    auth: ['jwt', 'api_key'],
    scopes: ['agents:hire'],
    params: catalogIdParam,
    status: 201,
    errors: ['not_found', 'agent_slots_exhausted', 'subscription_inactive'],
    response: hireResponse,
    handler: async ({ principal, params, ctx }) => {
      const agent = visibleItem(deps, 'agent', params.id, principal)
      const accountId = own(principal, 'POST /agents/:id/hire')
      const r = hireAgent(store, billing, accountId, agent)
      if (!r.changed) ctx.status = 200
      await r.durable
      if (r.changed) log.info('agent hired', { account_id: accountId, agent: agent.id, used: r.used })
      return hireAnswer(accountId, agent.id, r)
    },
  }))

  table.add(defineRoute({
    method: 'DELETE',
    path: '/agents/:id/hire',
    summary: 'Release a hired agent (frees its slot; idempotent)',
    auth: ['jwt', 'api_key'],
    scopes: ['agents:hire'],
    params: catalogIdParam,
    errors: ['not_found'],
    response: hireResponse,
    handler: async ({ principal, params }) => {
      const accountId = own(principal, 'DELETE /agents/:id/hire')
      // A hired agent can always be released, even one that has since turned private.
      if (!isHired(store, accountId, params.id)) visibleItem(deps, 'agent', params.id, principal)
      const r = releaseAgent(store, billing, accountId, params.id)
      await r.durable
      if (r.changed) log.info('agent released', { account_id: accountId, agent: params.id })
      return hireAnswer(accountId, params.id, r)
    },
  }))

  table.add(defineRoute({
    method: 'POST',
    path: '/agents/:id/invoke',
    summary: 'A metered agent call: requires the agent hired, charges its per-invocation price',
    description: 'Counts one invocation of `operation` (usage metric `invocations:<operation>`). When the agent lists ' +
      '`config.operations`, the operation must be one of them. 409 agent_not_hired; 402 credits_insufficient.',
    auth: ['jwt', 'api_key'],
    scopes: ['agents:invoke'],
    params: catalogIdParam,
    body: z.strictObject({
      operation: z.string().regex(OPERATION_RE, 'an operation name: letters, digits and . _ -, at most 64'),
      input: configSchema.optional().describe('the operation\'s input (JSON object, ≤ 64 KB)'),
    }),
    errors: ['not_found', 'agent_not_hired', 'credits_insufficient', 'subscription_inactive'],
    response: z.object({ agent: z.string(), operation: z.string(), ...meteredFields }),
    handler: async ({ principal, params, body }) => {
      const agent = visibleItem(deps, 'agent', params.id, principal)
      const ops = declaredOperations(agent.config)
      if (ops !== undefined && !ops.includes(body.operation)) {
        throw new FormStateError('invalid_field', `agent ${agent.id} has no operation ${body.operation} (has: ${ops.join(', ')})`, { field: 'operation' })
      }
      const accountId = own(principal, 'POST /agents/:id/invoke')
      const r = invokeAgent(store, billing, accountId, agent.id, invocationPrice(agent), body.operation, deps.now())
      await r.durable
      return {
        agent: agent.id,
        operation: body.operation,
        account_id: accountId,
        cost: r.cost,
        credits_remaining: r.balance,
        subscription: { tier: r.tier, status: r.status },
        usage: r.usage,
      }
    },
  }))
}
