/**
 * The catalog: models (`model/<id>`) and agents (`agent/<id>`), each one field `doc` of
 * kind `automerge.v1` holding the item as rich JSON. Automerge merges concurrent edits
 * field by field (two nodes changing the input and the output price both keep their
 * change) and keeps every change, which answers "who changed this price, and when".
 *
 * Writers build `Change`s (the caller commits them); every Automerge change carries a
 * JSON message `{op, by, project, fields}` that `catalogHistory` reads back.
 */
import { randomBytes } from 'node:crypto'
import * as Automerge from '@automerge/automerge'
import { FormStateError } from '../errors.ts'
import type { Change, KindRegistry, ReplicaStore } from '../store/types.ts'
import { actorFor, AUTOMERGE_KIND, automergeType, makeChange, type AmState } from './automerge-kind.ts'
import type { CatalogCreate, CatalogKind, CatalogPatch, Json } from './catalog-schemas.ts'
import { fieldState, ID_PATTERN } from './model.ts'

export type { CatalogKind } from './catalog-schemas.ts'

/** The one field of a catalog entity. */
export const CATALOG_FIELD = 'doc'

export type Pricing = { per_1k_input: number, per_1k_output: number } | { per_invocation: number }

/** A catalog item as stored and as the API answers it. */
export interface CatalogItem {
  id: string
  kind: CatalogKind
  owner_project: string
  name: string
  description: string
  pricing: Pricing
  config: { [k: string]: Json }
  visibility: 'public' | 'private'
  created_at: number
  updated_at: number
}

/** Who writes: the principal's subject and project. */
export interface CatalogAuthor { sub: string, project: string }

/** What each Automerge change's message records. */
export interface ChangeNote { op: 'create' | 'patch', by: string, project: string, fields: string[] }

/** Registers the `automerge.v1` kind the catalog's entities hold; idempotent. */
export function catalogKinds<K extends KindRegistry> (kinds: K): K {
  kinds.register(automergeType)
  return kinds
}

const PREFIX: Record<CatalogKind, string> = { model: 'model/', agent: 'agent/' }
const ID_PREFIX: Record<CatalogKind, string> = { model: 'mdl_', agent: 'agt_' }

export function catalogKey (kind: CatalogKind, id: string): string {
  return PREFIX[kind] + id
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

/** A fresh id, `mdl_` / `agt_` + 24 base32 chars (120 random bits: no collision across nodes). */
export function newCatalogId (kind: CatalogKind): string {
  const bytes = randomBytes(15)
  let out = ''
  let bits = 0
  let acc = 0
  for (const b of bytes) {
    acc = (acc << 8) | b
    bits += 8
    while (bits >= 5) { bits -= 5; out += BASE32[(acc >>> bits) & 31] }
    acc &= (1 << bits) - 1
  }
  return ID_PREFIX[kind] + out
}

function stateOf (store: ReplicaStore, kind: CatalogKind, id: string): AmState | undefined {
  return fieldState<AmState>(store, catalogKey(kind, id), CATALOG_FIELD)
}

/** The item a doc holds, or undefined while it has no creation (e.g. only pending changes). */
function itemOf (doc: Automerge.Doc<unknown>): CatalogItem | undefined {
  const v = Automerge.toJS(doc) as Partial<CatalogItem>
  return typeof v.id === 'string' && typeof v.owner_project === 'string' ? v as CatalogItem : undefined
}

function docChange (delta: Uint8Array): Change {
  return { field: CATALOG_FIELD, kind: AUTOMERGE_KIND, delta: [delta] }
}

/**
 * The change creating an item owned by `author.project`. The id is the body's slug or a
 * fresh one; `already_exists` when this node already holds an item with that id.
 */
export function createCatalogChanges (store: ReplicaStore, kind: CatalogKind, body: CatalogCreate, author: CatalogAuthor, at: number): { id: string, target: string, changes: Change[] } {
  const id = body.id ?? newCatalogId(kind)
  if (!ID_PATTERN.test(id)) throw new FormStateError('invalid_field', `id must match ${ID_PATTERN.source}`, { field: 'id' })
  if (stateOf(store, kind, id) !== undefined) throw new FormStateError('already_exists', `${kind} ${id} already exists`, { field: 'id' })
  const item: CatalogItem = {
    id,
    kind,
    owner_project: author.project,
    name: body.name,
    description: body.description,
    pricing: body.pricing,
    config: body.config as CatalogItem['config'],
    visibility: body.visibility,
    created_at: at,
    updated_at: at,
  }
  const note: ChangeNote = { op: 'create', by: author.sub, project: author.project, fields: Object.keys(item) }
  const delta = makeChange<Record<string, unknown>>(Automerge.init(), actorFor(store.replicaId), JSON.stringify(note), (d) => {
    for (const [k, v] of Object.entries(item)) d[k] = structuredClone(v)
  }, at)!
  return { id, target: catalogKey(kind, id), changes: [docChange(delta)] }
}

function sameJson (a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

export interface PatchOptions {
  /** Allow editing an item of another project (operators). Default false. */
  admin?: boolean
}

/**
 * The change applying `patch` to an item: only the named fields are written, and only
 * those whose value differs (prices one by one, so concurrent edits of different prices
 * both survive; `config` is replaced whole). Returns `changes: undefined` when nothing
 * would change. `not_found` for a missing item, `wrong_project` for another project's.
 */
export function patchCatalogChanges (store: ReplicaStore, kind: CatalogKind, id: string, patch: CatalogPatch, author: CatalogAuthor, at: number, opts: PatchOptions = {}): { target: string, changes: Change[] | undefined, fields: string[] } {
  const state = stateOf(store, kind, id)
  const current = state === undefined ? undefined : itemOf(state.doc)
  if (state === undefined || current === undefined) throw new FormStateError('not_found', `no such ${kind}`, { field: 'id' })
  if (current.owner_project !== author.project && opts.admin !== true) throw new FormStateError('wrong_project', `${kind} ${id} belongs to another project`)
  const target = catalogKey(kind, id)
  const sets: Array<[string[], unknown]> = []
  for (const key of ['name', 'description', 'config', 'visibility'] as const) {
    const v = patch[key]
    if (v !== undefined && !sameJson(v, current[key])) sets.push([[key], v])
  }
  for (const [k, v] of Object.entries(patch.pricing ?? {})) {
    if (v === undefined) continue
    if (!(k in current.pricing)) throw new FormStateError('invalid_field', `${kind} pricing has no ${k}`, { field: `pricing.${k}` })
    if ((current.pricing as Record<string, number>)[k] !== v) sets.push([['pricing', k], v])
  }
  if (sets.length === 0) return { target, changes: undefined, fields: [] }
  const fields = sets.map(([path]) => path.join('.'))
  const note: ChangeNote = { op: 'patch', by: author.sub, project: author.project, fields }
  const delta = makeChange<Record<string, any>>(state.doc as Automerge.Doc<Record<string, any>>, actorFor(store.replicaId), JSON.stringify(note), (d) => {
    for (const [path, v] of sets) {
      if (path.length === 1) d[path[0]!] = structuredClone(v)
      else d[path[0]!][path[1]!] = v
    }
    d.updated_at = at
  }, at)!
  return { target, changes: [docChange(delta)], fields }
}

/** One item, or undefined. */
export function getCatalogItem (store: ReplicaStore, kind: CatalogKind, id: string): CatalogItem | undefined {
  const s = stateOf(store, kind, id)
  return s === undefined ? undefined : itemOf(s.doc)
}

/** Whether `project` may see `item` (public, or its own). */
export function visibleTo (item: CatalogItem, project: string | undefined): boolean {
  return item.visibility === 'public' || (project !== undefined && item.owner_project === project)
}

export interface ListOptions {
  /** Include this project's private items. */
  project?: string
  /** Only items of this project (public and private if it is `project`). */
  owner?: string
  /** Ids after this one (cursor), in id order. */
  after?: string
  /** Default 100. */
  limit?: number
}

/** Public items plus the given project's private ones, in id order. */
export function listCatalog (store: ReplicaStore, kind: CatalogKind, opts: ListOptions = {}): CatalogItem[] {
  const limit = opts.limit ?? 100
  const out: CatalogItem[] = []
  const prefix = PREFIX[kind]
  for (const target of store.targets(prefix)) {
    if (out.length >= limit) break
    const id = target.slice(prefix.length)
    if (opts.after !== undefined && id <= opts.after) continue
    const item = getCatalogItem(store, kind, id)
    if (item === undefined || !visibleTo(item, opts.project)) continue
    if (opts.owner !== undefined && item.owner_project !== opts.owner) continue
    out.push(item)
  }
  return out
}
