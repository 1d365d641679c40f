/**
 * Revokes that reach down a rotation lineage. Rotating key A makes a new key B
 * (`rotated_from` A); B is a successor of A, not an independent key. A revoke of A that did
 * not see A's rotation to B (issued concurrently on another node) meant "kill this
 * credential", and that credential lives on as B: so B reads revoked too. A revoke of A
 * issued after the rotation was seen (the user killing the old key early, during its
 * grace) saw B and leaves B alone.
 *
 * Each key created by a rotation carries its `lineage`: the ids of its ancestors, oldest
 * first (identity, written once). Every revoke of any key in a lineage records, on the
 * lineage's root entity, which key it revoked and which successors of that key it had
 * seen (`lineage_revokes`, a grow-only map keyed by the revoke's op time + replica, so
 * concurrent revokes on several nodes all keep their record). A key X is revoked through
 * its lineage when some record revokes an ancestor `r` of X without having seen the
 * successor of `r` on X's path (the next ancestor, or X itself). That covers chains: with
 * A→B→C, a revoke of A that saw nothing revokes B and C; a revoke of A that saw B but was
 * concurrent with B→C leaves both alone (B→C happened on a node that knew B was live).
 *
 * Cost on the auth path: nothing for a key without `rotated_from`; for a rotated key one
 * extra field read (the root's record map, raw state) and, per record, a small object and
 * an `indexOf` in the lineage. Records exist only for revoked keys of the lineage.
 */
import { gmapPut, type GMap } from '../../crdt/gmap.ts'
import type { Value } from '../../crdt/value-codec.ts'
import type { Change, ReplicaStore } from '../store/types.ts'
import { apiKeyKey, fieldState, KIND } from './model.ts'

/** Field on the lineage's root key holding the revoke records. */
export const LINEAGE_REVOKES = 'lineage_revokes'

/** One revoke of a key of a lineage, as recorded on the root. */
export interface LineageRevoke {
  /** Record id: the revoke's op time and replica (unique cluster-wide). */
  id: string
  /** The key that was revoked. */
  key: string
  /** Successors of `key` the revoking node knew of. */
  saw: string[]
  at: number
  by: string
}

/** The root of a key's lineage: its oldest ancestor, or the key itself. */
export function lineageRoot (keyId: string, lineage: readonly string[] | null): string {
  return lineage !== null && lineage.length > 0 ? lineage[0]! : keyId
}

/** The change recording on the root that `keyId` was revoked having seen successors `saw`. */
export function lineageRevokeChange (id: string, keyId: string, saw: readonly string[], at: number, by: string): Change {
  return { field: LINEAGE_REVOKES, kind: KIND.gmap, delta: gmapPut(id, { key: keyId, saw: [...saw], at, by }) }
}

function toRecord (id: string, v: Value): LineageRevoke | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined
  const r = v as Record<string, Value>
  if (typeof r.key !== 'string' || !Array.isArray(r.saw)) return undefined
  return { id, key: r.key, saw: r.saw as string[], at: typeof r.at === 'number' ? r.at : 0, by: typeof r.by === 'string' ? r.by : '' }
}

/**
 * The revoke that reaches `keyId` through its lineage (ancestors oldest first), or
 * undefined. The earliest such record when there are several (a stable answer).
 */
export function inheritedRevoke (store: ReplicaStore, keyId: string, lineage: readonly string[]): LineageRevoke | undefined {
  if (lineage.length === 0) return undefined
  const s = fieldState<GMap>(store, apiKeyKey(lineage[0]!), LINEAGE_REVOKES)
  if (s === undefined) return undefined
  let found: LineageRevoke | undefined
  for (let i = 0; i < s.length; i += 2) {
    const r = toRecord(s[i] as string, s[i + 1] as Value)
    if (r === undefined) continue // not a record this code wrote: ignored, never a crash on the auth path
    const i2 = lineage.indexOf(r.key)
    if (i2 < 0) continue // a revoke of this key itself, or of a key on another branch
    const successor = i2 + 1 < lineage.length ? lineage[i2 + 1]! : keyId
    if (r.saw.includes(successor)) continue
    if (found === undefined || r.at < found.at) found = r
  }
  return found
}
