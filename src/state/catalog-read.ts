/**
 * Cheap catalog reads for the hot paths (metered calls, listings). `getCatalogItem` turns
 * the whole Automerge doc into JSON (`toJS`) on every call; here the result is cached per
 * doc object. Automerge docs are immutable (every applied change yields a new doc object),
 * so a cached item is exactly the item of that doc and an edit invalidates it by itself:
 * the new doc is simply not in the cache. Entries die with their doc (WeakMap).
 *
 * Cached items are deep-frozen and shared between callers: treat them as read-only.
 */
import type { ReplicaStore } from '../store/types.ts'
import type { AmState } from './automerge-kind.ts'
import { CATALOG_FIELD, catalogKey, getCatalogItem, visibleTo, type CatalogItem, type CatalogKind, type ListOptions } from './catalog.ts'
import type { Pricing as TokenPricing } from './eligibility.ts'
import { fieldState } from './model.ts'
import type { BillingConfig } from './tiers.ts'

/** doc → its item (null: a doc without a creation yet, e.g. only pending changes). */
const cache = new WeakMap<object, CatalogItem | null>()

function deepFreeze<T> (v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v)
    for (const x of Object.values(v)) deepFreeze(x)
  }
  return v
}

/** The item `kind/id` as this node holds it (frozen, shared), or undefined. */
export function readCatalogItem (store: ReplicaStore, kind: CatalogKind, id: string): Readonly<CatalogItem> | undefined {
  const s = fieldState<AmState>(store, catalogKey(kind, id), CATALOG_FIELD)
  if (s === undefined) return undefined
  const doc = s.doc as object
  let item = cache.get(doc)
  if (item === undefined) {
    item = deepFreeze(getCatalogItem(store, kind, id) ?? null)
    cache.set(doc, item)
  }
  return item ?? undefined
}

/** The item when `project` may see it (public, or its own); undefined otherwise or when missing. */
export function readVisibleItem (store: ReplicaStore, kind: CatalogKind, id: string, project: string | undefined): Readonly<CatalogItem> | undefined {
  const item = readCatalogItem(store, kind, id)
  return item !== undefined && visibleTo(item, project) ? item : undefined
}

/**
 * Public items plus `opts.project`'s private ones, in id order, from the cache (same
 * semantics as `listCatalog`).
 */
export function listCatalogItems (store: ReplicaStore, kind: CatalogKind, opts: ListOptions = {}): Array<Readonly<CatalogItem>> {
  const limit = opts.limit ?? 100
  const out: Array<Readonly<CatalogItem>> = []
  const prefix = catalogKey(kind, '')
  for (const target of store.targets(prefix)) {
    if (out.length >= limit) break
    const id = target.slice(prefix.length)
    if (opts.after !== undefined && id <= opts.after) continue
    const item = readCatalogItem(store, kind, id)
    if (item === undefined || !visibleTo(item, opts.project)) continue
    if (opts.owner !== undefined && item.owner_project !== opts.owner) continue
    out.push(item)
  }
  return out
}

const tokenPriceCache = new WeakMap<object, TokenPricing>()

/**
 * A model's per-1k token prices; a price the item lacks (e.g. written by an older schema)
 * falls back to the billing config's default. Cached per item (one object per doc).
 */
export function tokenPricing (item: Readonly<CatalogItem>, cfg: BillingConfig): TokenPricing {
  let p = tokenPriceCache.get(item)
  if (p === undefined) {
    const own = item.pricing as Partial<TokenPricing>
    p = Object.freeze({
      per_1k_input: typeof own.per_1k_input === 'number' ? own.per_1k_input : cfg.default_price_per_1k_input,
      per_1k_output: typeof own.per_1k_output === 'number' ? own.per_1k_output : cfg.default_price_per_1k_output,
    })
    tokenPriceCache.set(item, p)
  }
  return p
}

/** An agent's price per invocation (0 when the item has none). */
export function invocationPrice (item: Readonly<CatalogItem>): number {
  const p = (item.pricing as { per_invocation?: unknown }).per_invocation
  return typeof p === 'number' ? p : 0
}
