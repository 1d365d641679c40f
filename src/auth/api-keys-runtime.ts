/**
 * The API-key feature as one component for the composition root: the authenticator the
 * request chain uses, the activity aggregator it reports to, and the rate limiter shared
 * with the request chain (so a key's budget is one budget whether it calls the API or is
 * validated by another service). `start()` runs the periodic flush; `stop()` flushes.
 */
import type { Logger } from '../log.ts'
import type { ReplicaStore } from '../store/types.ts'
import { ApiKeyActivity } from './api-key-activity.ts'
import { StoreApiKeyAuthenticator } from './api-key-auth.ts'
import type { ApiKeyEnv } from './api-key-format.ts'
import type { Principal } from './principal.ts'
import type { GcraRateLimiter, RateLimit } from './rate-limit.ts'

export interface ApiKeysRuntimeOptions {
  store: ReplicaStore
  log: Logger
  now: () => number
  env: ApiKeyEnv
  limiter: GcraRateLimiter
  /** The rate limit of a principal (by tier). */
  limitFor: (p: Principal) => RateLimit | undefined
  /** Activity flush interval (default 5 s). */
  flushIntervalMs?: number
}

export interface ApiKeysRuntime {
  readonly env: ApiKeyEnv
  readonly authenticator: StoreApiKeyAuthenticator
  readonly activity: ApiKeyActivity
  readonly limiter: GcraRateLimiter
  readonly limitFor: (p: Principal) => RateLimit | undefined
  start (): void
  stop (): Promise<void>
}

/** Builds the component (not started). */
export function createApiKeysRuntime (opts: ApiKeysRuntimeOptions): ApiKeysRuntime {
  const activity = new ApiKeyActivity({
    store: opts.store,
    log: opts.log.child({ component: 'api-keys' }),
    now: opts.now,
    ...(opts.flushIntervalMs !== undefined ? { flushIntervalMs: opts.flushIntervalMs } : {}),
  })
  const authenticator = new StoreApiKeyAuthenticator({ store: opts.store, env: opts.env, now: opts.now, activity })
  return {
    env: opts.env,
    authenticator,
    activity,
    limiter: opts.limiter,
    limitFor: opts.limitFor,
    start: () => activity.start(),
    stop: () => activity.stop(),
  }
}
