/**
 * Catalog benchmark (not a test): what the automerge.v1 adapter costs on top of raw
 * Automerge, on docs of a few sizes (changes per doc). Baselines measured in the same run:
 * - encodeState (canonical save, cold cache) vs `Automerge.save`;
 * - a price patch committed through a memory Replica vs `Automerge.change` + `applyChanges`
 *   on a bare doc.
 * Run: `npm run bench:catalog`.
 */
import '../src/polyfill.ts'
import * as Automerge from '@automerge/automerge'
import { encodeWith } from '../crdt/codec.ts'
import { automergeType, canonicalSave, type AmState } from '../src/state/automerge-kind.ts'
import { catalogKinds, createCatalogChanges, patchCatalogChanges } from '../src/state/catalog.ts'
import { modelCreateSchema } from '../src/state/catalog-schemas.ts'
import { defaultKinds } from '../src/store/kinds.ts'
import { memoryLevelKv } from '../src/store/level-kv.ts'
import { Replica } from '../src/store/replica.ts'

function time (n: number, fn: (i: number) => void): number {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) fn(i)
  return Number(process.hrtime.bigint() - t0) / 1e6 / n
}

async function timeAsync (n: number, fn: (i: number) => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await fn(i)
  return Number(process.hrtime.bigint() - t0) / 1e6 / n
}

const author = { sub: 'bench', project: 'p1' }
const body = modelCreateSchema.parse({ name: 'm', pricing: { per_1k_input: 1, per_1k_output: 2 }, config: { ctx: 8192, tags: ['a', 'b'] } })

async function run (changesPerDoc: number): Promise<void> {
  const r = new Replica({ replicaId: 'bench-a', kv: memoryLevelKv(), kinds: catalogKinds(defaultKinds()) })
  await r.start()
  const { id, target, changes } = createCatalogChanges(r, 'model', { ...body, id: 'm1' }, author, 1)
  await r.commit(target, changes)
  for (let i = 1; i < changesPerDoc; i++) {
    const p = patchCatalogChanges(r, 'model', id, { pricing: { per_1k_input: i + 1 } }, author, i * 1000)
    await r.commit(p.target, p.changes!)
  }
  const state = r.entity(target)!.get('doc')!.state as AmState
  const reps = Math.max(5, Math.floor(2000 / changesPerDoc))

  // Encode: raw save vs our canonical (cold: a fresh clone each time defeats the cache).
  const clones = Array.from({ length: reps }, () => automergeType.clone(state))
  const save = time(reps, (i) => { Automerge.save(clones[i]!.doc) })
  const canon = time(reps, (i) => { encodeWith((w) => automergeType.encodeState(w, clones[i]!)) })
  canonicalSave(state.doc) // fill the cache
  const warm = time(reps, () => { canonicalSave(state.doc) })

  // Patch: bare Automerge vs build change + commit through the replica (clone + apply + log).
  let bare = Automerge.clone(state.doc) as Automerge.Doc<any>
  const other = Automerge.clone(state.doc)
  const n = 200
  const raw = time(n, (i) => {
    bare = Automerge.change(bare, (d: any) => { d.pricing.per_1k_output = i + 10 })
    ;[bare] = Automerge.applyChanges(Automerge.clone(other), [Automerge.getLastLocalChange(bare)!])
  })
  const viaStore = await timeAsync(n, async (i) => {
    const p = patchCatalogChanges(r, 'model', id, { pricing: { per_1k_output: i + 10_000 } }, author, 1)
    await r.commit(p.target, p.changes!)
  })
  console.log(`${String(changesPerDoc).padStart(5)} changes/doc | encode: save ${save.toFixed(3)} ms, canonical cold ${canon.toFixed(3)} ms (×${(canon / save).toFixed(1)}), cached ${(warm * 1000).toFixed(1)} µs | patch: bare ${raw.toFixed(3)} ms, via replica ${viaStore.toFixed(3)} ms (×${(viaStore / raw).toFixed(1)})`)
  await r.stop()
}

for (const size of [10, 100, 1000]) await run(size)
