// Shared helpers for the store tests: replicas over memory or a temp directory, and op builders.
import '../../src/polyfill.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultKinds } from '../../src/store/kinds.ts'
import { classicLevelKv, memoryLevelKv } from '../../src/store/level-kv.ts'
import { Replica, type ReplicaOptions } from '../../src/store/replica.ts'
import type { Change, Op } from '../../src/store/types.ts'
export { rng, testSeed as seedFromEnv } from '../support/seed.ts'

export const kinds = defaultKinds()

export function gInc (field: string, key: string, total: number): Change {
  return { field, kind: 'gcounter.v1', delta: { key, value: total } }
}

export function pn (field: string, side: 'p' | 'n', key: string, total: number): Change {
  return { field, kind: 'pncounter.v1', delta: { side, key, value: total } }
}

export function op (origin: string, seq: number, target: string, changes: Change[], wall = 1000 + seq): Op {
  return { origin, seq, hlc: { wall, logical: 0 }, shard: 0, target, changes }
}

export function memReplica (replicaId: string, extra: Partial<ReplicaOptions> = {}): Replica {
  return new Replica({ replicaId, kv: memoryLevelKv(), kinds, ...extra })
}

/** A temp directory removed by `cleanup`, and replicas opened on it. */
export function tempDir (): { dir: string; open: (replicaId: string, extra?: Partial<ReplicaOptions>) => Replica; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'fs-replica-'))
  return {
    dir,
    open: (replicaId, extra = {}) => new Replica({ replicaId, kv: classicLevelKv(dir), kinds, ...extra }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  }
}

