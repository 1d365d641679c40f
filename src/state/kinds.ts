/** The kind registry of a marketplace replica: crdt/ builtins plus the marketplace's own. */
import { defaultKinds, type Kinds } from '../store/kinds.ts'
import { catalogKinds } from './catalog.ts'
import { keyStatusType } from './model.ts'

/** Every kind a marketplace replica holds; all nodes of a cluster must agree on it. */
export function marketplaceKinds (): Kinds {
  const kinds = defaultKinds()
  kinds.register(keyStatusType)
  catalogKinds(kinds)
  return kinds
}
