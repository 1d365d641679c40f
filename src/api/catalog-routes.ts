/**
 * The catalog routes models and agents share: list, get, create, patch, history. One
 * registration per kind (`/models…` from routes/models.ts, `/agents…` from routes/agents.ts).
 *
 * Who may do what:
 * - Read (`GET /models`, `GET /models/:id`): anyone; without credentials only public
 *   items, with credentials also the caller's project's private ones. An item the caller
 *   may not see answers 404, exactly like a missing one.
 * - Write (`POST`, `PATCH`): developers and admins of the owner project (JWT), or a
 *   service: it creates for the project it declares (`X-Project-Id`), and edits any item
 *   unless it declared a project (then only that project's). Another project's public
 *   item is 403 `wrong_project`; its private one 404.
 * - History (who changed what, when; names subjects): members of the owner project and
 *   services.
 */
import { z } from 'zod'
import { developerOrAdmin, type Principal } from '../auth/principal.ts'
import { FormStateError } from '../errors.ts'
import { catalogHistory } from '../state/catalog-history.ts'
import { createCatalogChanges, patchCatalogChanges, type CatalogAuthor, type CatalogItem, type CatalogKind } from '../state/catalog.ts'
import { listCatalogItems, readCatalogItem, readVisibleItem } from '../state/catalog-read.ts'
import { catalogIdSchema, catalogSchemas } from '../state/catalog-schemas.ts'
import type { ApiDeps } from './deps.ts'
import { catalogIdParam, catalogItemSchema, catalogListSchema, historySchema } from './catalog-api-schemas.ts'
import { defineRoute, type RouteInput, type RouteTable } from './openapi.ts'
import type { ApiState } from './router.ts'

const MAX_LIST = 500
const projectId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'a project id')

/** The caller's principal on a route that also accepts no credentials. */
export function optionalPrincipal (input: Pick<RouteInput<unknown, unknown, unknown>, 'ctx'>): Principal | undefined {
  return (input.ctx.state as ApiState).principal
}

/** The project whose private items the caller sees: its own (a service: the one it declared). */
export function viewerProject (p: Principal | undefined): string | undefined {
  if (p === undefined || p.projectId === '') return undefined
  return p.projectId
}

/** An item `p` may see, or 404 (missing and invisible look the same). */
export function visibleItem (deps: Pick<ApiDeps, 'store'>, kind: CatalogKind, id: string, p: Principal | undefined): Readonly<CatalogItem> {
  const item = readVisibleItem(deps.store, kind, id, viewerProject(p))
  if (item === undefined) throw new FormStateError('not_found', `no such ${kind}`, { field: 'id' })
  return item
}

/** The author of a catalog write, after checking the caller may write at all. */
function writer (p: Principal): CatalogAuthor & { operator: boolean } {
  if (p.kind === 'service') {
    return { sub: p.sub, project: p.projectId, operator: p.actingFor === undefined }
  }
  developerOrAdmin(p)
  if (p.projectId === '') throw new FormStateError('forbidden', 'the token names no project')
  return { sub: p.sub, project: p.projectId, operator: false }
}

/** Registers list/get/create/patch/history of `kind` under `/<kind>s`. */
export function registerCatalogRoutes (table: RouteTable, deps: ApiDeps, kind: CatalogKind): void {
  const { store, log } = deps
  const base = `/${kind}s`
  const schemas = catalogSchemas(kind)

  table.add(defineRoute({
    method: 'GET',
    path: base,
    summary: `List ${kind}s: public ones, plus your project's private ones when authenticated`,
    description: `In id order, at most \`limit\` (default 100, max ${MAX_LIST}); page with \`after\` = the previous page's next_after.`,
    auth: ['public', 'jwt', 'api_key', 'service'],
    query: z.strictObject({
      owner: projectId.optional().describe('only items of this project'),
      after: catalogIdSchema.optional().describe('ids after this one'),
      limit: z.coerce.number().int().min(1).max(MAX_LIST).optional(),
    }),
    response: catalogListSchema,
    handler: (input) => {
      const { query } = input
      const limit = query.limit ?? 100
      const project = viewerProject(optionalPrincipal(input))
      const items = listCatalogItems(store, kind, {
        ...(project !== undefined ? { project } : {}),
        ...(query.owner !== undefined ? { owner: query.owner } : {}),
        ...(query.after !== undefined ? { after: query.after } : {}),
        limit,
      })
      return { items: items as CatalogItem[], next_after: items.length === limit ? items[items.length - 1]!.id : null }
    },
  }))

  table.add(defineRoute({
    method: 'GET',
    path: `${base}/:id`,
    summary: `One ${kind} (public, or your project's)`,
    auth: ['public', 'jwt', 'api_key', 'service'],
    params: catalogIdParam,
    errors: ['not_found'],
    response: catalogItemSchema,
    handler: (input) => visibleItem(deps, kind, input.params.id, optionalPrincipal(input)) as CatalogItem,
  }))

  table.add(defineRoute({
    method: 'POST',
    path: base,
    summary: `Create a ${kind} owned by your project (developer or admin; or a service for its X-Project-Id)`,
    description: 'The id is the body\'s `id` (a slug) or generated. 409 already_exists when the id is taken.',
    auth: ['jwt', 'service'],
    status: 201,
    body: schemas.create,
    errors: ['already_exists'],
    response: catalogItemSchema,
    handler: async ({ principal, body }) => {
      const author = writer(principal)
      if (author.project === '') throw new FormStateError('invalid_field', 'a service creates catalog items for the project it names in X-Project-Id', { field: 'X-Project-Id' })
      const now = deps.now()
      const { id, target, changes } = createCatalogChanges(store, kind, body, author, now)
      const durable = store.commit(target, changes)
      const item = readCatalogItem(store, kind, id)!
      await durable
      log.info(`${kind} created`, { id, project: author.project, by: author.sub })
      return item as CatalogItem
    },
  }))

  table.add(defineRoute({
    method: 'PATCH',
    path: `${base}/:id`,
    summary: `Edit a ${kind} of your project (developer or admin; or a service)`,
    description: 'Only the named fields change (prices one by one; `config` is replaced whole). A patch that changes nothing answers the item and writes nothing.',
    auth: ['jwt', 'service'],
    params: catalogIdParam,
    body: schemas.patch,
    errors: ['not_found', 'wrong_project'],
    response: catalogItemSchema,
    handler: async ({ principal, params, body }) => {
      const author = writer(principal)
      if (!author.operator) visibleItem(deps, kind, params.id, principal) // 404 before 403: no hint about others' private items
      const { target, changes, fields } = patchCatalogChanges(store, kind, params.id, body, author, deps.now(), { admin: author.operator })
      if (changes === undefined) return readCatalogItem(store, kind, params.id)! as CatalogItem
      const durable = store.commit(target, changes)
      const item = readCatalogItem(store, kind, params.id)!
      await durable
      log.info(`${kind} edited`, { id: params.id, by: author.sub, fields })
      return item as CatalogItem
    },
  }))

  table.add(defineRoute({
    method: 'GET',
    path: `${base}/:id/history`,
    summary: `Who changed this ${kind}, what and when (members of the owner project; services)`,
    description: 'Changes in causal order, the most recent `limit` (default 100); `field` keeps those touching a field (`pricing`, `pricing.per_1k_input`).',
    auth: ['jwt', 'api_key', 'service'],
    params: catalogIdParam,
    query: z.strictObject({
      field: z.string().regex(/^[a-z_]{1,32}(\.[A-Za-z0-9_]{1,64})?$/, 'a field path such as pricing or pricing.per_1k_input').optional(),
      limit: z.coerce.number().int().min(1).max(1000).optional(),
    }),
    errors: ['not_found', 'wrong_project'],
    response: historySchema,
    handler: ({ principal, params, query }) => {
      const item = visibleItem(deps, kind, params.id, principal)
      if (principal.kind !== 'service' && principal.projectId !== item.owner_project) {
        throw new FormStateError('wrong_project', `the history of a ${kind} is visible to its own project only`)
      }
      const entries = catalogHistory(store, kind, params.id, {
        ...(query.field !== undefined ? { field: query.field } : {}),
        ...(query.limit !== undefined ? { limit: query.limit } : {}),
      }) ?? []
      return { id: params.id, kind, entries }
    },
  }))
}
