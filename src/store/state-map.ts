/**
 * The in-memory state: entity key → fields, each field a CRDT state of one kind.
 *
 * An entity is a flat array `[field0, kind0, state0, field1, kind1, state1, …]` sorted by
 * field name, not a `Map`: an empty Map costs ~190 bytes of heap, which alone would eat a
 * fifth of the ≤ 1 KB per-account budget. Field and kind names are interned, so the
 * thousands of accounts holding `credits` share one string.
 */
import type { Reader, Writer } from '../../crdt/codec.ts'
import type { AnyCrdtType } from '../../crdt/types.ts'
import { FormStateError } from '../errors.ts'
import { toFormStateError } from './errors.ts'
import type { Change, FieldState, KindRegistry } from './types.ts'

/** `[field, kind, state, …]` sorted by field. */
export type Entity = unknown[]

const STRIDE = 3
/** Interning stops past this many names so hostile field names cannot grow it forever. */
const MAX_INTERNED = 100_000

function find (e: Entity, field: string): number {
  let lo = 0
  let hi = e.length / STRIDE
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const f = e[mid * STRIDE] as string
    if (f === field) return mid * STRIDE
    if (f < field) lo = mid + 1
    else hi = mid
  }
  return ~(lo * STRIDE)
}

/** A staged field update: computed in full before any is installed, so an op is atomic. */
interface Staged { field: string; kind: string; state: unknown }

export class StateMap {
  private readonly entities = new Map<string, Entity>()
  private readonly names = new Map<string, string>()

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
      const held = at >= 0 ? (e![at + 1] as string) : undefined
      if (held !== undefined && held !== c.kind) throw new FormStateError('invalid_op', `field ${c.field} of ${target} holds ${held}, not ${c.kind}`, { field: c.field })
      for (let j = 0; j < i; j++) {
        if (changes[j]!.field === c.field && changes[j]!.kind !== c.kind) throw new FormStateError('invalid_op', `field ${c.field} given two kinds`, { field: c.field })
      }
    }
  }

  /**
   * Apply an op's changes atomically: each touched field is cloned and the delta applied to
   * the clone; only when all succeed are the new states installed. Call `check` first.
   */
  apply (target: string, changes: readonly Change[]): void {
    const e = this.entities.get(target)
    const staged: Staged[] = []
    for (const c of changes) {
      const type = this.typeOf(c.kind)
      let prev: Staged | undefined
      for (const s of staged) if (s.field === c.field) prev = s
      let state: unknown
      if (prev !== undefined) state = prev.state
      else {
        const at = e === undefined ? -1 : find(e, c.field)
        state = at >= 0 ? type.clone(e![at + 2]) : type.empty()
      }
      try {
        state = type.apply(state, c.delta)
      } catch (err) {
        throw toFormStateError(err, 'invalid_op', `apply ${c.kind} to ${target}/${c.field}`)
      }
      if (prev !== undefined) prev.state = state
      else staged.push({ field: c.field, kind: type.kind, state })
    }
    let ent = e ?? []
    for (const s of staged) ent = this.install(ent, s.field, s.kind, s.state)
    if (ent !== e) this.entities.set(target, ent)
  }

  /**
   * Set a field; returns the entity (a new array when a field was added). New fields build
   * an exact-size array: `splice` leaves ~16 slots of slack, ~140 bytes per entity.
   */
  private install (e: Entity, field: string, kind: string, state: unknown): Entity {
    const at = find(e, field)
    if (at >= 0) { e[at + 2] = state; return e }
    const pos = ~at
    const out = new Array(e.length + STRIDE)
    for (let i = 0; i < pos; i++) out[i] = e[i]
    out[pos] = this.intern(field)
    out[pos + 1] = this.intern(kind)
    out[pos + 2] = state
    for (let i = pos; i < e.length; i++) out[i + STRIDE] = e[i]
    return out
  }

  has (target: string): boolean {
    return this.entities.has(target)
  }

  field (target: string, field: string): FieldState | undefined {
    const e = this.entities.get(target)
    if (e === undefined) return undefined
    const at = find(e, field)
    return at >= 0 ? { kind: e[at + 1] as string, state: e[at + 2] } : undefined
  }

  /** Fields of an entity, in field order, as fresh `FieldState` objects over the live states. */
  view (target: string): Map<string, FieldState> | undefined {
    const e = this.entities.get(target)
    if (e === undefined) return undefined
    const m = new Map<string, FieldState>()
    for (let i = 0; i < e.length; i += STRIDE) m.set(e[i] as string, { kind: e[i + 1] as string, state: e[i + 2] })
    return m
  }

  /** Entity keys in sorted order (optionally with a prefix). */
  targets (prefix?: string): string[] {
    const out: string[] = []
    for (const k of this.entities.keys()) if (prefix === undefined || k.startsWith(prefix)) out.push(k)
    return out.sort()
  }

  /** Canonical encoding of one entity's fields (field order; states by their kind). */
  encodeEntity (w: Writer, target: string): void {
    const e = this.entities.get(target)!
    w.uint(e.length / STRIDE)
    for (let i = 0; i < e.length; i += STRIDE) {
      const kind = e[i + 1] as string
      w.string(e[i] as string).string(kind)
      this.typeOf(kind).encodeState(w, e[i + 2])
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
        if (at >= 0 && e[at + 1] !== s.kind) throw new FormStateError('invalid_op', `field ${s.field} of ${target} holds ${String(e[at + 1])}, snapshot has ${s.kind}`)
      }
    } else if (incoming.length > 0) {
      // Fields arrive sorted: build the entity in one exact-size array.
      const out = new Array(incoming.length * STRIDE)
      incoming.forEach((s, i) => { out[i * STRIDE] = this.intern(s.field); out[i * STRIDE + 1] = this.intern(s.kind); out[i * STRIDE + 2] = s.state })
      this.entities.set(target, out)
      return
    }
    if (e === undefined) return
    for (const s of incoming) {
      const at = find(e, s.field)
      if (at >= 0) e[at + 2] = this.typeOf(s.kind).merge(e[at + 2], s.state)
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
      for (let i = 0; i < oe.length; i += STRIDE) {
        const at = find(e, oe[i] as string)
        if (at >= 0 && e[at + 1] !== oe[i + 1]) throw new FormStateError('invalid_op', `field ${String(oe[i])} of ${t} holds ${String(e[at + 1])}, import has ${String(oe[i + 1])}`)
      }
    }
    for (const [t, oe] of other.entities) {
      let e = this.entities.get(t)
      if (e === undefined) { this.entities.set(t, oe); continue }
      for (let i = 0; i < oe.length; i += STRIDE) {
        const field = oe[i] as string
        const kind = oe[i + 1] as string
        const at = find(e, field)
        if (at >= 0) e[at + 2] = this.typeOf(kind).merge(e[at + 2], oe[i + 2])
        else e = this.install(e, field, kind, oe[i + 2])
      }
      this.entities.set(t, e)
    }
  }

  /** Drop everything (used when a failed load must not leave half a state). */
  clear (): void {
    this.entities.clear()
  }
}
