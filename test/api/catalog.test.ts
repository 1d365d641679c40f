// The catalog over HTTP on a real devnet: the seed, create/patch by role and project,
// visibility (public, private to the owner project, 404 alike for missing and invisible),
// listing with paging, history (who changed what, when), and a restart with a data dir
// keeping the seed as it was.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SEED_AGENTS, SEED_MODELS } from '../../src/state/catalog-seed.ts'
import { ADMIN, DEVELOPER, OTHER_PROJECT, PROJECT, startTestDevnet, USER, type Caller, type TestDevnet } from './devnet-helpers.ts'
import { assertProblem } from './problem.ts'

let d: TestDevnet
let dev: Caller, admin: Caller, user: Caller, otherDev: Caller, anon: Caller

before(async () => {
  d = await startTestDevnet()
  dev = { token: await d.token(DEVELOPER, 'developer') }
  admin = { token: await d.token(ADMIN, 'admin') }
  user = { token: await d.token(USER, 'user') }
  otherDev = { token: await d.token('dev@other', 'developer', OTHER_PROJECT) }
  anon = { none: true }
})
after(async () => { await d.close() })

const model = (id: string, extra: Record<string, unknown> = {}) => ({ id, name: `Model ${id}`, pricing: { per_1k_input: 4, per_1k_output: 8 }, ...extra })

test('the devnet seed: public models and agents with stable slugs, listed without credentials', async () => {
  const models = await d.call(anon, 'GET', '/models')
  assert.equal(models.status, 200)
  for (const m of SEED_MODELS) {
    const item = models.body.items.find((i: any) => i.id === m.id)
    assert.ok(item !== undefined, m.id)
    assert.deepEqual(item.pricing, m.pricing)
    assert.equal(item.owner_project, PROJECT)
    assert.equal(item.visibility, 'public')
  }
  const agents = await d.call(anon, 'GET', '/agents')
  assert.deepEqual(SEED_AGENTS.map((a) => a.id).filter((id) => !agents.body.items.some((i: any) => i.id === id)), [])
  assert.equal((await d.call(anon, 'GET', '/agents/summarizer')).body.pricing.per_invocation, 5)
  assert.ok(models.body.items.every((i: any) => i.kind === 'model'))
  assert.ok(agents.body.items.every((i: any) => i.kind === 'agent'))
})

test('a developer creates a private model: visible to its project only; invisible looks like missing', async () => {
  const r = await d.call(dev, 'POST', '/models', { body: model('secret-model', { visibility: 'private', config: { temperature: 0.2 } }) })
  assert.equal(r.status, 201, r.text)
  assert.equal(r.body.owner_project, PROJECT)
  assert.equal(r.body.kind, 'model')
  assert.deepEqual(r.body.config, { temperature: 0.2 })
  assert.equal(r.body.created_at, d.clock.now)

  assert.equal((await d.call(user, 'GET', '/models/secret-model')).status, 200)
  assertProblem(await d.call(anon, 'GET', '/models/secret-model'), 404, 'not_found')
  assertProblem(await d.call(otherDev, 'GET', '/models/secret-model'), 404, 'not_found')
  assertProblem(await d.call(otherDev, 'GET', '/models/never-created'), 404, 'not_found')

  const ids = async (c: Caller, q = ''): Promise<string[]> => (await d.call(c, 'GET', `/models${q}`)).body.items.map((i: any) => i.id)
  assert.ok((await ids(user)).includes('secret-model'))
  assert.ok(!(await ids(anon)).includes('secret-model'))
  assert.ok(!(await ids(otherDev)).includes('secret-model'))
  assert.deepEqual(await ids(otherDev, `?owner=${PROJECT}`), SEED_MODELS.map((m) => m.id).sort(), 'another project sees only our public items')
})

test('who may create: developers and admins (own project), services for their X-Project-Id; not users', async () => {
  assertProblem(await d.call(user, 'POST', '/models', { body: model('by-user') }), 403, 'forbidden')
  assert.equal((await d.call(admin, 'POST', '/agents', { body: { id: 'admin-agent', name: 'A', pricing: { per_invocation: 2 }, visibility: 'public' } })).status, 201)
  const other = await d.call(otherDev, 'POST', '/models', { body: model('other-model', { visibility: 'public' }) })
  assert.equal(other.body.owner_project, OTHER_PROJECT)
  assertProblem(await d.call({ service: true }, 'POST', '/models', { body: model('svc-none') }), 400, 'invalid_field', 'X-Project-Id')
  const svc = await d.call({ service: true, projectId: OTHER_PROJECT }, 'POST', '/models', { body: model('svc-model') })
  assert.equal(svc.status, 201, svc.text)
  assert.equal(svc.body.owner_project, OTHER_PROJECT)
  assertProblem(await d.call(dev, 'POST', '/models', { body: model('gpt-demo') }), 409, 'already_exists', 'id')
  // A generated id when the body names none.
  const gen = await d.call(dev, 'POST', '/models', { body: { name: 'No slug', pricing: { per_1k_input: 1, per_1k_output: 1 } } })
  assert.match(gen.body.id, /^mdl_[a-z2-7]{24}$/)
  assert.equal(gen.body.visibility, 'private')
})

test('bad bodies are 400 naming the field and change nothing', async () => {
  const digest = d.node.store.digest()
  assertProblem(await d.call(dev, 'POST', '/models', { body: { ...model('bad1'), colour: 'red' } }), 400, 'unknown_field', 'colour')
  assertProblem(await d.call(dev, 'POST', '/agents', { body: { id: 'bad2', name: 'x', pricing: { per_1k_input: 1 } } }), 400, 'unknown_field', 'pricing.per_1k_input')
  assertProblem(await d.call(dev, 'POST', '/models', { body: model('bad3', { pricing: { per_1k_input: -1, per_1k_output: 1 } }) }), 400, 'invalid_field', 'pricing.per_1k_input')
  assertProblem(await d.call(dev, 'PATCH', '/models/gpt-demo', { body: {} }), 400, 'invalid_field')
  assertProblem(await d.call(dev, 'PATCH', '/models/gpt-demo', { body: { pricing: { per_invocation: 3 } } }), 400, 'unknown_field', 'pricing.per_invocation')
  assertProblem(await d.call(anon, 'GET', '/models/a%20b'), 400, 'invalid_field', 'id')
  assertProblem(await d.call(anon, 'GET', '/models?limit=0'), 400, 'invalid_field', 'limit')
  assert.equal(d.node.store.digest(), digest)
})

test('patch: own project only (another project: 403 on a public item, 404 on a private one); a no-op writes nothing', async () => {
  await d.call(dev, 'POST', '/models', { body: model('patch-me', { visibility: 'public' }) })
  const r = await d.call(dev, 'PATCH', '/models/patch-me', { body: { pricing: { per_1k_output: 9 }, description: 'now dearer' } })
  assert.equal(r.status, 200, r.text)
  assert.deepEqual(r.body.pricing, { per_1k_input: 4, per_1k_output: 9 })
  assert.equal(r.body.description, 'now dearer')

  const digest = d.node.store.digest()
  const same = await d.call(admin, 'PATCH', '/models/patch-me', { body: { pricing: { per_1k_output: 9 } } })
  assert.equal(same.status, 200)
  assert.equal(d.node.store.digest(), digest, 'a patch that changes nothing writes nothing')

  assertProblem(await d.call(otherDev, 'PATCH', '/models/patch-me', { body: { name: 'hijacked' } }), 403, 'wrong_project')
  assertProblem(await d.call(otherDev, 'PATCH', '/models/secret-model', { body: { name: 'hijacked' } }), 404, 'not_found')
  assertProblem(await d.call({ service: true, projectId: OTHER_PROJECT }, 'PATCH', '/models/patch-me', { body: { name: 'hijacked' } }), 403, 'wrong_project')
  assertProblem(await d.call(user, 'PATCH', '/models/patch-me', { body: { name: 'by user' } }), 403, 'forbidden')
  assertProblem(await d.call(dev, 'PATCH', '/models/nope', { body: { name: 'x' } }), 404, 'not_found')
  assert.equal(d.node.store.digest(), digest, 'refused patches change nothing')

  // A service without a declared project is an operator: it may edit any item.
  const op = await d.call({ service: true }, 'PATCH', '/models/other-model', { body: { visibility: 'private' } })
  assert.equal(op.status, 200, op.text)
  assert.equal(op.body.visibility, 'private')
})

test('history: who changed what, when; the owner project and services only', async () => {
  await d.call(dev, 'POST', '/agents', { body: { id: 'hist-agent', name: 'H', pricing: { per_invocation: 10 }, visibility: 'public' } })
  d.clock.now += 5_000
  await d.call(dev, 'PATCH', '/agents/hist-agent', { body: { pricing: { per_invocation: 12 } } })
  d.clock.now += 5_000
  await d.call(admin, 'PATCH', '/agents/hist-agent', { body: { name: 'Historian' } })
  d.clock.now += 5_000
  await d.call(admin, 'PATCH', '/agents/hist-agent', { body: { pricing: { per_invocation: 15 } } })

  const h = await d.call(user, 'GET', '/agents/hist-agent/history')
  assert.equal(h.status, 200, h.text)
  assert.deepEqual(h.body.entries.map((e: any) => [e.op, e.by, e.fields]), [
    ['create', DEVELOPER, ['id', 'kind', 'owner_project', 'name', 'description', 'pricing', 'config', 'visibility', 'created_at', 'updated_at']],
    ['patch', DEVELOPER, ['pricing.per_invocation']],
    ['patch', ADMIN, ['name']],
    ['patch', ADMIN, ['pricing.per_invocation']],
  ])
  const times = h.body.entries.map((e: any) => e.at)
  assert.deepEqual(times, [...times].sort((a: number, b: number) => a - b), 'in causal (here: time) order')
  assert.ok(times[3] - times[0] >= 14_000, 'each change carries its own time')

  const prices = await d.call(admin, 'GET', '/agents/hist-agent/history?field=pricing')
  assert.deepEqual(prices.body.entries.map((e: any) => [e.by, e.values['pricing.per_invocation'] ?? e.values.pricing?.per_invocation]), [[DEVELOPER, 10], [DEVELOPER, 12], [ADMIN, 15]])
  assert.equal((await d.call(admin, 'GET', '/agents/hist-agent/history?limit=1')).body.entries.length, 1)
  assert.equal((await d.call({ service: true }, 'GET', '/agents/hist-agent/history')).status, 200)

  assertProblem(await d.call(otherDev, 'GET', '/agents/hist-agent/history'), 403, 'wrong_project')
  assertProblem(await d.call(otherDev, 'GET', '/models/secret-model/history'), 404, 'not_found')
  assertProblem(await d.call(anon, 'GET', '/agents/hist-agent/history'), 401, 'unauthenticated')
})

test('listing pages through every visible item in id order', async () => {
  const seen: string[] = []
  let after: string | null = null
  for (let pages = 0; pages < 50; pages++) {
    const r: any = await d.call(user, 'GET', `/models?limit=2${after !== null ? `&after=${after}` : ''}`)
    assert.equal(r.status, 200)
    assert.ok(r.body.items.length <= 2)
    seen.push(...r.body.items.map((i: any) => i.id))
    after = r.body.next_after
    if (after === null) break
  }
  const all = (await d.call(user, 'GET', '/models?limit=500')).body.items.map((i: any) => i.id)
  assert.deepEqual(seen, all)
  assert.deepEqual(all, [...all].sort())
})

test('the seed is idempotent across a restart with a data dir: items kept as edited, no second creation', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-catalog-restart-'))
  try {
    const a = await startTestDevnet({ args: ['--data-dir', dir] })
    const devA = { token: await a.token(DEVELOPER, 'developer') }
    assert.equal((await a.call(devA, 'PATCH', '/models/gpt-demo', { body: { pricing: { per_1k_input: 7 } } })).status, 200)
    await a.close()
    const b = await startTestDevnet({ args: ['--data-dir', dir] })
    try {
      const devB = { token: await b.token(DEVELOPER, 'developer') }
      assert.equal((await b.call(devB, 'GET', '/models/gpt-demo')).body.pricing.per_1k_input, 7)
      const h = await b.call(devB, 'GET', '/models/gpt-demo/history')
      assert.deepEqual(h.body.entries.map((e: any) => e.op), ['create', 'patch'])
      assert.equal((await b.call({ none: true }, 'GET', '/agents')).body.items.filter((i: any) => i.id === 'summarizer').length, 1)
    } finally { await b.close() }
  } finally { rmSync(dir, { recursive: true, force: true }) }
})
