/**
 * What route files receive. Routes write through the store (as ops) and read the state
 * through src/state/; they never see replication.
 */
import type { Logger } from '../log.ts'
import type { ReplicaStore } from '../store/types.ts'
import type { BillingConfig } from '../state/tiers.ts'

export interface ApiDeps {
  readonly store: ReplicaStore
  readonly billing: BillingConfig
  readonly log: Logger
  /** Wall clock in ms (injectable for tests). */
  readonly now: () => number
  /** `devnet` keys are `fs_test_…`, node keys `fs_live_…`. */
  readonly mode: 'devnet' | 'node'
  readonly stripeWebhookSecret?: string
  /** Active API keys of an account (supplied by the keys feature; 0 without it). */
  readonly activeKeyCount?: (accountId: string) => number
}
