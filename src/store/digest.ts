/**
 * State digests: SHA-256 over the canonical encoding (entities in sorted key order,
 * fields in sorted order, states by their kind's canonical `encodeState`). Replicas that
 * applied the same ops in any order have equal digests; per-entity digests locate a
 * difference without shipping the state.
 */
import { createHash } from 'node:crypto'
import { Writer } from '../../crdt/codec.ts'
import type { StateMap } from './state-map.ts'

function entityBytes (state: StateMap, target: string, w: Writer): Uint8Array {
  w.pos = 0
  w.string(target)
  state.encodeEntity(w, target)
  return w.finish()
}

/** Hex SHA-256 of the whole state. */
export function stateDigest (state: StateMap): string {
  const h = createHash('sha256')
  const w = new Writer(256)
  for (const t of state.targets()) h.update(entityBytes(state, t, w))
  return h.digest('hex')
}

/** Hex SHA-256 per entity (optionally only keys with `prefix`). */
export function entityDigests (state: StateMap, prefix?: string): Map<string, string> {
  const out = new Map<string, string>()
  const w = new Writer(256)
  for (const t of state.targets(prefix)) out.set(t, createHash('sha256').update(entityBytes(state, t, w)).digest('hex'))
  return out
}
