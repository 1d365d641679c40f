// Garbage at every write route of the real devnet. The routes are read from the served
// `/openapi.json` (built from the route table), so routes added later are covered without
// touching this file. Each generated request is invalid by construction: a body of the wrong
// shape or type, a near-valid body with exactly one field broken (a JSON type the schema does
// not allow, a number past its bounds, a missing required field, an unknown field), malformed
// JSON, deep nesting, the wrong content type, an oversized body, or a stray query parameter.
// Checks: never a 5xx, always a problem+json with a known `code`, no stack, and the store's
// digest unchanged. Bounded: 300 runs. Replay with FORMSTATE_SEED=<seed>.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ERROR_STATUS } from '../../src/errors.ts'
import { ADMIN, startTestDevnet, testSeed, USER, type Caller, type TestDevnet } from './devnet-helpers.ts'

type Json = Record<string, any>
interface WriteRoute {
  method: string
  path: string
  params: string[]
  body?: Json
}
interface Garbage {
  kind: string
  raw?: string
  contentType?: string
  /** Set when the body is a JSON object with one broken field. */
  field?: string
}

const RUNS = 300
let d: TestDevnet
let routes: WriteRoute[] = []
let callers: Caller[] = []
let maxBody = 0

before(async () => {
  d = await startTestDevnet()
  maxBody = d.node.config.maxBodyBytes
  const doc = (await d.call({ none: true }, 'GET', '/openapi.json')).body as Json
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Json>)) {
    for (const [method, op] of Object.entries(ops)) {
      if (!['post', 'put', 'patch', 'delete'].includes(method)) continue
      const params = (op.parameters as Json[]).filter((p) => p.in === 'path').map((p) => p.name as string)
      const body = op.requestBody?.content?.['application/json']?.schema as Json | undefined
      routes.push({ method: method.toUpperCase(), path, params, ...(body !== undefined ? { body } : {}) })
    }
  }
  callers = [{ token: await d.token(ADMIN, 'admin') }, { service: true }]
})
after(async () => { await d.close() })

/** JSON types a (sub)schema admits. */
function typesOf (s: Json | undefined): Set<string> {
  const out = new Set<string>()
  if (s === undefined || Object.keys(s).length === 0) return new Set(['string', 'number', 'boolean', 'null', 'object', 'array'])
  for (const alt of [...(s.anyOf ?? []), ...(s.oneOf ?? [])]) for (const t of typesOf(alt)) out.add(t)
  if (s.enum !== undefined) for (const v of s.enum) out.add(v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v)
  if (s.const !== undefined) out.add(s.const === null ? 'null' : typeof s.const)
  for (const t of [s.type ?? []].flat()) out.add(t === 'integer' ? 'number' : t)
  return out
}

/** Largest `maximum` of the number branches, if every number branch is bounded. */
function maxOf (s: Json): number | undefined {
  const alts = [...(s.anyOf ?? []), ...(s.oneOf ?? [])]
  const nums = [s, ...alts].filter((x: Json) => x.type === 'number' || x.type === 'integer')
  if (nums.length === 0 || nums.some((x: Json) => typeof x.maximum !== 'number')) return undefined
  return Math.max(...nums.map((x: Json) => x.maximum as number))
}

/** A value that may well be valid for `s` (the base a single corruption is applied to). */
function plausible (name: string, s: Json): unknown {
  if (name === 'account_id') return d.accountOf(USER)
  if (s.enum !== undefined) return s.enum[0]
  if (s.anyOf !== undefined) return plausible(name, s.anyOf[0])
  switch (s.type) {
    case 'integer': case 'number': return typeof s.minimum === 'number' ? Math.max(s.minimum, 1) : 1
    case 'boolean': return true
    case 'array': return []
    case 'object': return {}
    case 'null': return null
    default: return s.format === 'date-time' ? '2025-01-01T00:00:00Z' : 'abc123'
  }
}

const SAMPLE: Record<string, unknown> = { string: 'str', number: 12345, boolean: true, null: null, object: { nested: { deep: [1] } }, array: [1, 'two', null] }
const wild = fc.oneof(
  fc.integer(), fc.double(), fc.string({ maxLength: 40 }), fc.boolean(), fc.constant(null),
  fc.constantFrom(-1, 0, -1e20, 1e21, 1e308, -0.5, Number.MAX_SAFE_INTEGER + 2, 'x'.repeat(5000), '\u0000\u202e', '../../etc'),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
  fc.nat(60).map((n) => { let v: unknown = 1; for (let i = 0; i < n; i++) v = { a: v }; return v }),
)

/** A body with exactly one broken field, or undefined when the route's schema is not an object. */
function corrupted (route: WriteRoute): fc.Arbitrary<Garbage> | undefined {
  const s = route.body
  const props = (s?.properties ?? {}) as Record<string, Json>
  const required = (s?.required ?? []) as string[]
  const base = (): Json => Object.fromEntries(Object.entries(props).map(([k, v]) => [k, plausible(k, v)]))
  const choices: Array<fc.Arbitrary<Garbage>> = [
    fc.tuple(fc.string({ minLength: 1, maxLength: 20 }).filter((k) => !(k in props) && k !== '__proto__'), wild)
      .map(([k, v]) => ({ kind: 'unknown field', raw: JSON.stringify({ ...base(), [k]: v }), field: k })),
  ]
  const names = Object.keys(props)
  if (names.length > 0) {
    choices.push(fc.constantFrom(...names).chain((name) => {
      const allowed = typesOf(props[name])
      const wrong = Object.keys(SAMPLE).filter((t) => !allowed.has(t))
      const opts: Array<fc.Arbitrary<unknown>> = []
      if (wrong.length > 0) opts.push(fc.constantFrom(...wrong).map((t) => SAMPLE[t]))
      const max = maxOf(props[name]!)
      if (max !== undefined) opts.push(fc.constantFrom(max + 1, max * 10 + 1, 1e300))
      if (opts.length === 0) return fc.constant({ kind: 'unknown field', raw: JSON.stringify({ ...base(), zz_unknown: 1 }), field: 'zz_unknown' })
      return fc.oneof(...opts).map((v) => ({ kind: 'wrong value', raw: JSON.stringify({ ...base(), [name]: v }), field: name }))
    }))
  }
  if (required.length > 0) {
    choices.push(fc.constantFrom(...required).map((name) => {
      const b = base()
      delete b[name]
      return { kind: 'missing field', raw: JSON.stringify(b), field: name }
    }))
  }
  return fc.oneof(...choices)
}

function isEmptyJson (raw: string | undefined): boolean {
  if (raw === undefined || raw.trim() === '') return true
  try {
    const v = JSON.parse(raw)
    return v === null || (typeof v === 'object' && Object.keys(v).length === 0)
  } catch { return false }
}

function garbageFor (route: WriteRoute): fc.Arbitrary<Garbage> {
  const kinds: Array<fc.Arbitrary<Garbage>> = [
    fc.jsonValue({ maxDepth: 4 }).map((v) => ({ kind: 'json of any shape', raw: JSON.stringify(v) })),
    fc.dictionary(fc.string({ maxLength: 12 }), wild, { maxKeys: 6 }).map((o) => ({ kind: 'object of random fields', raw: JSON.stringify(o) })),
    fc.constantFrom('{', '{"a":1,}', "{'a':1}", 'nul', '{"a":1}}', '[1,2', '\u0000', '{"a":01}', '{"__proto__":{"admin":true}}', '"just a string"', '42', 'true')
      .map((raw) => ({ kind: 'malformed json', raw })),
    fc.tuple(fc.constantFrom('[', '{"a":'), fc.integer({ min: 1000, max: 200_000 })).map(([open, n]) => ({
      kind: 'deep nesting', raw: open === '[' ? '['.repeat(n) + ']'.repeat(n) : open.repeat(n) + '1' + '}'.repeat(n),
    })),
    fc.tuple(fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/octet-stream'), fc.string({ minLength: 1, maxLength: 40 }))
      .map(([contentType, raw]) => ({ kind: 'wrong content type', raw, contentType })),
    fc.constant(null).map(() => ({ kind: 'oversized', raw: `{"a":"${'x'.repeat(maxBody + 16)}"}` })),
  ]
  const c = route.body !== undefined ? corrupted(route) : undefined
  if (c !== undefined) kinds.push(c, c) // weighted: the near-valid bodies reach the deepest checks
  else kinds.push(fc.constant({ kind: 'no body expected', raw: '{"anything":1}', field: 'anything' }))
  return fc.oneof(...kinds)
}

const paramValue = fc.oneof(
  fc.constant(null).map(() => d.accountOf(USER)),
  fc.string({ maxLength: 30 }).filter((s) => s.length > 0),
  fc.constantFrom('x'.repeat(400), '..', '%00', 'a/b', ' ', 'acc_000000000000000000000000'),
)

test(`garbage at every write route: never 5xx, always problem+json with a code, state unchanged (${RUNS} runs)`, async () => {
  const seed = testSeed('garbage property')
  assert.ok(routes.length >= 3, `write routes found: ${routes.map((r) => r.path).join(', ')}`)
  const digest = d.node.store.digest()
  const seen = new Map<string, number>()
  const request = fc.nat(routes.length - 1).chain((i) => {
    const route = routes[i]!
    return fc.record({
      route: fc.constant(route),
      caller: fc.nat(callers.length - 1),
      params: fc.array(paramValue, { minLength: route.params.length, maxLength: route.params.length }),
      garbage: garbageFor(route),
      strayQuery: fc.boolean(),
    })
  })
  await fc.assert(fc.asyncProperty(request, async ({ route, caller, params, garbage, strayQuery }) => {
    // A no-body route given an empty body, or a body route without required fields given {},
    // would be a valid request: not garbage.
    if (isEmptyJson(garbage.raw) && (route.body === undefined || (route.body.required ?? []).length === 0)) return
    let path = route.path
    route.params.forEach((name, i) => { path = path.replace(`{${name}}`, encodeURIComponent(String(params[i]))) })
    if (strayQuery) path += '?zz_stray=1'
    const r = await d.call(callers[caller]!, route.method, path, {
      ...(garbage.raw !== undefined ? { raw: garbage.raw } : {}),
      ...(garbage.contentType !== undefined ? { contentType: garbage.contentType } : {}),
    })
    const label = `${route.method} ${path} [${garbage.kind}] ${String(garbage.raw).slice(0, 200)} → ${r.status} ${r.text.slice(0, 300)}`
    assert.ok(r.status >= 400 && r.status < 500, label)
    assert.match(r.type, /^application\/problem\+json/, label)
    assert.ok(typeof r.body?.code === 'string' && r.body.code in ERROR_STATUS, label)
    assert.equal(r.body.status, r.status, label)
    assert.doesNotMatch(r.text, /\.ts:\d+|\bat [A-Za-z_.]+ \(/, label)
    if (r.body.code === 'unknown_field' || (r.body.code === 'invalid_field' && garbage.field !== undefined)) {
      assert.equal(typeof r.body.field, 'string', `a bad field is named: ${label}`)
    }
    assert.equal(d.node.store.digest(), digest, `state changed: ${label}`)
    seen.set(garbage.kind, (seen.get(garbage.kind) ?? 0) + 1)
  }), { numRuns: RUNS, seed, endOnFailure: true })
  console.log('garbage kinds sent:', Object.fromEntries(seen))
})
