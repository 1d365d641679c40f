// Replicas with memory storage behind real libp2p nodes on 127.0.0.1, for the cluster tests.
import '../../src/polyfill.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultKinds } from '../../src/store/kinds.ts'
import { classicLevelKv, memoryLevelKv } from '../../src/store/level-kv.ts'
import { Replica } from '../../src/store/replica.ts'
import type { Change } from '../../src/store/types.ts'
import { loadOrCreateIdentity, type NodeIdentity } from '../../src/replication/identity.ts'
import { Replicator, type ReplicatorOptions } from '../../src/replication/replicator.ts'
export { rng, testSeed as seedFromEnv } from '../support/seed.ts'

export const kinds = defaultKinds()

export interface TestNode {
  identity: NodeIdentity
  store: Replica
  repl: Replicator
  addr: () => string
  stop: () => Promise<void>
}

/**
 * Start a replica + replicator. Timers are off by default (syncIntervalMs 0) so tests
 * drive sync explicitly; pass options to override.
 */
export async function startNode (opts: ReplicatorOptions & { dataDir?: string } = {}): Promise<TestNode> {
  const identity = await loadOrCreateIdentity(opts.dataDir)
  const store = new Replica({ replicaId: identity.peerId, kv: opts.dataDir !== undefined ? classicLevelKv(join(opts.dataDir, 'db')) : memoryLevelKv(), kinds })
  await store.start()
  const repl = new Replicator().init({ syncIntervalMs: 0, compactIntervalMs: 0, redialMs: 200, ...opts }, { store, kinds, identity })
  await repl.start()
  let stopped = false
  return {
    identity,
    store,
    repl,
    addr: () => repl.status().listenAddrs[0]!,
    stop: async () => {
      if (stopped) return
      stopped = true
      await repl.stop()
      await store.stop()
    },
  }
}

export function incr (field: string, key: string, total: number): Change {
  return { field, kind: 'gcounter.v1', delta: { key, value: total } }
}

/** Poll `cond` every 25 ms until true; throws with `what` after `ms`. */
export async function until (what: string, ms: number, cond: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

export function tempDir (): { dir: string, cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'fs-repl-'))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

