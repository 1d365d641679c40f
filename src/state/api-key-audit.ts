/**
 * Audit and usage of API keys, on the key's entity `key/<keyId>`:
 *
 *   events                          gmap: event id → record, for lifecycle events (created,
 *                                   updated, rotated, revoked). Ids are the HLC time and
 *                                   replica of the op, unique cluster-wide.
 *   use/<res>/<bucket>              gcounter per replica: requests made with the key in a window
 *   fail/<reason>/<res>/<bucket>    gcounter per replica: refused authentications in a window
 *
 * Usage and failures are counters per window, never one entry per request: a flood of
 * requests (or of bad secrets for a known key id) grows a number, not the state. Both are
 * shown as `ApiKeyEvent`s of type `usage` / `auth_failed`, one per window. Retention is
 * applied on read: lifecycle events for {@link EVENT_RETENTION_MS}, windows for their
 * resolution's retention (windows.ts).
 */
import { gcounterIncrement, type GCounter } from '../../crdt/gcounter.ts'
import { gmapPut } from '../../crdt/gmap.ts'
import type { Value } from '../../crdt/value-codec.ts'
import type { Change, Hlc, ReplicaStore } from '../store/types.ts'
import { inheritedRevoke } from './api-key-lineage.ts'
import { apiKeyKey, KIND } from './model.ts'
import { bucketOf, bucketStart, type Resolution, resolutionOfCode, RESOLUTIONS, retained } from './windows.ts'

/** Lifecycle events are shown for this long (90 days). */
export const EVENT_RETENTION_MS = 90 * 86_400_000

/** Why an authentication with a known key id was refused. */
export const AUTH_FAILURE_REASONS = ['bad_secret', 'revoked', 'expired', 'grace_ended', 'wrong_env'] as const
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number]

export const API_KEY_EVENT_TYPES = ['created', 'updated', 'rotated', 'revoked', 'auth_failed', 'usage'] as const
export type ApiKeyEventType = (typeof API_KEY_EVENT_TYPES)[number]

/** One audit event. Window events (`usage`, `auth_failed`) carry `window`, `count` and `at` = window start. */
export interface ApiKeyEvent {
  id: string
  key_id: string
  type: ApiKeyEventType
  at: number
  by?: string
  reason?: AuthFailureReason
  window?: Resolution
  count?: number
  details?: Record<string, unknown>
}

/** Resolutions key usage and failures are counted in. */
const KEY_RESOLUTIONS: readonly Resolution[] = ['hour', 'day']
/** Resolution window events are shown in. */
const EVENT_WINDOW: Resolution = 'hour'

function pad (n: number, w: number): string {
  return String(n).padStart(w, '0')
}

/** The id of an event written at HLC time `t` by this replica (unique cluster-wide). */
export function eventId (store: ReplicaStore, t: Hlc): string {
  return `${pad(t.wall, 15)}.${pad(t.logical, 6)}@${store.replicaId}`
}

/** The lifecycle event record written with an op; `t` is the op's HLC time (unique with the replica). */
export function eventChange (store: ReplicaStore, t: Hlc, record: { type: ApiKeyEventType, at: number, by: string, [k: string]: Value }): Change {
  return { field: 'events', kind: KIND.gmap, delta: gmapPut(eventId(store, t), record) }
}

/** Requests (no `reason`) or refusals (with `reason`) counted in the window containing `at`. */
export interface KeyCount {
  at: number
  n: number
  reason?: AuthFailureReason
}

/** Entry key of the `last_used` max register (a gcounter with one entry: merge is max). */
const LAST_USED_ENTRY = 'at'

/**
 * The changes recording aggregated activity of one key: its usage and failure windows
 * (counts summed per field first, so two hour windows of one day make one day delta) and,
 * when given, `last_used` moved up to `lastUsed`.
 */
export function keyActivityChanges (store: ReplicaStore, keyId: string, counts: readonly KeyCount[], lastUsed?: number): Change[] {
  const perField = new Map<string, number>()
  for (const c of counts) {
    if (c.n <= 0) continue
    const prefix = c.reason === undefined ? 'use' : `fail/${c.reason}`
    for (const res of KEY_RESOLUTIONS) {
      const field = `${prefix}/${RESOLUTIONS[res].code}/${bucketOf(res, c.at)}`
      perField.set(field, (perField.get(field) ?? 0) + c.n)
    }
  }
  const target = apiKeyKey(keyId)
  const entity = perField.size > 0 ? store.entity(target) : undefined
  const out: Change[] = []
  for (const [field, n] of perField) {
    const s = (entity?.get(field)?.state as GCounter | undefined) ?? []
    out.push({ field, kind: KIND.g, delta: gcounterIncrement(s, store.replicaId, n) })
  }
  if (lastUsed !== undefined) out.push({ field: 'last_used', kind: KIND.g, delta: { key: LAST_USED_ENTRY, value: Math.max(1, Math.floor(lastUsed)) } })
  return out
}

function lineageOfStored (store: ReplicaStore, keyId: string): string[] | undefined {
  const from = store.fieldValue(apiKeyKey(keyId), 'rotated_from')
  if (typeof from !== 'string') return undefined
  const lineage = store.fieldValue(apiKeyKey(keyId), 'lineage')
  return Array.isArray(lineage) ? lineage as string[] : [from]
}

function sum (g: GCounter): number {
  let n = 0
  for (let i = 1; i < g.length; i += 2) n += g[i] as number
  return n
}

/** Requests per `res` window with start in [from, to), retained at `now`, ascending. */
export function keyUsageBuckets (store: ReplicaStore, keyId: string, res: Resolution, from: number, to: number, now: number): Array<{ start: number, requests: number }> {
  const entity = store.entity(apiKeyKey(keyId))
  if (entity === undefined) return []
  const code = RESOLUTIONS[res].code
  const out: Array<{ start: number, requests: number }> = []
  for (const [field, fs] of entity) {
    if (!field.startsWith('use/')) continue
    const [, c, b] = field.split('/')
    if (c !== code) continue
    const bucket = Number(b)
    const start = bucketStart(res, bucket)
    if (start < from || start >= to || !retained(res, bucket, now)) continue
    out.push({ start, requests: sum(fs.state as GCounter) })
  }
  return out.sort((a, b) => a.start - b.start)
}

/**
 * The key's events at `now`, newest first: lifecycle events within retention, plus one
 * `usage` and one `auth_failed` (per reason) event per hour window that had any.
 */
export function keyEvents (store: ReplicaStore, keyId: string, now: number): ApiKeyEvent[] {
  const entity = store.entity(apiKeyKey(keyId))
  if (entity === undefined) return []
  const out: ApiKeyEvent[] = []
  const events = store.fieldValue(apiKeyKey(keyId), 'events') as Array<[string, Value]> | undefined
  for (const [id, rec] of events ?? []) {
    const { type, at, by, ...details } = rec as Record<string, Value>
    if (typeof at !== 'number' || at <= now - EVENT_RETENTION_MS) continue
    out.push({ id, key_id: keyId, type: type as ApiKeyEventType, at, ...(typeof by === 'string' ? { by } : {}), ...(Object.keys(details).length > 0 ? { details } : {}) })
  }
  const lineage = lineageOfStored(store, keyId)
  const via = lineage === undefined ? undefined : inheritedRevoke(store, keyId, lineage)
  if (via !== undefined && via.at > now - EVENT_RETENTION_MS) {
    // Not an op on this key: derived from a predecessor's revoke that had not seen this rotation.
    out.push({ id: `lineage:${via.id}`, key_id: keyId, type: 'revoked', at: via.at, by: via.by, details: { via: via.key, saw_rotations: via.saw, reason: 'a predecessor was revoked concurrently with the rotation that made this key' } })
  }
  const code = RESOLUTIONS[EVENT_WINDOW].code
  for (const [field, fs] of entity) {
    const parts = field.split('/')
    let type: 'usage' | 'auth_failed'
    let reason: AuthFailureReason | undefined
    if (parts[0] === 'use' && parts.length === 3) type = 'usage'
    else if (parts[0] === 'fail' && parts.length === 4) { type = 'auth_failed'; reason = parts[1] as AuthFailureReason; parts.splice(1, 1) }
    else continue
    if (parts[1] !== code || resolutionOfCode(parts[1]) !== EVENT_WINDOW) continue
    const bucket = Number(parts[2])
    if (!retained(EVENT_WINDOW, bucket, now)) continue
    const at = bucketStart(EVENT_WINDOW, bucket)
    out.push({
      id: `${type}:${reason !== undefined ? reason + ':' : ''}${at}`,
      key_id: keyId,
      type,
      at,
      ...(reason !== undefined ? { reason } : {}),
      window: EVENT_WINDOW,
      count: sum(fs.state as GCounter),
    })
  }
  return out.sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1))
}
