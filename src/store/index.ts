/** The store's public surface: the replica, its storage backends, kinds and op codec. */
export * from './types.ts'
export { Replica, type ReplicaOptions } from './replica.ts'
export { Kinds, defaultKinds } from './kinds.ts'
export { encodeOp, decodeOp, encodeOps, decodeOps } from './op-codec.ts'
export type { KvStore, KvWrite, KvRange } from './storage.ts'
export { classicLevelKv, memoryLevelKv } from './level-kv.ts'
