/**
 * Every resource's routes, in one list: adding a resource is one line here. Each route
 * file exports `register<Resource>Routes(table, deps)`.
 */
import type { RouteRegistrar } from '../app.ts'
import type { ApiDeps } from '../deps.ts'

export function apiRoutes (deps: ApiDeps): RouteRegistrar[] {
  void deps
  return []
}
