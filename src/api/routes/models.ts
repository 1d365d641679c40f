/**
 * Models: the shared catalog routes (list, get, create, patch, history; see
 * catalog-routes.ts) and the metered call `POST /models/:id/invoke`.
 *
 * The invoke hot path is kept cheap (it is benchmarked against a Koa hello-world): the
 * model's pricing comes from a per-doc cache (no Automerge `toJS` per call), and the
 * eligibility check, debit and usage record are one synchronous section ending in one
 * `store.commit` (src/state/metering.ts); the only await is the op's durability.
 */
import { z } from 'zod'
import { tokenPricing } from '../../state/catalog-read.ts'
import { invokeModel } from '../../state/metering.ts'
import { ownAccountId, accountFor } from '../account-access.ts'
import { catalogIdParam, meteredFields } from '../catalog-api-schemas.ts'
import { registerCatalogRoutes, visibleItem } from '../catalog-routes.ts'
import type { ApiDeps } from '../deps.ts'
import { defineRoute, type RouteTable } from '../openapi.ts'

export function registerModelRoutes (table: RouteTable, deps: ApiDeps): void {
  const { store, billing, log } = deps
  registerCatalogRoutes(table, deps, 'model')
  const tokens = z.number().int().min(0).max(billing.max_tokens_per_call)

  table.add(defineRoute({
    method: 'POST',
    path: '/models/:id/invoke',
    summary: 'A metered model call: checks eligibility, debits the price, records usage',
    description: 'Charged to your own account (a user token\'s, or the API key\'s): ' +
      'ceil((input_tokens × per_1k_input + output_tokens × per_1k_output) / 1000) credits. ' +
      `402 credits_insufficient / subscription_inactive with an upgrade hint. Token counts ≤ ${billing.max_tokens_per_call}.`,
    auth: ['jwt', 'api_key'],
    scopes: ['models:invoke'],
    params: catalogIdParam,
    body: z.strictObject({ input_tokens: tokens, output_tokens: tokens }),
    errors: ['not_found', 'credits_insufficient', 'subscription_inactive'],
    response: z.object({ model: z.string(), ...meteredFields }),
    handler: async ({ principal, params, body }) => {
      const model = visibleItem(deps, 'model', params.id, principal)
      const accountId = accountFor(store, log, principal, { mode: 'read', requested: ownAccountId(principal), action: 'POST /models/:id/invoke' })
      const r = invokeModel(store, billing, accountId, model.id, tokenPricing(model, billing), body.input_tokens, body.output_tokens, deps.now())
      await r.durable
      return {
        model: model.id,
        account_id: accountId,
        cost: r.cost,
        credits_remaining: r.balance,
        subscription: { tier: r.tier, status: r.status },
        usage: r.usage,
      }
    },
  }))
}
