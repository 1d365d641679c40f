// The catalog on real (memory) replicas: create/patch changes, concurrent edits that
// converge whatever the delivery order, history of who changed a price and when,
// visibility, ownership, and the request schemas. Replay with FORMSTATE_SEED=<seed>.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FormStateError } from '../../src/errors.ts'
import {
  catalogKey, catalogKinds, createCatalogChanges, getCatalogItem, listCatalog, newCatalogId, patchCatalogChanges,
  type CatalogAuthor, type CatalogKind,
} from '../../src/state/catalog.ts'
import { catalogHistory } from '../../src/state/catalog-history.ts'
import {
  agentCreateSchema, MAX_CONFIG_BYTES, modelCreateSchema, modelPatchSchema, type CatalogCreate, type CatalogPatch,
} from '../../src/state/catalog-schemas.ts'
import { defaultKinds } from '../../src/store/kinds.ts'
import { memoryLevelKv } from '../../src/store/level-kv.ts'
import { Replica } from '../../src/store/replica.ts'
import type { Op } from '../../src/store/types.ts'

const kinds = catalogKinds(defaultKinds())
const alice: CatalogAuthor = { sub: 'user|alice', project: 'p1' }
const bob: CatalogAuthor = { sub: 'user|bob', project: 'p1' }
const mallory: CatalogAuthor = { sub: 'user|mallory', project: 'p2' }

async function replica (id: string): Promise<Replica> {
  const r = new Replica({ replicaId: id, kv: memoryLevelKv(), kinds })
  await r.start()
  return r
}

async function withReplicas (ids: string[], fn: (rs: Replica[]) => Promise<void>): Promise<void> {
  const rs = await Promise.all(ids.map(replica))
  try { await fn(rs) } finally { await Promise.all(rs.map((r) => r.stop())) }
}

function expectCode (code: string): (err: unknown) => boolean {
  return (err: unknown) => err instanceof FormStateError && err.code === code
}

const modelBody = (over: Record<string, unknown> = {}): CatalogCreate =>
  modelCreateSchema.parse({ name: 'Llama 8B', description: 'a model', pricing: { per_1k_input: 10, per_1k_output: 30 }, config: { ctx: 8192, tags: ['chat'] }, ...over })

async function create (r: Replica, kind: CatalogKind, body: CatalogCreate, who = alice, at = 1_700_000_000_000): Promise<string> {
  const { id, target, changes } = createCatalogChanges(r, kind, body, who, at)
  await r.commit(target, changes)
  return id
}

async function patch (r: Replica, kind: CatalogKind, id: string, body: Record<string, unknown>, who: CatalogAuthor, at: number): Promise<string[]> {
  const { target, changes, fields } = patchCatalogChanges(r, kind, id, modelPatchSchema.parse(body) as CatalogPatch, who, at)
  if (changes !== undefined) await r.commit(target, changes)
  return fields
}

async function ownOps (r: Replica): Promise<Op[]> {
  return r.readLog(r.replicaId, 0, 10_000)
}

test('create then read back; the slug must be free and well formed', async () => {
  await withReplicas(['a'], async ([a]) => {
    const id = await create(a!, 'model', modelBody({ id: 'llama-8b', visibility: 'public' }))
    assert.equal(id, 'llama-8b')
    const item = getCatalogItem(a!, 'model', id)!
    assert.deepEqual(item, {
      id: 'llama-8b', kind: 'model', owner_project: 'p1', name: 'Llama 8B', description: 'a model',
      pricing: { per_1k_input: 10, per_1k_output: 30 }, config: { ctx: 8192, tags: ['chat'] }, visibility: 'public',
      created_at: 1_700_000_000_000, updated_at: 1_700_000_000_000,
    })
    assert.deepEqual(a!.targets('model/'), [catalogKey('model', id)])
    assert.throws(() => createCatalogChanges(a!, 'model', modelBody({ id: 'llama-8b' }), alice, 1), expectCode('already_exists'))
    assert.throws(() => createCatalogChanges(a!, 'model', { ...modelBody(), id: 'bad id/..' }, alice, 1), expectCode('invalid_field'))
    const gen = await create(a!, 'agent', agentCreateSchema.parse({ name: 'Helper', pricing: { per_invocation: 5 } }))
    assert.match(gen, /^agt_[a-z2-7]{24}$/)
    assert.equal(getCatalogItem(a!, 'agent', gen)!.visibility, 'private', 'private unless asked')
    assert.equal(getCatalogItem(a!, 'model', gen), undefined, 'models and agents are separate')
  })
})

test('a patch writes only the named, changed fields; others and other projects are refused', async () => {
  await withReplicas(['a'], async ([a]) => {
    const id = await create(a!, 'model', modelBody())
    const ops0 = (await ownOps(a!)).length
    assert.deepEqual(await patch(a!, 'model', id, { pricing: { per_1k_input: 12 }, name: 'Llama 8B' }, bob, 1_700_000_060_000), ['pricing.per_1k_input'])
    const item = getCatalogItem(a!, 'model', id)!
    assert.deepEqual(item.pricing, { per_1k_input: 12, per_1k_output: 30 })
    assert.equal(item.updated_at, 1_700_000_060_000)
    assert.equal(item.name, 'Llama 8B')
    assert.deepEqual(await patch(a!, 'model', id, { pricing: { per_1k_input: 12 } }, bob, 1_700_000_070_000), [], 'a replay changes nothing')
    assert.equal((await ownOps(a!)).length, ops0 + 1, 'no op for a no-op patch')
    assert.throws(() => patchCatalogChanges(a!, 'model', id, { name: 'x' }, mallory, 1), expectCode('wrong_project'))
    assert.equal(patchCatalogChanges(a!, 'model', id, { name: 'x' }, mallory, 1, { admin: true }).fields[0], 'name')
    assert.throws(() => patchCatalogChanges(a!, 'model', 'nope', { name: 'x' }, alice, 1), expectCode('not_found'))
    await patch(a!, 'model', id, { config: { ctx: 4096 } }, alice, 1_700_000_080_000)
    assert.deepEqual(getCatalogItem(a!, 'model', id)!.config, { ctx: 4096 }, 'config is replaced whole')
  })
})

test('concurrent edits on three replicas converge whatever the delivery order (both prices kept)', async () => {
  const seed = process.env.FORMSTATE_SEED !== undefined ? Number(process.env.FORMSTATE_SEED) : Math.floor(Math.random() * 2 ** 31)
  console.log(`catalog convergence: seed ${seed} (replay: FORMSTATE_SEED=${seed})`)
  let x = seed >>> 0
  const rand = (): number => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x / 2 ** 32 }
  await withReplicas(['a', 'b', 'c', 'd'], async ([a, b, c, d]) => {
    const id = await create(a!, 'model', modelBody({ id: 'm1', visibility: 'public' }))
    await b!.applyRemote(await ownOps(a!))
    // Concurrent: b changes the input price, a the output price and the name.
    await patch(b!, 'model', id, { pricing: { per_1k_input: 11 } }, bob, 1_700_000_100_000)
    await patch(a!, 'model', id, { pricing: { per_1k_output: 33 }, name: 'Llama 8B v2' }, alice, 1_700_000_100_000)
    await patch(b!, 'model', id, { description: 'faster' }, bob, 1_700_000_200_000)
    const all = [...await ownOps(a!), ...await ownOps(b!)]
    // c gets everything in one reversed batch; d one op at a time, shuffled (dependants first).
    await c!.applyRemote([...all].reverse())
    const shuffled = [...all].sort(() => rand() - 0.5)
    for (const op of shuffled) await d!.applyRemote([op])
    await a!.applyRemote(await ownOps(b!))
    await b!.applyRemote(await ownOps(a!))
    const digests = [a, b, c, d].map((r) => r!.digest())
    assert.equal(new Set(digests).size, 1, `digests differ: ${digests.join(' ')}`)
    const item = getCatalogItem(d!, 'model', id)!
    assert.deepEqual(item.pricing, { per_1k_input: 11, per_1k_output: 33 })
    assert.equal(item.name, 'Llama 8B v2')
    assert.equal(item.description, 'faster')
    for (const r of [a, b, c]) assert.deepEqual(getCatalogItem(r!, 'model', id), item)
  })
})

test('a snapshot carries the catalog (and changes still waiting for their dependencies)', async () => {
  await withReplicas(['a', 'b', 'c'], async ([a, b, c]) => {
    const id = await create(a!, 'model', modelBody({ id: 'm2' }))
    await patch(a!, 'model', id, { pricing: { per_1k_output: 31 } }, alice, 1_700_000_300_000)
    const [first, second] = await ownOps(a!)
    await b!.applyRemote([second!]) // the patch before the create: held, invisible
    assert.equal(getCatalogItem(b!, 'model', id), undefined)
    await c!.importSnapshot(await b!.exportSnapshot())
    assert.equal(c!.digest(), b!.digest())
    await c!.applyRemote([first!])
    assert.deepEqual(getCatalogItem(c!, 'model', id), getCatalogItem(a!, 'model', id))
    assert.equal(c!.digest(), a!.digest())
  })
})

test('history answers who changed the price, when, and to what', async () => {
  await withReplicas(['a', 'b'], async ([a, b]) => {
    const id = await create(a!, 'model', modelBody({ id: 'm3' }), alice, 1_700_000_000_000)
    await b!.applyRemote(await ownOps(a!))
    await patch(b!, 'model', id, { pricing: { per_1k_input: 15 } }, bob, 1_700_000_500_000)
    await patch(b!, 'model', id, { name: 'renamed' }, bob, 1_700_000_600_000)
    await a!.applyRemote(await ownOps(b!))
    const h = catalogHistory(a!, 'model', id)!
    assert.deepEqual(h.map((e) => [e.op, e.by, e.at]), [
      ['create', 'user|alice', 1_700_000_000_000],
      ['patch', 'user|bob', 1_700_000_500_000],
      ['patch', 'user|bob', 1_700_000_600_000],
    ])
    assert.deepEqual(h[1]!.fields, ['pricing.per_1k_input'])
    assert.deepEqual(h[1]!.values, { 'pricing.per_1k_input': 15 })
    assert.equal(h[0]!.values['pricing'] !== undefined, true)
    const priceOnly = catalogHistory(a!, 'model', id, { field: 'pricing.per_1k_input' })!
    assert.deepEqual(priceOnly.map((e) => e.by), ['user|alice', 'user|bob'], 'creation set the price too')
    assert.equal(catalogHistory(a!, 'model', id, { limit: 1 })![0]!.fields[0], 'name')
    assert.equal(catalogHistory(a!, 'model', 'missing'), undefined)
    assert.notEqual(h[0]!.actor, h[1]!.actor, 'each replica writes as its own actor')
  })
})

test('list: public items plus the caller project\'s private ones, in id order, with a cursor', async () => {
  await withReplicas(['a'], async ([a]) => {
    await create(a!, 'model', modelBody({ id: 'pub-1', visibility: 'public' }), alice)
    await create(a!, 'model', modelBody({ id: 'priv-1' }), alice)
    await create(a!, 'model', modelBody({ id: 'priv-2' }), mallory)
    await create(a!, 'agent', agentCreateSchema.parse({ id: 'ag-1', name: 'A', pricing: { per_invocation: 1 }, visibility: 'public' }), alice)
    const ids = (o: Parameters<typeof listCatalog>[2]): string[] => listCatalog(a!, 'model', o).map((i) => i.id)
    assert.deepEqual(ids({}), ['pub-1'])
    assert.deepEqual(ids({ project: 'p1' }), ['priv-1', 'pub-1'])
    assert.deepEqual(ids({ project: 'p2' }), ['priv-2', 'pub-1'])
    assert.deepEqual(ids({ project: 'p1', owner: 'p2' }), [], 'another project\'s private items stay hidden')
    assert.deepEqual(ids({ project: 'p1', after: 'priv-1' }), ['pub-1'])
    assert.deepEqual(ids({ project: 'p1', limit: 1 }), ['priv-1'])
    assert.deepEqual(listCatalog(a!, 'agent').map((i) => i.id), ['ag-1'])
  })
})

test('schemas: strict, bounded, and a patch must name something', () => {
  const fails = (schema: { safeParse: (v: unknown) => { success: boolean } }, v: unknown): boolean => !schema.safeParse(v).success
  const ok = { name: 'n', pricing: { per_1k_input: 1, per_1k_output: 2 } }
  assert.equal(modelCreateSchema.safeParse(ok).success, true)
  assert.ok(fails(modelCreateSchema, { ...ok, owner_project: 'p2' }), 'unknown field')
  assert.ok(fails(modelCreateSchema, { ...ok, name: 'x'.repeat(201) }))
  assert.ok(fails(modelCreateSchema, { ...ok, description: 'x'.repeat(10_001) }))
  assert.ok(fails(modelCreateSchema, { ...ok, pricing: { per_1k_input: -1, per_1k_output: 2 } }))
  assert.ok(fails(modelCreateSchema, { ...ok, pricing: { per_1k_input: 1.5, per_1k_output: 2 } }))
  assert.ok(fails(modelCreateSchema, { ...ok, pricing: { per_invocation: 1 } }), 'agent pricing on a model')
  assert.ok(fails(modelCreateSchema, { ...ok, config: { blob: 'x'.repeat(MAX_CONFIG_BYTES) } }))
  const proto = modelCreateSchema.parse({ ...ok, config: JSON.parse('{"a": {"__proto__": {"x": 1}}, "__proto__": 1}') })
  assert.ok(!Object.hasOwn(proto.config, '__proto__') && !Object.hasOwn(proto.config.a as object, '__proto__'), '__proto__ keys are dropped')
  let deep: unknown = 1
  for (let i = 0; i < 20; i++) deep = { d: deep }
  assert.ok(fails(modelCreateSchema, { ...ok, config: deep }))
  assert.ok(fails(modelCreateSchema, { ...ok, id: '../etc' }))
  assert.ok(fails(modelCreateSchema, { ...ok, visibility: 'secret' }))
  assert.ok(fails(agentCreateSchema, { name: 'a', pricing: { per_1k_input: 1, per_1k_output: 1 } }))
  assert.ok(fails(modelPatchSchema, {}))
  assert.ok(fails(modelPatchSchema, { pricing: {} }))
  assert.ok(fails(modelPatchSchema, { owner_project: 'p2' }))
  assert.equal(modelPatchSchema.safeParse({ pricing: { per_1k_output: 0 } }).success, true)
})

test('generated ids are unique and well formed', () => {
  const ids = new Set(Array.from({ length: 200 }, () => newCatalogId('model')))
  assert.equal(ids.size, 200)
  for (const id of ids) assert.match(id, /^mdl_[a-z2-7]{24}$/)
})
