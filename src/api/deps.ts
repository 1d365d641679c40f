/**
 * What route files receive. Routes write through the store (as ops) and read the state
 * through src/state/; they see replication only through the read-only `ReplicationView`
 * (admin routes, /metrics), never src/replication/ itself.
 */
import type { ApiKeysRuntime } from '../auth/api-keys-runtime.ts'
import type { Logger } from '../log.ts'
import type { ReplicaStore } from '../store/types.ts'
import type { BillingConfig } from '../state/tiers.ts'
import type { ApiMetrics } from './metrics.ts'
import type { ReplicationView } from './replication-view.ts'

export type { ReplicationEventView, ReplicationStatusView, ReplicationView } from './replication-view.ts'

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
  /** Projects whose admins may use the replica-wide admin views (`--operator-projects`). */
  readonly operatorProjects?: ReadonlySet<string>
  /** Replication as the admin routes and /metrics see it; absent on a devnet. */
  readonly replication?: ReplicationView
  /** This node's Prometheus metrics; `GET /metrics` is served when present. */
  readonly metrics?: ApiMetrics
  /** The API-key feature (authenticator, activity, limiter); key and internal routes need it. */
  readonly keys?: ApiKeysRuntime
}
