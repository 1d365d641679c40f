/**
 * API keys: create (the secret shown once), list, show, edit, revoke, rotate, and their
 * audit events and usage. Callable by the account owner's JWT or by a key holding
 * `keys:manage`, always on the caller's own account; another account's key answers 404
 * exactly like an unknown id.
 */
import { z } from 'zod'
import type { ApiKeysRuntime } from '../../auth/api-keys-runtime.ts'
import { FormStateError } from '../../errors.ts'
import { accountApiKeys } from '../../state/api-keys.ts'
import { keyEvents, keyUsageBuckets } from '../../state/api-key-audit.ts'
import { effectiveTier, subscriptionOf } from '../../state/subscription.ts'
import { bucketOf, bucketStart, RESOLUTIONS, type Resolution } from '../../state/windows.ts'
import { actorOf, createKey, keyView, managedAccount, ownedKey, revokeKey, rotateKey, SECRET_WARNING, updateKey, type KeyActionDeps } from '../api-key-actions.ts'
import { apiKeyEventView, apiKeyView, createdKeyView, createKeyBody, DEFAULT_GRACE_SECONDS, eventsQuery, keyIdParams, rotateKeyBody, updateKeyBody } from '../api-key-schemas.ts'
import { timeQuery } from '../billing-schemas.ts'
import type { ApiDeps } from '../deps.ts'
import { defineRoute, type RouteTable } from '../openapi.ts'

const AUTH = ['jwt', 'api_key'] as const
const SCOPES = ['keys:manage'] as const

/** Registers the key routes; none when the app was built without the keys feature (`deps.keys`). */
export function registerApiKeyRoutes (table: RouteTable, deps: ApiDeps): void {
  const keys: ApiKeysRuntime | undefined = deps.keys
  if (keys === undefined) return
  const d: KeyActionDeps = { store: deps.store, billing: deps.billing, now: deps.now, keys }
  const { store, log } = deps
  const view = (k: Parameters<typeof keyView>[0]): ReturnType<typeof keyView> => keyView(k, keys.env, deps.now(), keys)

  table.add(defineRoute({
    method: 'POST',
    path: '/api-keys/create',
    summary: 'Create an API key; the secret is in this answer only',
    description: 'Scopes must be ones the caller holds. 402 api_key_limit_reached (with an upgrade hint) at the plan\'s active-key limit.',
    auth: AUTH,
    scopes: SCOPES,
    body: createKeyBody,
    status: 201,
    errors: ['api_key_limit_reached', 'insufficient_scope', 'not_found'],
    response: createdKeyView,
    handler: async ({ principal, body }) => {
      const { key, secret } = await createKey(d, principal, body)
      log.info('api key created', { key_id: key.id, account_id: key.accountId, by: actorOf(principal) })
      return { ...view(key), key: secret, warning: SECRET_WARNING }
    },
  }))

  table.add(defineRoute({
    method: 'GET',
    path: '/api-keys',
    summary: 'Your API keys (never their secrets)',
    auth: AUTH,
    scopes: SCOPES,
    response: z.object({ keys: z.array(apiKeyView), active: z.number(), limit: z.number().nullable() }),
    handler: ({ principal }) => {
      const accountId = managedAccount(store, principal)
      const list = accountApiKeys(store, accountId).map(view)
      const tierLimit = deps.billing.tiers[effectiveTier(subscriptionOf(store, accountId))].api_key_limit
      return { keys: list, active: list.filter((k) => k.status === 'active' && k.rotated_to === null).length, limit: tierLimit }
    },
  }))

  // Before /api-keys/:id so that `events` is not taken for a key id.
  table.add(defineRoute({
    method: 'GET',
    path: '/api-keys/events',
    summary: 'Audit events of all your keys, newest first',
    auth: AUTH,
    scopes: SCOPES,
    query: eventsQuery,
    response: z.object({ events: z.array(apiKeyEventView) }),
    handler: ({ principal, query }) => {
      const accountId = managedAccount(store, principal)
      const now = deps.now()
      const all = accountApiKeys(store, accountId).flatMap((k) => keyEvents(store, k.id, now))
      all.sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1))
      return { events: all.slice(0, query.limit ?? 100) }
    },
  }))

  table.add(defineRoute({
    method: 'GET',
    path: '/api-keys/:id',
    summary: 'One of your API keys',
    auth: AUTH,
    scopes: SCOPES,
    params: keyIdParams,
    errors: ['not_found'],
    response: apiKeyView,
    handler: ({ principal, params }) => view(ownedKey(store, managedAccount(store, principal), params.id)),
  }))

  table.add(defineRoute({
    method: 'PATCH',
    path: '/api-keys/:id',
    summary: 'Rename a key, change its scopes or expiry',
    description: 'A revoked key cannot be edited (409); a revoke concurrent with an edit elsewhere still wins.',
    auth: AUTH,
    scopes: SCOPES,
    params: keyIdParams,
    body: updateKeyBody,
    errors: ['not_found', 'conflict', 'insufficient_scope'],
    response: apiKeyView,
    handler: async ({ principal, params, body }) => {
      const k = await updateKey(d, principal, params.id, {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.scopes !== undefined ? { scopes: body.scopes } : {}),
        ...(body.expires_at !== undefined ? { expiresAt: body.expires_at } : {}),
      })
      return view(k)
    },
  }))

  table.add(defineRoute({
    method: 'DELETE',
    path: '/api-keys/:id',
    summary: 'Revoke a key (at once on this node; wins over concurrent edits everywhere)',
    description: 'Also revokes keys rotated from this one that this node had not seen when the revoke was made (a rotation ' +
      'concurrent with the revoke, elsewhere), and their own rotations. A rotation already seen is left alone: revoking the old ' +
      'key during its grace does not touch the new key. The revoked event lists the rotations it saw (`saw_rotations`); a key ' +
      'revoked through its predecessor shows a `revoked` event with `details.via`.',
    auth: AUTH,
    scopes: SCOPES,
    params: keyIdParams,
    errors: ['not_found'],
    response: apiKeyView,
    handler: async ({ principal, params }) => {
      const k = await revokeKey(d, principal, params.id)
      log.info('api key revoked', { key_id: k.id, account_id: k.accountId, by: actorOf(principal) })
      return view(k)
    },
  }))

  table.add(defineRoute({
    method: 'POST',
    path: '/api-keys/:id/rotate',
    summary: 'Rotate a key: a new secret now, the old one works until the grace period ends',
    description: 'The new key keeps the old key\'s name, scopes and expiry. 409 for a revoked, expired or already rotated key.',
    auth: AUTH,
    scopes: SCOPES,
    params: keyIdParams,
    body: rotateKeyBody,
    status: 201,
    errors: ['not_found', 'conflict'],
    response: createdKeyView.extend({ old: apiKeyView }),
    handler: async ({ principal, params, body }) => {
      const { key, secret, old } = await rotateKey(d, principal, params.id, body.grace_seconds ?? DEFAULT_GRACE_SECONDS)
      log.info('api key rotated', { key_id: old.id, rotated_to: key.id, account_id: key.accountId, by: actorOf(principal) })
      return { ...view(key), key: secret, warning: SECRET_WARNING, old: view(old) }
    },
  }))

  table.add(defineRoute({
    method: 'GET',
    path: '/api-keys/:id/events',
    summary: 'Audit events of one key, newest first',
    description: 'Lifecycle events (created, updated, rotated, revoked) for 90 days; usage and auth_failed per hour window for 7 days.',
    auth: AUTH,
    scopes: SCOPES,
    params: keyIdParams,
    query: eventsQuery,
    errors: ['not_found'],
    response: z.object({ events: z.array(apiKeyEventView) }),
    handler: ({ principal, params, query }) => {
      const k = ownedKey(store, managedAccount(store, principal), params.id)
      return { events: keyEvents(store, k.id, deps.now()).slice(0, query.limit ?? 100) }
    },
  }))

  table.add(defineRoute({
    method: 'GET',
    path: '/api-keys/:id/usage',
    summary: 'Requests made with one key, per hour or day window',
    auth: AUTH,
    scopes: SCOPES,
    params: keyIdParams,
    query: z.strictObject({ window: z.enum(['hour', 'day']).optional(), from: timeQuery.optional(), to: timeQuery.optional() }),
    errors: ['not_found'],
    response: z.object({
      key_id: z.string(),
      window: z.string(),
      from: z.number(),
      to: z.number(),
      total: z.number(),
      last_used_at: z.number().nullable(),
      buckets: z.array(z.object({ start: z.number(), requests: z.number() })),
    }),
    handler: ({ principal, params, query }) => {
      const k = ownedKey(store, managedAccount(store, principal), params.id)
      const res: Resolution = query.window ?? 'hour'
      const now = deps.now()
      const from = query.from ?? bucketStart(res, bucketOf(res, now) - RESOLUTIONS[res].retention + 1)
      const to = query.to ?? bucketStart(res, bucketOf(res, now) + 1)
      if (from >= to) throw new FormStateError('invalid_field', 'from must be before to', { field: 'from' })
      // Stored windows plus this node's uses not flushed yet.
      const byStart = new Map(keyUsageBuckets(store, k.id, res, from, to, now).map((b) => [b.start, b.requests]))
      for (const p of keys.activity.pendingUsage(k.id)) {
        const start = bucketStart(res, bucketOf(res, p.at))
        if (start >= from && start < to) byStart.set(start, (byStart.get(start) ?? 0) + p.n)
      }
      const buckets = [...byStart].map(([start, requests]) => ({ start, requests })).sort((a, b) => a.start - b.start)
      return { key_id: k.id, window: res, from, to, total: buckets.reduce((s, b) => s + b.requests, 0), last_used_at: view(k).last_used_at, buckets }
    },
  }))
}
