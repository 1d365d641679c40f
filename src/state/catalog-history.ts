/**
 * A catalog item's edit history, read from Automerge's change graph: who changed which
 * fields, when, and what they were afterwards ("who changed this price, and when").
 */
import * as Automerge from '@automerge/automerge'
import type { ReplicaStore } from '../store/types.ts'
import type { AmState } from './automerge-kind.ts'
import { CATALOG_FIELD, catalogKey, type CatalogKind, type ChangeNote } from './catalog.ts'
import { fieldState } from './model.ts'

export interface HistoryEntry {
  /** Change hash (stable across nodes). */
  hash: string
  /** Automerge actor (one per replica) and its sequence number. */
  actor: string
  seq: number
  op: ChangeNote['op'] | null
  /** Principal subject that made the change (null for a change without our message). */
  by: string | null
  project: string | null
  /** When the change was made: its advisory timestamp, ms (whole seconds). */
  at: number
  /** Changed fields as dotted paths (`pricing.per_1k_input`). */
  fields: string[]
  /** Each changed field's value right after the change. */
  values: Record<string, unknown>
}

function parseNote (message: string | null): ChangeNote | undefined {
  if (message === null) return undefined
  try {
    const n = JSON.parse(message) as Partial<ChangeNote>
    if (typeof n.by !== 'string' || !Array.isArray(n.fields) || !n.fields.every((f) => typeof f === 'string')) return undefined
    return n as ChangeNote
  } catch { return undefined }
}

function at (obj: unknown, path: string): unknown {
  let cur = obj
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, key)) return undefined
    cur = (cur as Record<string, unknown>)[key]
  }
  return cur
}

export interface HistoryOptions {
  /** Only changes touching this field (a dotted path, or a prefix of one: `pricing`). */
  field?: string
  /** The most recent `limit` entries. Default 100. */
  limit?: number
}

/**
 * The item's changes in causal order (a change always after the ones it saw; concurrent
 * changes in this node's order), or undefined when the item does not exist here.
 */
export function catalogHistory (store: ReplicaStore, kind: CatalogKind, id: string, opts: HistoryOptions = {}): HistoryEntry[] | undefined {
  const s = fieldState<AmState>(store, catalogKey(kind, id), CATALOG_FIELD)
  if (s === undefined) return undefined
  const wanted = opts.field
  const touches = (f: string): boolean => wanted === undefined || f === wanted || f.startsWith(wanted + '.') || wanted.startsWith(f + '.')
  const out: HistoryEntry[] = []
  for (const { change, snapshot } of Automerge.getHistory(s.doc)) {
    const note = parseNote(change.message)
    const fields = note?.fields ?? []
    if (wanted !== undefined && !fields.some(touches)) continue
    const plain = Automerge.toJS(snapshot as Automerge.Doc<unknown>)
    const values: Record<string, unknown> = {}
    for (const f of fields) Object.defineProperty(values, f, { value: at(plain, f) ?? null, enumerable: true })
    out.push({
      hash: change.hash,
      actor: change.actor,
      seq: change.seq,
      op: note?.op ?? null,
      by: note?.by ?? null,
      project: note?.project ?? null,
      at: change.time * 1000,
      fields,
      values,
    })
  }
  return out.slice(-(opts.limit ?? 100))
}
