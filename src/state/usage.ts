/**
 * Usage counters: per model (input/output tokens, requests) and per agent (invocations by
 * operation), in minute/hour/day windows. Each is a G-counter entry per replica, so
 * concurrent recording on several nodes adds up. Fields:
 * `u/<metric>/<subject>/<res>/<bucket>` with subject `model:<id>` or `agent:<id>`.
 */
import { gcounterIncrement, type GCounter } from '../../crdt/gcounter.ts'
import type { Change, ReplicaStore } from '../store/types.ts'
import { accountKey, fieldState, KIND } from './model.ts'
import { bucketOf, bucketStart, RESOLUTION_NAMES, type Resolution, resolutionOfCode, RESOLUTIONS, retained } from './windows.ts'

export type Subject = { type: 'model' | 'agent', id: string }

export interface UsageAmounts {
  /** metric → amount, e.g. { tokens_in: 120, tokens_out: 40, requests: 1 } or { 'invocations:run': 1 }. */
  [metric: string]: number
}

function subjectName (s: Subject): string {
  return `${s.type}:${s.id}`
}

/** Changes adding `amounts` for `subject` at time `at` in every resolution. */
export function usageChanges (store: ReplicaStore, accountId: string, subject: Subject, amounts: UsageAmounts, at: number): Change[] {
  const target = accountKey(accountId)
  const out: Change[] = []
  for (const [metric, n] of Object.entries(amounts)) {
    if (n <= 0) continue
    for (const res of RESOLUTION_NAMES) {
      const field = `u/${metric}/${subjectName(subject)}/${RESOLUTIONS[res].code}/${bucketOf(res, at)}`
      const s = fieldState<GCounter>(store, target, field) ?? []
      out.push({ field, kind: KIND.g, delta: gcounterIncrement(s, store.replicaId, n) })
    }
  }
  return out
}

/** Changes adding `credits` spent at `at` to the consumption windows. */
export function spendWindowChanges (store: ReplicaStore, accountId: string, credits: number, at: number): Change[] {
  if (credits <= 0) return []
  const target = accountKey(accountId)
  return RESOLUTION_NAMES.map((res) => {
    const field = `spent/${RESOLUTIONS[res].code}/${bucketOf(res, at)}`
    const s = fieldState<GCounter>(store, target, field) ?? []
    return { field, kind: KIND.g, delta: gcounterIncrement(s, store.replicaId, credits) }
  })
}

export interface UsageRow {
  metric: string
  subject: Subject
  resolution: Resolution
  start: number
  value: number
}

/** Usage rows of one resolution with bucket start in [from, to), retained at `now`. */
export function usageRows (store: ReplicaStore, accountId: string, res: Resolution, from: number, to: number, now: number): UsageRow[] {
  const entity = store.entity(accountKey(accountId))
  if (entity === undefined) return []
  const code = RESOLUTIONS[res].code
  const rows: UsageRow[] = []
  for (const [field, fs] of entity) {
    if (!field.startsWith('u/')) continue
    const parts = field.split('/')
    if (parts.length !== 5 || parts[3] !== code) continue
    const bucket = Number(parts[4])
    const start = bucketStart(res, bucket)
    if (start < from || start >= to || !retained(res, bucket, now)) continue
    const [type, ...rest] = parts[2]!.split(':')
    rows.push({
      metric: parts[1]!,
      subject: { type: type as Subject['type'], id: rest.join(':') },
      resolution: res,
      start,
      value: sumCounter(fs.state as GCounter),
    })
  }
  return rows
}

/** Consumption per window: [{start, credits}] for one resolution in [from, to). */
export function spendRows (store: ReplicaStore, accountId: string, res: Resolution, from: number, to: number, now: number): Array<{ start: number, credits: number }> {
  const entity = store.entity(accountKey(accountId))
  if (entity === undefined) return []
  const out: Array<{ start: number, credits: number }> = []
  for (const [field, fs] of entity) {
    if (!field.startsWith('spent/')) continue
    const [, code, b] = field.split('/')
    if (resolutionOfCode(code!) !== res) continue
    const bucket = Number(b)
    const start = bucketStart(res, bucket)
    if (start < from || start >= to || !retained(res, bucket, now)) continue
    out.push({ start, credits: sumCounter(fs.state as GCounter) })
  }
  return out.sort((a, b) => a.start - b.start)
}

function sumCounter (g: GCounter): number {
  let n = 0
  for (let i = 1; i < g.length; i += 2) n += g[i] as number
  return n
}
