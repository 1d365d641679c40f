/**
 * A `CrdtType` adapter for Automerge documents (kind `automerge.v1`), for the catalog's
 * rich JSON edited concurrently.
 *
 * State: `{ doc, pending }` — the Automerge doc plus binary changes whose dependencies have
 * not arrived yet. Automerge can queue such changes itself, but its queue is invisible:
 * `save` drops it, `getHeads` ignores it. The store snapshots a state together with a
 * version vector that already counts the op carrying the change, so a change hidden in
 * Automerge's queue would be lost on restart. Keeping the queue in our state makes it
 * part of the encoding, of `equals` and of the digest; Automerge only ever sees changes
 * whose dependencies it holds.
 *
 * Delta: an array of binary changes. `apply` skips changes the doc has (idempotent).
 * `apply` and `merge` replace `s.doc` (the contract lets them mutate `s`); `apply` hands the
 * old doc to Automerge, which marks it outdated (it then reads as empty), so a caller that
 * keeps the old state must `clone` first — as the store does.
 *
 * Encoding: `save` is not canonical (its bytes depend on the order changes were applied),
 * and the store digests `encodeState` bytes. So we save the doc as if its changes had been
 * applied in a canonical topological order (ties broken by hash): as is when its history
 * already is in that order, else rebuilt; cached per doc object (docs are immutable:
 * every edit yields a new object).
 */
import { createHash } from 'node:crypto'
import * as Automerge from '@automerge/automerge'
import type { Reader, Writer } from '../../crdt/codec.ts'
import { CrdtError } from '../../crdt/errors.ts'
import type { CrdtType } from '../../crdt/types.ts'

/** Kind tag of the adapter (wire format: never reuse for another encoding). */
export const AUTOMERGE_KIND = 'automerge.v1'

/** A delta may carry at most this many changes … */
export const MAX_DELTA_CHANGES = 1024
/** … each at most this large (catalog config is ≤ 64 KB; room for text and metadata). */
export const MAX_CHANGE_BYTES = 1024 * 1024
/** Pending (dependency-waiting) changes a state may hold. */
export const MAX_PENDING = 10_000

const FORMAT = 1

export type AmDoc = Automerge.Doc<unknown>

/** The adapter's state: the doc and the changes still waiting for their dependencies (hash → bytes). */
export interface AmState {
  doc: AmDoc
  pending: Map<string, Uint8Array>
}

/** Delta: binary Automerge changes. */
export type AmDelta = Uint8Array[]

interface ChangeMeta { hash: string, deps: string[] }

/** Parse a change's header; garbage becomes a typed `decode_invalid`, never a wasm error. */
export function changeMeta (bytes: Uint8Array): ChangeMeta {
  try {
    const d = Automerge.decodeChange(bytes)
    return { hash: d.hash, deps: d.deps }
  } catch (err) {
    throw new CrdtError('decode_invalid', `not an Automerge change: ${(err as Error).message}`)
  }
}

/**
 * Stable Automerge actor id (32 hex chars) of a replica: SHA-256 of its id truncated to
 * 16 bytes, so every replica writes as its own actor across restarts.
 */
export function actorFor (replicaId: string): string {
  return createHash('sha256').update(replicaId).digest('hex').slice(0, 32)
}

function has (doc: AmDoc, hash: string): boolean {
  return Automerge.hasHeads(doc, [hash])
}

/**
 * Move every pending change whose dependencies are present into the doc, repeatedly
 * (applying one may release others). Order is by hash, so every replica does the same.
 * A pending change Automerge refuses (e.g. a duplicate seq of its actor) is dropped: it
 * arrived with a valid op that must not be blocked by it.
 */
function drain (s: AmState): AmState {
  for (;;) {
    const ready: Array<[string, Uint8Array]> = []
    for (const [h, bytes] of s.pending) {
      if (has(s.doc, h)) { s.pending.delete(h); continue }
      if (Automerge.hasHeads(s.doc, changeMeta(bytes).deps)) ready.push([h, bytes])
    }
    if (ready.length === 0) return s
    ready.sort((a, b) => (a[0] < b[0] ? -1 : 1))
    for (const [h, bytes] of ready) {
      s.pending.delete(h)
      try {
        ;[s.doc] = Automerge.applyChanges(s.doc, [bytes])
      } catch { /* refused: dropped, see above */ }
    }
  }
}

/** Hashes of `doc`'s changes in a canonical topological order: Kahn's algorithm, smallest hash first. */
function canonicalOrder (meta: Array<{ hash: string, deps: string[] }>): string[] {
  const known = new Set(meta.map((m) => m.hash))
  const indegree = new Map<string, number>()
  const children = new Map<string, string[]>()
  for (const m of meta) {
    const deps = m.deps.filter((d) => known.has(d))
    indegree.set(m.hash, deps.length)
    for (const d of deps) {
      const list = children.get(d)
      if (list === undefined) children.set(d, [m.hash])
      else list.push(m.hash)
    }
  }
  const ready = meta.filter((m) => indegree.get(m.hash) === 0).map((m) => m.hash).sort()
  const out: string[] = []
  while (ready.length > 0) {
    const h = ready.shift()!
    out.push(h)
    for (const child of children.get(h) ?? []) {
      const n = indegree.get(child)! - 1
      indegree.set(child, n)
      if (n === 0) {
        // Insert keeping `ready` sorted (it holds only concurrent changes: short).
        let i = 0
        while (i < ready.length && ready[i]! < child) i++
        ready.splice(i, 0, child)
      }
    }
  }
  return out
}

/** `save` of `doc` rebuilt by applying its changes in canonical order (the slow path, exported for tests). */
export function rebuildSave (doc: AmDoc): Uint8Array {
  const backend = Automerge.getBackend(doc)
  const changes = canonicalOrder(Automerge.getChangesMetaSince(doc, [])).map((h) => backend.getChangeByHash(h)!)
  const [rebuilt] = Automerge.applyChanges(Automerge.init<unknown>(), changes)
  return Automerge.save(rebuilt)
}

const savedCache = new WeakMap<object, Uint8Array>()

/**
 * `save` as if the doc's changes had been applied in canonical order: equal change sets,
 * equal bytes. Always rebuilt: a plain `save` of a doc whose history is already in
 * canonical order was seen to differ (a doc reached by `merge` into an empty doc vs the
 * original), and digests must not depend on how a replica came by its changes. Cached
 * per doc object; the catalog is written rarely.
 */
export function canonicalSave (doc: AmDoc): Uint8Array {
  const hit = savedCache.get(doc as object)
  if (hit !== undefined) return hit
  const bytes = rebuildSave(doc)
  savedCache.set(doc as object, bytes)
  return bytes
}

function sortedHeads (doc: AmDoc): string[] {
  return [...Automerge.getHeads(doc)].sort()
}

function readChanges (r: Reader, max: number): Map<string, Uint8Array> {
  const n = r.count(max)
  const out = new Map<string, Uint8Array>()
  for (let i = 0; i < n; i++) {
    const len = r.length(MAX_CHANGE_BYTES)
    const bytes = r.raw(len).slice()
    out.set(changeMeta(bytes).hash, bytes)
  }
  return out
}

function writeChanges (w: Writer, changes: Iterable<Uint8Array>): void {
  const list = [...changes]
  w.uint(list.length)
  for (const c of list) w.bytes(c)
}

/** The last `n` changes' metadata, for operators. */
function lastChanges (doc: AmDoc, n: number): Array<{ actor: string, seq: number, time: number, message: string | null, hash: string }> {
  const meta = Automerge.getChangesMetaSince(doc, [])
  return meta.slice(-n).map((m) => ({ actor: m.actor, seq: m.seq, time: m.time, message: m.message, hash: m.hash }))
}

/** The `automerge.v1` kind. `value` is the doc as plain JSON (`toJS`). */
export const automergeType: CrdtType<AmState, AmDelta, unknown> = {
  kind: AUTOMERGE_KIND,

  empty: () => ({ doc: Automerge.init<unknown>(), pending: new Map() }),

  clone: (s) => ({ doc: Automerge.clone(s.doc), pending: new Map(s.pending) }),

  merge (a, b) {
    // Automerge.merge freezes its first argument: merge into a clone, install the result.
    a.doc = Automerge.merge(Automerge.clone(a.doc), b.doc)
    for (const [h, bytes] of b.pending) if (!a.pending.has(h)) a.pending.set(h, bytes)
    return drain(a)
  },

  apply (s, d) {
    for (const bytes of d) {
      const { hash, deps } = changeMeta(bytes)
      if (has(s.doc, hash)) continue
      if (!Automerge.hasHeads(s.doc, deps)) { s.pending.set(hash, bytes); continue }
      try {
        ;[s.doc] = Automerge.applyChanges(s.doc, [bytes])
      } catch (err) {
        // A change Automerge refuses (a duplicate seq of its actor): the op is invalid.
        throw new CrdtError('invalid_delta', `Automerge refused the change: ${(err as Error).message}`)
      }
    }
    if (s.pending.size > MAX_PENDING) throw new CrdtError('invalid_delta', `more than ${MAX_PENDING} changes waiting for dependencies`)
    return drain(s)
  },

  deltaState (d) {
    return automergeType.apply(automergeType.empty(), d)
  },

  value: (s) => Automerge.toJS(s.doc),

  equals (a, b) {
    const ha = sortedHeads(a.doc)
    const hb = sortedHeads(b.doc)
    if (ha.length !== hb.length || ha.some((h, i) => h !== hb[i])) return false
    if (a.pending.size !== b.pending.size) return false
    for (const h of a.pending.keys()) if (!b.pending.has(h)) return false
    return true
  },

  encodeState (w, s) {
    w.u8(FORMAT)
    w.bytes(canonicalSave(s.doc))
    writeChanges(w, [...s.pending].sort((x, y) => (x[0] < y[0] ? -1 : 1)).map(([, b]) => b))
  },

  decodeState (r) {
    const format = r.u8()
    if (format !== FORMAT) throw new CrdtError('decode_invalid', `unknown automerge state format ${format}`)
    const saved = r.bytes()
    let doc: AmDoc
    try {
      doc = Automerge.load<unknown>(saved)
    } catch (err) {
      throw new CrdtError('decode_invalid', `not a saved Automerge doc: ${(err as Error).message}`)
    }
    const pending = readChanges(r, MAX_PENDING)
    return drain({ doc, pending })
  },

  encodeDelta (w, d) {
    if (d.length > MAX_DELTA_CHANGES) throw new CrdtError('invalid_delta', `more than ${MAX_DELTA_CHANGES} changes in one delta`)
    for (const c of d) {
      if (!(c instanceof Uint8Array)) throw new CrdtError('invalid_delta', 'an Automerge change must be a Uint8Array')
      if (c.length > MAX_CHANGE_BYTES) throw new CrdtError('invalid_delta', `change of ${c.length} bytes exceeds ${MAX_CHANGE_BYTES}`)
    }
    writeChanges(w, d)
  },

  decodeDelta (r) {
    return [...readChanges(r, MAX_DELTA_CHANGES).values()]
  },

  inspect (s) {
    return {
      heads: sortedHeads(s.doc),
      history: Automerge.getChangesMetaSince(s.doc, []).length,
      pending: [...s.pending.keys()].sort(),
      last: lastChanges(s.doc, 5),
    }
  },
}

/**
 * The binary change for a local edit, without touching `doc` (the store's state): clone
 * it as `actor`, run `fn`, take the last local change. Undefined when `fn` changed nothing.
 * `time` is the change's advisory timestamp in ms (Automerge keeps whole seconds).
 */
export function makeChange<T> (doc: Automerge.Doc<T>, actor: string, message: string, fn: Automerge.ChangeFn<T>, time = Date.now()): Uint8Array | undefined {
  const draft = Automerge.clone(doc, { actor })
  const before = Automerge.getHeads(draft)
  const next = Automerge.change(draft, { message, time: Math.floor(time / 1000) }, fn)
  // No edit, no change (getLastLocalChange would answer this actor's previous change).
  const after = Automerge.getHeads(next)
  if (after.length === before.length && after.every((h, i) => h === before[i])) return undefined
  return Automerge.getLastLocalChange(next)
}
