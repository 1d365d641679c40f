/**
 * `formstate inspect diff A B`: compares two replicas top-down. Whole-state digests first
 * (equal: done); then per-entity digests to find which entities differ or exist on one side
 * only; then, for each differing entity (accounts first), the raw CRDT state of both sides
 * field by field, down to the entries that differ (per-replica counter entries, register
 * timestamps and writers, set dots).
 */
import type { AdminClient, EntityJson, FieldJson } from './inspect-client.ts'

/** One leaf of a field's raw state that differs; `undefined` means absent on that side. */
export interface EntryDiff { path: string, a: unknown, b: unknown }

export interface FieldDiff {
  field: string
  kind: string
  /** The field exists on one side only. */
  only?: 'a' | 'b'
  valueA?: unknown
  valueB?: unknown
  entries: EntryDiff[]
}

export interface EntityDiff {
  target: string
  /** The account id for `acct/…` entities. */
  account?: string
  only?: 'a' | 'b'
  fields: FieldDiff[]
}

export interface DiffReport {
  equal: boolean
  a: { url: string, replica: string, digest: string }
  b: { url: string, replica: string, digest: string }
  entitiesA: number
  entitiesB: number
  onlyA: string[]
  onlyB: string[]
  differ: string[]
  /** Entities examined field by field (at most `maxEntities`; accounts first). */
  details: EntityDiff[]
  /** More entities differ than were examined. */
  truncated: boolean
}

export interface DiffOptions {
  /** Entities examined field by field (default 20). */
  maxEntities?: number
  /** Differing leaves listed per field (default 20). */
  maxEntries?: number
  /** Only entities whose key starts with this (default all). */
  prefix?: string
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/

function childPath (base: string, key: string): string {
  if (IDENT.test(key)) return base === '' ? key : `${base}.${key}`
  return `${base}[${JSON.stringify(key)}]`
}

function isObject (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** Leaves where `a` and `b` differ (objects by key, arrays by index), at most `max`. */
export function leafDiffs (a: unknown, b: unknown, max: number, path = '', out: EntryDiff[] = []): EntryDiff[] {
  if (out.length >= max) return out
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()
    for (const k of keys) {
      leafDiffs(Object.hasOwn(a, k) ? a[k] : undefined, Object.hasOwn(b, k) ? b[k] : undefined, max, childPath(path, k), out)
    }
    return out
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) leafDiffs(a[i], b[i], max, `${path}[${i}]`, out)
    return out
  }
  if (JSON.stringify(a) !== JSON.stringify(b)) out.push({ path: path === '' ? '(state)' : path, a, b })
  return out
}

/** Field-by-field comparison of one entity's raw state on both sides. */
export function entityDiff (target: string, a: EntityJson | undefined, b: EntityJson | undefined, maxEntries = 20): EntityDiff {
  const account = target.startsWith('acct/') ? target.slice('acct/'.length) : undefined
  const base: EntityDiff = { target, ...(account !== undefined ? { account } : {}), fields: [] }
  if (a === undefined || b === undefined) {
    const side = a === undefined ? 'b' : 'a'
    // Both absent only if the entity vanished between the digest listing and this read.
    const fields = Object.entries((a ?? b)?.fields ?? {}).map(([field, f]): FieldDiff => ({
      field, kind: f.kind, only: side, ...(side === 'a' ? { valueA: f.value } : { valueB: f.value }), entries: [],
    }))
    return { ...base, only: side, fields }
  }
  const names = [...new Set([...Object.keys(a.fields), ...Object.keys(b.fields)])].sort()
  for (const field of names) {
    const fa: FieldJson | undefined = a.fields[field]
    const fb: FieldJson | undefined = b.fields[field]
    if (fa === undefined || fb === undefined) {
      const f = (fa ?? fb)!
      base.fields.push({ field, kind: f.kind, only: fa === undefined ? 'b' : 'a', ...(fa !== undefined ? { valueA: fa.value } : { valueB: fb!.value }), entries: [] })
      continue
    }
    const entries = leafDiffs(fa.state, fb.state, maxEntries)
    if (entries.length === 0 && fa.kind === fb.kind) continue
    base.fields.push({ field, kind: fa.kind === fb.kind ? fa.kind : `${fa.kind} vs ${fb.kind}`, valueA: fa.value, valueB: fb.value, entries })
  }
  return base
}

/** Compares the replicas behind `a` and `b`. */
export async function diffReplicas (a: AdminClient, b: AdminClient, opts: DiffOptions = {}): Promise<DiffReport> {
  const [sa, sb] = await Promise.all([a.status(), b.status()])
  const report: DiffReport = {
    equal: sa.digest === sb.digest,
    a: { url: a.url, replica: sa.node.replica_id, digest: sa.digest ?? '' },
    b: { url: b.url, replica: sb.node.replica_id, digest: sb.digest ?? '' },
    entitiesA: 0, entitiesB: 0, onlyA: [], onlyB: [], differ: [], details: [], truncated: false,
  }
  if (report.equal && opts.prefix === undefined) return report

  const [da, db] = await Promise.all([a.allDigests(opts.prefix), b.allDigests(opts.prefix)])
  report.entitiesA = da.size
  report.entitiesB = db.size
  for (const [t, d] of da) {
    const other = db.get(t)
    if (other === undefined) report.onlyA.push(t)
    else if (other !== d) report.differ.push(t)
  }
  for (const t of db.keys()) if (!da.has(t)) report.onlyB.push(t)
  report.equal = report.onlyA.length === 0 && report.onlyB.length === 0 && report.differ.length === 0 && (opts.prefix !== undefined || sa.digest === sb.digest)

  // Accounts first: they are what operators ask about; then everything else in key order.
  const candidates = [...report.differ, ...report.onlyA, ...report.onlyB]
    .sort((x, y) => Number(!x.startsWith('acct/')) - Number(!y.startsWith('acct/')) || (x < y ? -1 : x > y ? 1 : 0))
  const max = opts.maxEntities ?? 20
  report.truncated = candidates.length > max
  for (const t of candidates.slice(0, max)) {
    const [ea, eb] = await Promise.all([entityOrNone(a, t), entityOrNone(b, t)])
    report.details.push(entityDiff(t, ea, eb, opts.maxEntries))
  }
  return report
}

async function entityOrNone (c: AdminClient, target: string): Promise<EntityJson | undefined> {
  try {
    return await c.get<EntityJson>(`/admin/replica/entity?target=${encodeURIComponent(target)}`)
  } catch (err) {
    if ((err as { status?: number }).status === 404) return undefined
    throw err
  }
}
