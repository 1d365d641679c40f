/**
 * Devnet seed data: one project with an admin, a developer and a user account, and the
 * catalog seed (catalog-seed.ts: a few public models and agents with stable slugs).
 */
import type { ReplicaStore } from '../store/types.ts'
import { createAccountChanges } from './account.ts'
import { seedCatalog } from './catalog-seed.ts'
import { accountKey } from './model.ts'
import type { BillingConfig } from './tiers.ts'

export const SEED_PROJECT = 'proj_demo'
export const SEED_USERS = [
  { sub: 'admin@demo', role: 'admin' },
  { sub: 'dev@demo', role: 'developer' },
  { sub: 'user@demo', role: 'user' },
] as const

/** Creates the seed accounts and catalog (idempotent: a restarted devnet with a data dir keeps them). */
export async function seedDevnet (store: ReplicaStore, billing: BillingConfig, now: number): Promise<string[]> {
  const ids: string[] = []
  for (const u of SEED_USERS) {
    const { id, changes } = createAccountChanges(store, billing, SEED_PROJECT, u.sub, now)
    if (changes !== undefined) await store.commit(accountKey(id), changes)
    ids.push(id)
  }
  await seedCatalog(store, SEED_PROJECT, now)
  return ids
}
