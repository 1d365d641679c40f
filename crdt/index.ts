/**
 * form-state's CRDT library: pure types with merge/apply/value and a compact canonical
 * binary encoding. No I/O, no dependencies.
 */
import { awsetType } from './awset.ts'
import { boundedType } from './bounded.ts'
import { gcounterType } from './gcounter.ts'
import { gmapType } from './gmap.ts'
import { hmapType } from './hmap.ts'
import { gsetType } from './gset.ts'
import { lwwType } from './lww.ts'
import { pncounterType } from './pncounter.ts'
import type { AnyCrdtType } from './types.ts'
import { wcounterType } from './wcounter.ts'

export * from './codec.ts'
export * from './errors.ts'
export * from './hlc.ts'
export * from './version-vector.ts'
export * from './types.ts'
export * from './gcounter.ts'
export * from './pncounter.ts'
export * from './value-codec.ts'
export * from './lww.ts'
export * from './lattice.ts'
export * from './gset.ts'
export * from './gmap.ts'
export * from './bounded.ts'
export * from './dots.ts'
export * from './awset.ts'
export * from './awmap.ts'
export * from './record.ts'
export * from './wcounter.ts'
export * from './hmap.ts'

/** The non-parameterised types, for registries. Parameterised ones (awmap, record,
 * lattice) are built by callers with their own kind tags. */
export const builtinTypes: AnyCrdtType[] = [gcounterType, pncounterType, boundedType, lwwType, awsetType, gsetType, gmapType, wcounterType, hmapType]
