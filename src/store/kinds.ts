/**
 * The registry of CRDT kinds the store can decode and apply. `defaultKinds()` holds the
 * crdt/ builtins; callers (src/state/) add parameterised kinds (awmap/record built with
 * their own tags) and adapters such as Automerge.
 */
import { builtinTypes } from '../../crdt/index.ts'
import type { AnyCrdtType } from '../../crdt/types.ts'
import { FormStateError } from '../errors.ts'
import type { KindRegistry } from './types.ts'

/** A `Map`-backed registry. Registering a second, different type under a tag is refused. */
export class Kinds implements KindRegistry {
  private readonly byTag = new Map<string, AnyCrdtType>()

  constructor (types: Iterable<AnyCrdtType> = []) {
    for (const t of types) this.register(t)
  }

  get (kind: string): AnyCrdtType | undefined {
    return this.byTag.get(kind)
  }

  /** Idempotent for the same type object; a tag clash throws `conflict` (tags are wire format). */
  register (type: AnyCrdtType): void {
    if (typeof type.kind !== 'string' || type.kind.length === 0 || type.kind.length > 255) {
      throw new FormStateError('invalid_request', `bad kind tag ${JSON.stringify(type.kind)}`)
    }
    const prev = this.byTag.get(type.kind)
    if (prev !== undefined && prev !== type) throw new FormStateError('conflict', `kind ${type.kind} is already registered to another type`)
    this.byTag.set(type.kind, type)
  }

  kinds (): string[] {
    return [...this.byTag.keys()].sort()
  }
}

/** A registry holding crdt/'s non-parameterised builtin types (gcounter, pncounter, lww, gset, gmap). */
export function defaultKinds (): Kinds {
  return new Kinds(builtinTypes)
}
