/**
 * Audit and usage of API keys, on the key's entity `key/<keyId>`:
 *
 *   audit             hmap (crdt/hmap.ts): event id → record, for lifecycle events (created,
 *                     updated, rotated, revoked), each at its time, the horizon raised by
 *                     every write to `at - EVENT_RETENTION_MS`. Ids are the HLC time and
 *                     replica of the op, unique cluster-wide. (`events`, a gmap, is the
 *                     pre-retention field: still read, never written.)
 *   use               wcounter (crdt/wcounter.ts): requests made with the key, every hour and
 *                     day window in one field, a per-replica entry per window
 *   fail/<reason>     wcounter: refused authentications for one reason, likewise
 *
 * Usage and failures are counters per window, never one entry per request: a flood of
 * requests (or of bad secrets for a known key id) grows a number, not the state. Each write
 * carries the writer's horizon per resolution (windows.ts's retention), so windows past
 * retention are dropped as the key is used: a key's window state is bounded by retention,
 * not by its age. Both are shown as `ApiKeyEvent`s of type `usage` / `auth_failed`, one per
 * window. Lifecycle events are kept and shown for {@link EVENT_RETENTION_MS}.
 */
import { hmapPut, hmapType } from '../../crdt/hmap.ts'
import { type WindowedCounter, type WindowedIncrement, windowedEach, windowedIncrement, wcounterType } from '../../crdt/wcounter.ts'
import type { Value } from '../../crdt/value-codec.ts'
import type { Change, Hlc, ReplicaStore } from '../store/types.ts'
import { inheritedRevoke } from './api-key-lineage.ts'
import { apiKeyKey, KIND } from './model.ts'
import { bucketOf, bucketStart, horizonOf, type Resolution, RESOLUTIONS } from './windows.ts'

/** Lifecycle events are kept and shown for this long (90 days). */
export const EVENT_RETENTION_MS = 90 * 86_400_000

/** The field holding a key's lifecycle events (horizon-bounded map). */
export const EVENTS_FIELD = 'audit'
/** The pre-retention lifecycle events field (a gmap): read for old data, never written. */
const LEGACY_EVENTS_FIELD = 'events'

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
  const at = Math.max(0, Math.floor(record.at))
  // The writer's horizon: events past retention are dropped as the key changes.
  return { field: EVENTS_FIELD, kind: hmapType.kind, delta: hmapPut(eventId(store, t), at, record, Math.max(0, at - EVENT_RETENTION_MS)) }
}

/** Requests (no `reason`) or refusals (with `reason`) counted in the window containing `at`. */
export interface KeyCount {
  at: number
  n: number
  reason?: AuthFailureReason
}

/** Entry key of the `last_used` max register (a gcounter with one entry: merge is max). */
const LAST_USED_ENTRY = 'at'

/** The field counting requests made with a key. */
export const USE_FIELD = 'use'

/** The field counting refusals of a key for `reason`. */
export function failField (reason: AuthFailureReason): string {
  return `fail/${reason}`
}

/**
 * The changes adding `perBucket` (hour bucket → n) to the windowed counter `field`, each
 * window also counted in its day. A delta carries one increment per resolution, so counts
 * spanning several hours (a flush after a window change) take one change per hour, each
 * computed on the state the previous one left (the store applies an op's changes to one
 * field in order). Every change carries the horizons at `latest`.
 */
function windowChanges (store: ReplicaStore, target: string, field: string, perHour: Map<number, number>, latest: number): Change[] {
  const hours = [...perHour].sort((x, y) => x[0] - y[0])
  const perDay = new Map<number, number>()
  for (const [h, n] of hours) {
    const d = bucketOf('day', bucketStart('hour', h))
    perDay.set(d, (perDay.get(d) ?? 0) + n)
  }
  const days = [...perDay]
  const hH = horizonOf('hour', latest)
  const hD = horizonOf('day', latest)
  let s = store.field(target, field)?.state as WindowedCounter | undefined ?? []
  const out: Change[] = []
  for (let i = 0; i < Math.max(hours.length, days.length); i++) {
    const incs: WindowedIncrement[] = []
    const h = hours[i]
    const d = days[i]
    if (h !== undefined) incs.push({ slot: RESOLUTIONS.hour.slot, bucket: h[0], n: h[1], horizon: hH })
    if (d !== undefined) incs.push({ slot: RESOLUTIONS.day.slot, bucket: d[0], n: d[1], horizon: hD })
    const delta = windowedIncrement(s, store.replicaId, incs)
    if (delta === undefined) continue
    out.push({ field, kind: KIND.windows, delta })
    if (i + 1 < Math.max(hours.length, days.length)) s = wcounterType.apply(wcounterType.clone(s), delta)
  }
  return out
}

/**
 * The changes recording aggregated activity of one key: its usage and failure windows
 * (counts summed per field and window first) and, when given, `last_used` moved up to
 * `lastUsed`. Horizons are those at the latest count's time.
 */
export function keyActivityChanges (store: ReplicaStore, keyId: string, counts: readonly KeyCount[], lastUsed?: number): Change[] {
  const perField = new Map<string, Map<number, number>>()
  let latest = 0
  for (const c of counts) {
    if (c.n <= 0) continue
    const field = c.reason === undefined ? USE_FIELD : failField(c.reason)
    let m = perField.get(field)
    if (m === undefined) perField.set(field, m = new Map())
    const h = bucketOf('hour', c.at)
    m.set(h, (m.get(h) ?? 0) + c.n)
    if (c.at > latest) latest = c.at
  }
  const target = apiKeyKey(keyId)
  const out: Change[] = []
  for (const [field, m] of perField) out.push(...windowChanges(store, target, field, m, latest))
  if (lastUsed !== undefined) out.push({ field: 'last_used', kind: KIND.g, delta: { key: LAST_USED_ENTRY, value: Math.max(1, Math.floor(lastUsed)) } })
  return out
}

function lineageOfStored (store: ReplicaStore, keyId: string): string[] | undefined {
  const from = store.fieldValue(apiKeyKey(keyId), 'rotated_from')
  if (typeof from !== 'string') return undefined
  const lineage = store.fieldValue(apiKeyKey(keyId), 'lineage')
  return Array.isArray(lineage) ? lineage as string[] : [from]
}

/**
 * Calls `fn(start, total)` for the windows of `res` in a windowed counter with start in
 * `[from, to)` retained at `now` (a key not used lately still holds windows its horizon has
 * not caught up with: they are hidden here, as they were before the horizon existed).
 */
function eachWindow (s: WindowedCounter, res: Resolution, from: number, to: number, now: number, fn: (start: number, total: number) => void): void {
  const lo = Math.max(horizonOf(res, now), Math.ceil(from / RESOLUTIONS[res].sizeMs))
  const hi = Math.ceil(to / RESOLUTIONS[res].sizeMs)
  windowedEach(s, RESOLUTIONS[res].slot, lo, hi, (bucket, total) => fn(bucketStart(res, bucket), total))
}

/** Requests per `res` window with start in [from, to), retained at `now`, ascending. */
export function keyUsageBuckets (store: ReplicaStore, keyId: string, res: Resolution, from: number, to: number, now: number): Array<{ start: number, requests: number }> {
  const fs = store.field(apiKeyKey(keyId), USE_FIELD)
  const out: Array<{ start: number, requests: number }> = []
  if (fs !== undefined && fs.kind === KIND.windows) eachWindow(fs.state as WindowedCounter, res, from, to, now, (start, requests) => out.push({ start, requests }))
  return out
}

/**
 * The key's events at `now`, newest first: lifecycle events within retention, plus one
 * `usage` and one `auth_failed` (per reason) event per hour window that had any.
 */
export function keyEvents (store: ReplicaStore, keyId: string, now: number): ApiKeyEvent[] {
  const entity = store.entity(apiKeyKey(keyId))
  if (entity === undefined) return []
  const out: ApiKeyEvent[] = []
  const legacy = store.fieldValue(apiKeyKey(keyId), LEGACY_EVENTS_FIELD) as Array<[string, Value]> | undefined
  const events = store.fieldValue(apiKeyKey(keyId), EVENTS_FIELD) as Array<[string, Value]> | undefined
  for (const [id, rec] of [...(legacy ?? []), ...(events ?? [])]) {
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
  for (const [field, fs] of entity) {
    if (fs.kind !== KIND.windows) continue
    let type: 'usage' | 'auth_failed'
    let reason: AuthFailureReason | undefined
    if (field === USE_FIELD) type = 'usage'
    else if (field.startsWith('fail/')) { type = 'auth_failed'; reason = field.slice(5) as AuthFailureReason } else continue
    eachWindow(fs.state as WindowedCounter, EVENT_WINDOW, 0, Number.MAX_SAFE_INTEGER, now, (at, count) => {
      out.push({
        id: `${type}:${reason !== undefined ? reason + ':' : ''}${at}`,
        key_id: keyId,
        type,
        at,
        ...(reason !== undefined ? { reason } : {}),
        window: EVENT_WINDOW,
        count,
      })
    })
  }
  return out.sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1))
}
