/**
 * Every resource's routes, in one list: adding a resource is one line here. Each route
 * file exports `register<Resource>Routes(table, deps)`.
 */
import type { RouteRegistrar } from '../app.ts'
import type { ApiDeps } from '../deps.ts'
import type { RouteTable } from '../openapi.ts'
import { registerAccountRoutes } from './accounts.ts'
import { registerAdminRoutes } from './admin.ts'
import { registerAgentRoutes } from './agents.ts'
import { registerApiKeyRoutes } from './api-keys.ts'
import { registerBillingRoutes } from './billing.ts'
import { registerInternalRoutes } from './internal.ts'
import { registerMetricsRoutes } from './metrics.ts'
import { registerModelRoutes } from './models.ts'
import { registerStripeRoutes } from './stripe.ts'
import { registerUsageRoutes } from './usage.ts'

export function apiRoutes (deps: ApiDeps): RouteRegistrar[] {
  return [
    (t) => registerAccountRoutes(t, deps),
    (t) => registerBillingRoutes(t, deps),
    (t) => registerUsageRoutes(t, deps),
    (t) => registerModelRoutes(t, deps),
    (t) => registerAgentRoutes(t, deps),
    (t) => registerStripeRoutes(t, deps),
    (t) => registerApiKeyRoutes(t, deps),
    (t) => registerInternalRoutes(t, deps),
    (t) => registerAdminRoutes(t, deps),
    ...(deps.metrics !== undefined ? [(t: RouteTable) => registerMetricsRoutes(t, deps.metrics!)] : []),
  ]
}
