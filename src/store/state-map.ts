/**
 * The in-memory state: entity key → fields, each field a CRDT state of one kind.
 *
 * An entity is a flat array `[shape, state0, state1, …]`, not a `Map`: an empty Map costs
 * ~190 bytes of heap, which alone would eat a fifth of the ≤ 1 KB per-account budget. The
 * shape is the entity's sorted `[field0, kind0, field1, kind1, …]` list, shared by every
 * entity with the same fields (like a hidden class): 100k accounts holding `credits` and
 * three usage counters point at one shape instead of each carrying two slots per field
 * (~72 bytes per 5-field entity). Field and kind names are interned.
 */
import type { Reader, Writer } from '../../crdt/codec.ts'
import type { AnyCrdtType } from '../../crdt/types.ts'
import { FormStateError } from '../errors.ts'
import { toFormStateError } from './errors.ts'
import { lowerBound } from './sorted-strings.ts'
import type { Change, FieldState, KindRegistry } from './types.ts'

/** `[field0, kind0, field1, kind1, …]` sorted by field; frozen, shared between entities. */
type Shape = readonly string[]
/** `[shape, state0, state1, …]`: state i belongs to the shape's i-th field. */
export type Entity = unknown[]

/** Interning stops past this many names so hostile field names cannot grow it forever. */
const MAX_INTERNED = 100_000
/**
 * Shapes are shared through a small cache, oldest evicted first, so that shapes no entity
 * uses any more (an entity that gains a field moves to a new shape; usage windows add
 * fields all the time) do not pile up. An evicted shape stays valid for the entities
 * holding it; equal shapes built later are simply not the same object (correct, less
 * shared). Entities with many fields keep their own shape: they are few, and hashing
 * their whole field list on every field added would cost more than it saves.
 */
const SHAPE_CACHE = 1024
const MAX_SHARED_FIELDS = 32
const NO_FIELDS: Shape = Object.freeze([])

/** Field index `i` (state at `e[1 + i]`) of `field`, or `~insertAt` when absent. */
function find (e: Entity, field: string): number {
  const shape = e[0] as Shape
  let lo = 0
  let hi = shape.length >> 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const f = shape[mid << 1]!
    if (f === field) return mid
    if (f < field) lo = mid + 1
    else hi = mid
  }
  return ~lo
}

function kindAt (e: Entity, i: number): string {
  return (e[0] as Shape)[(i << 1) + 1]!
}

function fieldAt (e: Entity, i: number): string {
  return (e[0] as Shape)[i << 1]!
}

/** Number of fields of an entity. */
function width (e: Entity): number {
  return e.length - 1
}

/** A staged field update: computed in full before any is installed, so an op is atomic. */
interface Staged { field: string; kind: string; state: unknown }

/** Merge two sorted arrays of distinct strings (code-unit order, as `sort()`). */
function mergeSorted (a: readonly string[], b: readonly string[]): string[] {
  const out = new Array<string>(a.length + b.length)
  let i = 0
  let j = 0
  let o = 0
  while (i < a.length && j < b.length) out[o++] = a[i]! < b[j]! ? a[i++]! : b[j++]!
  while (i < a.length) out[o++] = a[i++]!
  while (j < b.length) out[o++] = b[j++]!
  return out
}

export class StateMap {
  private readonly entities = new Map<string, Entity>()
  private readonly names = new Map<string, string>()
  private readonly shapes = new Map<string, Shape>()
  /**
   * Entity keys in sorted order as of the last `targets()` call, plus the keys created
   * since (unsorted): a call sorts only the new keys and merges them in, rather than sorting
   * every key (~55 ms at 100k entities, on every snapshot, digest and catalog listing).
   * Entities are never removed except by `clear()`.
   */
  private sorted: string[] = []
  private fresh: string[] = []

  constructor (private readonly kinds: KindRegistry) {}

  get size (): number {
    return this.entities.size
  }

  private intern (s: string): string {
    const hit = this.names.get(s)
    if (hit !== undefined) return hit
    if (this.names.size < MAX_INTERNED) this.names.set(s, s)
    return s
  }

  /** The shared shape with these `[field, kind, …]` pairs (interned names). */
  private shape (pairs: string[]): Shape {
    const shared = pairs.length <= 2 * MAX_SHARED_FIELDS
    const key = shared ? pairs.join('\0') : ''
    if (shared) {
      const hit = this.shapes.get(key)
      if (hit !== undefined) return hit
    }
    for (let i = 0; i < pairs.length; i++) pairs[i] = this.intern(pairs[i]!)
    const shape = Object.freeze(pairs)
    if (shared) {
      if (this.shapes.size >= SHAPE_CACHE) this.shapes.delete(this.shapes.keys().next().value!)
      this.shapes.set(key, shape)
    }
    return shape
  }

  private typeOf (kind: string): AnyCrdtType {
    const t = this.kinds.get(kind)
    if (t === undefined) throw new FormStateError('invalid_op', `unknown kind ${kind}`)
    return t
  }

  /** Throws `invalid_op` unless every change names a known kind matching its field's kind. */
  check (target: string, changes: readonly Change[]): void {
    const e = this.entities.get(target)
    for (let i = 0; i < changes.length; i++) {
      const c = changes[i]!
      this.typeOf(c.kind)
      const at = e === undefined ? -1 : find(e, c.field)
      const held = at >= 0 ? kindAt(e!, at) : undefined
      if (held !== undefined && held !== c.kind) throw new FormStateError('invalid_op', `field ${c.field} of ${target} holds ${held}, not ${c.kind}`, { field: c.field })
      for (let j = 0; j < i; j++) {
        if (changes[j]!.field === c.field && changes[j]!.kind !== c.kind) throw new FormStateError('invalid_op', `field ${c.field} given two kinds`, { field: c.field })
      }
    }
  }

  /**
   * Apply an op's changes atomically: each touched field is cloned and the delta applied to
   * the clone; only when all succeed are the new states installed. Kinds whose apply cannot
   * fail (`applyInPlace`) skip the clone: they are applied to the live states, after every
   * change that can fail has succeeded. Call `check` first (a field has one kind per op).
   */
  apply (target: string, changes: readonly Change[]): void {
    const e = this.entities.get(target)
    const staged: Staged[] = []
    let inPlace = 0
    for (const c of changes) {
      const type = this.typeOf(c.kind)
      if (type.applyInPlace === true) inPlace++
      else this.stage(staged, e, target, type, c, true)
    }
    if (inPlace > 0) {
      for (const c of changes) {
        const type = this.typeOf(c.kind)
        if (type.applyInPlace === true) this.stage(staged, e, target, type, c, false)
      }
    }
    let ent = e ?? [NO_FIELDS]
    for (const s of staged) ent = this.install(ent, s.field, s.kind, s.state)
    if (ent !== e) {
      if (e === undefined) this.fresh.push(target)
      this.entities.set(target, ent)
    }
  }

  /** Apply `c` to its field's staged state, or to the field's state (a clone when `copy`). */
  private stage (staged: Staged[], e: Entity | undefined, target: string, type: AnyCrdtType, c: Change, copy: boolean): void {
    let prev: Staged | undefined
    for (const s of staged) if (s.field === c.field) prev = s
    let state: unknown
    if (prev !== undefined) state = prev.state
    else {
      const at = e === undefined ? -1 : find(e, c.field)
      state = at < 0 ? type.empty() : copy ? type.clone(e![1 + at]) : e![1 + at]
    }
    try {
      state = type.apply(state, c.delta)
    } catch (err) {
      throw toFormStateError(err, 'invalid_op', `apply ${c.kind} to ${target}/${c.field}`)
    }
    if (prev !== undefined) prev.state = state
    else staged.push({ field: c.field, kind: type.kind, state })
  }

  /**
   * Set a field; returns the entity (a new exact-size array when a field was added: growing
   * an array in place leaves ~16 slots of slack, ~140 bytes per entity).
   */
  private install (e: Entity, field: string, kind: string, state: unknown): Entity {
    const at = find(e, field)
    if (at >= 0) { e[1 + at] = state; return e }
    const pos = ~at
    const old = e[0] as Shape
    const pairs = new Array<string>(old.length + 2)
    for (let i = 0; i < pos << 1; i++) pairs[i] = old[i]!
    pairs[pos << 1] = field
    pairs[(pos << 1) + 1] = kind
    for (let i = pos << 1; i < old.length; i++) pairs[i + 2] = old[i]!
    const out = new Array(e.length + 1)
    out[0] = this.shape(pairs)
    for (let i = 1; i <= pos; i++) out[i] = e[i]
    out[1 + pos] = state
    for (let i = 1 + pos; i < e.length; i++) out[i + 1] = e[i]
    return out
  }

  has (target: string): boolean {
    return this.entities.has(target)
  }

  field (target: string, field: string): FieldState | undefined {
    const e = this.entities.get(target)
    if (e === undefined) return undefined
    const at = find(e, field)
    return at >= 0 ? { kind: kindAt(e, at), state: e[1 + at] } : undefined
  }

  /** Fields of an entity, in field order, as fresh `FieldState` objects over the live states. */
  view (target: string): Map<string, FieldState> | undefined {
    const e = this.entities.get(target)
    if (e === undefined) return undefined
    const m = new Map<string, FieldState>()
    for (let i = 0; i < width(e); i++) m.set(fieldAt(e, i), { kind: kindAt(e, i), state: e[1 + i] })
    return m
  }

  /** Entity keys in sorted order (optionally with a prefix). */
  targets (prefix?: string): string[] {
    if (this.fresh.length > 0) {
      this.sorted = mergeSorted(this.sorted, this.fresh.sort())
      this.fresh = []
    }
    const all = this.sorted
    if (prefix === undefined) return all.slice()
    // Keys with the prefix are one run of the sorted keys, starting at its lower bound.
    const lo = lowerBound(all, prefix)
    let end = lo
    while (end < all.length && all[end]!.startsWith(prefix)) end++
    return all.slice(lo, end)
  }

  /** Canonical encoding of one entity's fields (field order; states by their kind). */
  encodeEntity (w: Writer, target: string): void {
    const e = this.entities.get(target)!
    w.uint(width(e))
    for (let i = 0; i < width(e); i++) {
      const kind = kindAt(e, i)
      w.string(fieldAt(e, i)).string(kind)
      this.typeOf(kind).encodeState(w, e[1 + i])
    }
  }

  /**
   * Decode an entity encoded by `encodeEntity` and join it into the current state (a
   * state merge, so importing a snapshot into a non-empty replica is correct).
   */
  mergeEntity (r: Reader, target: string): void {
    const n = r.count()
    let e = this.entities.get(target)
    const incoming: Staged[] = []
    let prev: string | undefined
    for (let i = 0; i < n; i++) {
      const field = r.string()
      if (prev !== undefined && field <= prev) throw new FormStateError('decode_invalid', `fields of ${target} not sorted`)
      prev = field
      const kind = r.string()
      const type = this.kinds.get(kind)
      if (type === undefined) throw new FormStateError('invalid_op', `unknown kind ${kind} in snapshot`)
      incoming.push({ field, kind: type.kind, state: type.decodeState(r) })
    }
    if (e !== undefined) {
      for (const s of incoming) {
        const at = find(e, s.field)
        if (at >= 0 && kindAt(e, at) !== s.kind) throw new FormStateError('invalid_op', `field ${s.field} of ${target} holds ${kindAt(e, at)}, snapshot has ${s.kind}`)
      }
    } else if (incoming.length > 0) {
      // Fields arrive sorted: build the entity in one exact-size array.
      const pairs = new Array<string>(incoming.length * 2)
      const out = new Array(incoming.length + 1)
      incoming.forEach((s, i) => { pairs[i * 2] = s.field; pairs[i * 2 + 1] = s.kind; out[1 + i] = s.state })
      out[0] = this.shape(pairs)
      this.fresh.push(target)
      this.entities.set(target, out)
      return
    }
    if (e === undefined) return
    for (const s of incoming) {
      const at = find(e, s.field)
      if (at >= 0) e[1 + at] = this.typeOf(s.kind).merge(e[1 + at], s.state)
      else e = this.install(e, s.field, s.kind, s.state)
    }
    this.entities.set(target, e)
  }

  /**
   * Join another state into this one (snapshot import). Every field's kind is checked
   * before anything changes, so a conflicting import leaves this state untouched.
   */
  mergeFrom (other: StateMap): void {
    for (const [t, oe] of other.entities) {
      const e = this.entities.get(t)
      if (e === undefined) continue
      for (let i = 0; i < width(oe); i++) {
        const at = find(e, fieldAt(oe, i))
        if (at >= 0 && kindAt(e, at) !== kindAt(oe, i)) throw new FormStateError('invalid_op', `field ${fieldAt(oe, i)} of ${t} holds ${kindAt(e, at)}, import has ${kindAt(oe, i)}`)
      }
    }
    for (const [t, oe] of other.entities) {
      let e = this.entities.get(t)
      if (e === undefined) {
        // Adopt the entity, with this map's shared shape for its fields.
        oe[0] = this.shape([...(oe[0] as Shape)])
        this.fresh.push(t)
        this.entities.set(t, oe)
        continue
      }
      for (let i = 0; i < width(oe); i++) {
        const field = fieldAt(oe, i)
        const kind = kindAt(oe, i)
        const at = find(e, field)
        if (at >= 0) e[1 + at] = this.typeOf(kind).merge(e[1 + at], oe[1 + i])
        else e = this.install(e, field, kind, oe[1 + i])
      }
      this.entities.set(t, e)
    }
  }

  /** Drop everything (used when a failed load must not leave half a state). */
  clear (): void {
    this.entities.clear()
    this.sorted = []
    this.fresh = []
  }
}
