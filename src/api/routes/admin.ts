/**
 * Operator inspection of the replica (issue 5):
 * `GET /admin/replica` (where this replica stands), `GET /admin/replica/accounts/:id` (raw
 * CRDT state with each replica's contribution; `/admin/replica/entity?target=` for any
 * entity), `GET /admin/replica/ops` (the op log, decoded), `GET /admin/replica/digests`
 * (per-entity digests, to locate a difference).
 *
 * Who: operators — a service, or an `admin` JWT of an operator project
 * (`--operator-projects`; the devnet's seed project by default, none on a node). These
 * views are replica-wide (every project's entities), so an admin of an ordinary project
 * is refused, as is any API key. Secrets (API key hashes) are redacted.
 */
import { z } from 'zod'
import { requireRole, type Principal } from '../../auth/principal.ts'
import { FormStateError } from '../../errors.ts'
import { apiKeyIds } from '../../state/account.ts'
import { accountKey, apiKeyKey } from '../../state/model.ts'
import { entityJson, opToJson, replicaSummary } from '../admin-view.ts'
import { accountId } from '../billing-schemas.ts'
import type { ApiDeps } from '../deps.ts'
import { defineRoute, type RouteTable } from '../openapi.ts'

/** Largest page of ops / digests one request returns. */
export const MAX_OPS_PAGE = 1000
export const MAX_DIGESTS_PAGE = 10_000

/** Replica-wide views: a service, or an admin of an operator project. */
function operatorOnly (p: Principal, operators: ReadonlySet<string>): void {
  if (p.kind === 'service') return
  requireRole(p, 'admin')
  if (!operators.has(p.projectId)) {
    throw new FormStateError('forbidden', 'replica-wide views are for operators: a service, or an admin of a project listed in --operator-projects')
  }
}

const count = (max: number) => z.string().regex(/^[0-9]{1,15}$/, 'a non-negative integer').transform(Number)
  .refine((n) => n <= max, `at most ${max}`)
const origin = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'a replica id (letters, digits and . _ : -)')
const bool = z.enum(['true', 'false', '1', '0']).transform((s) => s === 'true' || s === '1')

const fieldJson = z.object({ kind: z.string(), value: z.unknown(), state: z.unknown() })
const entitySchema = z.object({ target: z.string(), digest: z.string(), fields: z.record(z.string(), fieldJson) })
const opSchema = z.object({
  origin: z.string(), seq: z.number(), hlc: z.object({ wall: z.number(), logical: z.number() }), shard: z.number(), target: z.string(),
  changes: z.array(z.object({ field: z.string(), kind: z.string(), delta: z.unknown() })),
})
const vv = z.record(z.string(), z.number())

export function registerAdminRoutes (table: RouteTable, deps: ApiDeps): void {
  const operators = deps.operatorProjects ?? new Set<string>()
  const { store } = deps

  table.add(defineRoute({
    method: 'GET',
    path: '/admin/replica',
    summary: 'Where this replica stands: ids, members, vector, lag per peer, log, snapshot, digest, reader, rejections',
    description: '`replication` is `absent` and `queue_reader` `n/a` on a devnet. `digest=false` skips hashing the whole state (for frequent polls).',
    tag: 'admin',
    auth: ['jwt', 'service'],
    query: z.strictObject({ digest: bool.optional().describe('include the state digest (default true)') }),
    errors: ['forbidden'],
    response: z.object({
      node: z.object({ replica_id: z.string(), peer_id: z.string().nullable(), mode: z.string(), shard: z.number(), cluster: z.string().nullable() }),
      time: z.number(),
      replication: z.enum(['absent', 'running', 'stopped']),
      queue_reader: z.enum(['n/a', 'running', 'stopped']),
      listen_addrs: z.array(z.string()),
      members: z.array(z.object({
        id: z.string(), via: z.string(), connected: z.boolean(), self: z.boolean(),
        last_seen: z.number().nullable().describe('when this node last held a connection to it (ms; now when connected; null: not since this node started)'),
      })),
      retired: z.array(z.object({ id: z.string(), by: z.string(), at: z.number() })),
      peers: z.array(z.object({
        id: z.string(), lag_ops: z.number(), lag_ms: z.number(), peer_lag_ops: z.number(), rounds: z.number(), errors: z.number(),
        last_round_ms: z.number().nullable(), last_error: z.string().nullable(), version_vector: vv,
      })),
      version_vector: vv,
      gaps: z.array(z.object({ origin: z.string(), first_missing: z.number(), highest_buffered: z.number() })),
      op_log: z.object({ length: z.number(), compacted_vv: vv }),
      last_snapshot: z.object({ version_vector: vv, entities: z.number(), bytes: z.number(), taken_at: z.number() }).nullable(),
      digest: z.string().nullable(),
      rejected: z.record(z.string(), z.number()),
      gossip: z.record(z.string(), z.unknown()).nullable(),
      sync: z.record(z.string(), z.unknown()).nullable(),
      compaction: z.record(z.string(), z.unknown()).nullable(),
    }),
    handler: ({ principal, query }) => {
      operatorOnly(principal, operators)
      return replicaSummary(store, deps.mode, deps.replication, deps.now(), query.digest ?? true) as never
    },
  }))

  table.add(defineRoute({
    method: 'POST',
    path: '/admin/replica/members/:peer_id/retire',
    summary: 'Retire a cluster member that is gone for good, so compaction stops waiting for it',
    description: 'The peer id is refused from then on (no connection, no gossip) and the retirement reaches every node ' +
      'through sync; ops of the retired node that some member holds still spread. One silent member blocks log ' +
      'compaction on every node until it is retired. Refused (409) for this node and, unless `force`, for a peer ' +
      'connected now: stop it first. Permanent: the machine rejoins with a fresh data dir (a new peer id).',
    tag: 'admin',
    auth: ['jwt', 'service'],
    params: z.strictObject({ peer_id: origin }),
    body: z.strictObject({ force: z.boolean().optional().describe('retire it even though it is connected now') }),
    errors: ['forbidden', 'not_found', 'not_configured', 'conflict'],
    response: z.object({ peer_id: z.string(), retired: z.literal(true), changed: z.boolean(), was_connected: z.boolean(), members: z.array(z.string()) }),
    handler: ({ principal, params, body }) => {
      operatorOnly(principal, operators)
      const replication = deps.replication
      if (replication?.retire === undefined) throw new FormStateError('not_configured', 'this node runs no replication (a devnet has no cluster members)')
      const r = replication.retire(params.peer_id, { force: body.force === true })
      return { peer_id: params.peer_id, retired: true as const, changed: r.changed, was_connected: r.wasConnected, members: replication.status().members.map((m) => m.id) }
    },
  }))

  table.add(defineRoute({
    method: 'GET',
    path: '/admin/replica/accounts/:id',
    summary: 'Raw CRDT state of an account and its API keys, with each replica\'s contribution',
    description: 'Per field: kind, value and raw state (per-replica counter entries, register timestamps and writers, set dots). ' +
      'Key hashes are redacted.',
    tag: 'admin',
    auth: ['jwt', 'service'],
    params: z.strictObject({ id: accountId }),
    errors: ['forbidden', 'not_found'],
    response: z.object({ id: z.string(), account: entitySchema, keys: z.array(entitySchema) }),
    handler: ({ principal, params }) => {
      operatorOnly(principal, operators)
      const account = entityJson(store, accountKey(params.id))
      if (account === undefined) throw new FormStateError('not_found', `no entity ${accountKey(params.id)} on this replica`, { field: 'id' })
      const keys = apiKeyIds(store, params.id).sort().flatMap((k) => entityJson(store, apiKeyKey(k)) ?? [])
      return { id: params.id, account, keys }
    },
  }))

  table.add(defineRoute({
    method: 'GET',
    path: '/admin/replica/entity',
    summary: 'Raw CRDT state of any entity by key (acct/…, key/…, model/…), with each replica\'s contribution',
    description: 'What `formstate inspect diff` reads for an entity whose digest differs. Key hashes are redacted.',
    tag: 'admin',
    auth: ['jwt', 'service'],
    query: z.strictObject({ target: z.string().min(1).max(1024).describe('entity key, e.g. acct/acc_…') }),
    errors: ['forbidden', 'not_found'],
    response: entitySchema,
    handler: ({ principal, query }) => {
      operatorOnly(principal, operators)
      const e = entityJson(store, query.target)
      if (e === undefined) throw new FormStateError('not_found', 'no such entity on this replica', { field: 'target' })
      return e
    },
  }))

  table.add(defineRoute({
    method: 'GET',
    path: '/admin/replica/ops',
    summary: 'The op log, decoded (one origin after a seq, or every origin from the start)',
    description: `With \`origin\`: that origin's logged ops with seq > \`after\`. Without: the log's first ops ordered by origin then seq ` +
      `(\`after\` needs \`origin\`). \`limit\` 1–${MAX_OPS_PAGE}, default 100. \`next\` is the query for the following page, or null. ` +
      'Compacted ops are gone (see op_log.compacted_vv in /admin/replica).',
    tag: 'admin',
    auth: ['jwt', 'service'],
    query: z.strictObject({
      origin: origin.optional(),
      after: count(Number.MAX_SAFE_INTEGER).optional().describe('list ops with seq greater than this (needs origin)'),
      limit: count(MAX_OPS_PAGE).refine((n) => n >= 1, 'at least 1').optional(),
    }),
    errors: ['forbidden'],
    response: z.object({
      ops: z.array(opSchema),
      next: z.object({ origin: z.string(), after: z.number() }).nullable(),
    }),
    handler: async ({ principal, query }) => {
      operatorOnly(principal, operators)
      const limit = query.limit ?? 100
      if (query.after !== undefined && query.origin === undefined) {
        throw new FormStateError('invalid_field', 'after needs origin (seqs are per origin)', { field: 'after', extra: { in: 'query' } })
      }
      const ops = query.origin !== undefined
        ? await store.readLog(query.origin, query.after ?? 0, limit)
        : await store.opsAfter(new Map(), limit)
      const last = ops[ops.length - 1]
      return { ops: ops.map(opToJson), next: ops.length === limit && last !== undefined ? { origin: last.origin, after: last.seq } : null }
    },
  }))

  table.add(defineRoute({
    method: 'GET',
    path: '/admin/replica/digests',
    summary: 'Per-entity digests (sorted by key, paginated), to find which entities differ between replicas',
    description: `\`prefix\` filters keys (e.g. \`acct/\`); \`after\` is the last key of the previous page; \`limit\` 1–${MAX_DIGESTS_PAGE}, default 1000. ` +
      '`digest` (first page only) is the whole state\'s, so equal digests end a comparison at once. ' +
      'Cost: every page hashes the entities under `prefix` (about 4 µs each), so walk large replicas by prefix.',
    tag: 'admin',
    auth: ['jwt', 'service'],
    query: z.strictObject({
      prefix: z.string().max(256).optional(),
      after: z.string().max(1024).optional(),
      limit: count(MAX_DIGESTS_PAGE).refine((n) => n >= 1, 'at least 1').optional(),
    }),
    errors: ['forbidden'],
    response: z.object({
      digest: z.string().nullable(),
      total: z.number(),
      entities: z.array(z.object({ target: z.string(), digest: z.string() })),
      next: z.string().nullable(),
    }),
    handler: ({ principal, query }) => {
      operatorOnly(principal, operators)
      const limit = query.limit ?? 1000
      const all = [...store.entityDigests(query.prefix)]
      // Sorted by key already (store.targets order); find the page start by binary search.
      let lo = 0
      if (query.after !== undefined) {
        let hi = all.length
        while (lo < hi) {
          const mid = (lo + hi) >>> 1
          if (all[mid]![0] <= query.after) lo = mid + 1
          else hi = mid
        }
      }
      const page = all.slice(lo, lo + limit)
      const more = lo + limit < all.length
      return {
        // Hashing the whole state again per page would double a walk's cost: first page only.
        digest: query.after === undefined ? store.digest() : null,
        total: all.length,
        entities: page.map(([target, digest]) => ({ target, digest })),
        next: more ? page[page.length - 1]![0] : null,
      }
    },
  }))
}
