/**
 * The devnet's catalog seed: a few public models and agents of the seed project with
 * stable slugs (`gpt-demo`, `summarizer`, …), so documented curl lines work against any
 * fresh devnet. Idempotent: an item that exists (a restarted devnet with a data dir) is
 * left as it is, edits included.
 */
import type { ReplicaStore } from '../store/types.ts'
import { createCatalogChanges } from './catalog.ts'
import { readCatalogItem } from './catalog-read.ts'
import type { AgentCreate, CatalogKind, ModelCreate } from './catalog-schemas.ts'

/** Who the seed's Automerge changes say made them. */
export const SEED_AUTHOR = 'system:seed'

export const SEED_MODELS: readonly (ModelCreate & { id: string })[] = [
  {
    id: 'gpt-demo',
    name: 'GPT Demo',
    description: 'A general-purpose demo model: 1 credit per 1k input tokens, 2 per 1k output tokens.',
    pricing: { per_1k_input: 1, per_1k_output: 2 },
    config: { context_window: 8192, family: 'demo' },
    visibility: 'public',
  },
  {
    id: 'gpt-demo-large',
    name: 'GPT Demo Large',
    description: 'The larger demo model: dearer per token.',
    pricing: { per_1k_input: 5, per_1k_output: 15 },
    config: { context_window: 32768, family: 'demo' },
    visibility: 'public',
  },
]

export const SEED_AGENTS: readonly (AgentCreate & { id: string })[] = [
  {
    id: 'summarizer',
    name: 'Summarizer',
    description: 'Summarises a document: 5 credits per invocation.',
    pricing: { per_invocation: 5 },
    config: { operations: ['summarize', 'outline'], model: 'gpt-demo' },
    visibility: 'public',
  },
  {
    id: 'translator',
    name: 'Translator',
    description: 'Translates text between languages: 3 credits per invocation.',
    pricing: { per_invocation: 3 },
    config: { operations: ['translate', 'detect'], model: 'gpt-demo' },
    visibility: 'public',
  },
]

/** Creates the seed models and agents owned by `project` unless they exist; returns the ids created. */
export async function seedCatalog (store: ReplicaStore, project: string, now: number): Promise<string[]> {
  const created: string[] = []
  const items: Array<[CatalogKind, ModelCreate | AgentCreate]> = [
    ...SEED_MODELS.map((m): [CatalogKind, ModelCreate] => ['model', m]),
    ...SEED_AGENTS.map((a): [CatalogKind, AgentCreate] => ['agent', a]),
  ]
  for (const [kind, body] of items) {
    if (readCatalogItem(store, kind, body.id!) !== undefined) continue
    const { id, target, changes } = createCatalogChanges(store, kind, structuredClone(body), { sub: SEED_AUTHOR, project }, now)
    await store.commit(target, changes)
    created.push(`${kind}/${id}`)
  }
  return created
}
