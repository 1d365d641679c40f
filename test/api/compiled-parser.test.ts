// The compiled parsers (src/api/compiled-parser.ts) against zod itself: whenever a parser
// answers, zod must accept the same value and output an equal value (same keys, same order,
// so the same JSON). Checked on values generated from each schema (valid ones and broken
// ones), for every params, query, body and response schema the API registers and for
// synthetic schemas covering each supported kind. Seeded: FORMSTATE_SEED.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { z } from 'zod'
import { compileParser, UNSURE } from '../../src/api/compiled-parser.ts'
import { RouteTable } from '../../src/api/openapi.ts'
import { apiRoutes } from '../../src/api/routes/index.ts'
import type { ApiDeps } from '../../src/api/deps.ts'
import { createLogger } from '../../src/log.ts'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import { testSeed } from '../support/seed.ts'

interface CheckDef { check?: string, value?: number, minimum?: number, maximum?: number, length?: number, pattern?: RegExp }
interface Def { type: string, shape?: Record<string, z.ZodType>, innerType?: z.ZodType, element?: z.ZodType, valueType?: z.ZodType, entries?: Record<string, string>, checks?: Array<{ _zod: { def: CheckDef } }> }
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def

const oddValue = fc.oneof(fc.constant(undefined), fc.constant(null), fc.constant(NaN), fc.constant(Infinity), fc.constant(-0), fc.double(), fc.integer(),
  fc.boolean(), fc.string({ maxLength: 6 }), fc.constantFrom('', '1', '__proto__', 'true'), fc.constant([]), fc.constant({}), fc.constant(Object.create(null)))

function numberArb (def: Def, odd: boolean): fc.Arbitrary<unknown> {
  const bounds = (def.checks ?? []).map((c) => c._zod.def.value).filter((x): x is number => typeof x === 'number')
  const near = bounds.flatMap((b) => [b - 1, b - 0.5, b, b + 0.5, b + 1])
  return fc.oneof(fc.integer({ min: -5, max: 5000 }), fc.double({ noNaN: true, noDefaultInfinity: !odd }), fc.constantFrom(-0, 2 ** 53, 2 ** 53 - 1, 1e21, ...near))
}

function stringArb (def: Def): fc.Arbitrary<unknown> {
  const cs = (def.checks ?? []).map((c) => c._zod.def)
  const re = cs.find((c) => c.pattern instanceof RegExp)?.pattern
  const lengths = cs.flatMap((c) => [c.minimum, c.maximum, c.length]).filter((x): x is number => typeof x === 'number')
  return fc.oneof(
    re !== undefined ? fc.stringMatching(re) : fc.string({ maxLength: 8 }),
    fc.string({ maxLength: 8 }),
    fc.constantFrom('', 'a', 'gpt-demo', 'acc_0123456789abcdef01234567', '-x', 'a b', ...lengths.flatMap((n) => n < 300 ? ['x'.repeat(Math.max(0, n - 1)), 'x'.repeat(n), 'x'.repeat(n + 1)] : [])),
  )
}

/** Values shaped like `schema` (valid ones often), with breakage when `odd`. */
function arb (schema: z.ZodType, odd: boolean, depth = 0): fc.Arbitrary<unknown> {
  const def = defOf(schema)
  const shaped = ((): fc.Arbitrary<unknown> => {
    switch (def.type) {
      case 'number': return numberArb(def, odd)
      case 'string': return stringArb(def)
      case 'boolean': return fc.boolean()
      case 'enum': return fc.constantFrom(...Object.values(def.entries ?? { x: 'x' }))
      case 'optional': return fc.oneof(fc.constant(undefined), arb(def.innerType!, odd, depth))
      case 'nullable': return fc.oneof(fc.constant(null), arb(def.innerType!, odd, depth))
      case 'array': return depth > 3 ? fc.constant([]) : fc.array(arb(def.element!, odd, depth + 1), { maxLength: 3 })
      case 'record': {
        if (depth > 3) return fc.constant({})
        const key = odd ? fc.oneof(fc.string({ maxLength: 5 }), fc.constantFrom('__proto__', 'constructor', 'toJSON', '0', '12', 'a"b')) : fc.string({ maxLength: 5 }).filter((k) => k !== '__proto__')
        return fc.dictionary(key, arb(def.valueType!, odd, depth + 1), { maxKeys: 4 })
      }
      case 'object': {
        if (depth > 3) return fc.constant({})
        const entries = Object.entries(def.shape ?? {})
        return fc.tuple(...entries.map(([, s]) => arb(s, odd, depth + 1)), fc.dictionary(fc.constantFrom('extra', '__proto__', 'x'), oddValue, { maxKeys: 1 }), fc.boolean(), fc.boolean())
          .map((parts) => {
            const out: Record<string, unknown> = odd && parts[entries.length + 1] === true ? { ...(parts[entries.length] as object) } : {}
            entries.forEach(([k], i) => {
              const absentOk = defOf(def.shape![k]!).type === 'optional' && parts[i] === undefined
              if (!absentOk || (odd && parts[entries.length + 2] === true)) out[k] = parts[i]
            })
            return out
          })
      }
      default: return oddValue
    }
  })()
  return odd ? fc.oneof({ weight: 6, arbitrary: shaped }, { weight: 1, arbitrary: oddValue }) : shaped
}

const SEED = testSeed('compiled-parser')
let schemaIndex = 0

function checkSchema (name: string, schema: z.ZodType, runs: number): number {
  const parse = compileParser(schema)
  if (parse === undefined) return -1
  let hits = 0
  fc.assert(fc.property(fc.oneof(arb(schema, false), arb(schema, true)), (value) => {
    const out = parse(value)
    if (out === UNSURE) return
    hits++
    const r = schema.safeParse(value)
    assert.ok(r.success, `${name}: the parser accepted what zod refuses: ${JSON.stringify(value)}`)
    assert.deepEqual(out, r.data, name)
    if (typeof out === 'object' && out !== null) assert.deepEqual(Object.keys(out), Object.keys(r.data as object), `${name}: key order`)
  }), { seed: SEED + schemaIndex++, numRuns: runs })
  return hits
}

test('every API input and response schema the parser supports gives exactly zod\'s output', () => {
  const table = new RouteTable()
  const deps = { store: {} as never, billing: DEFAULT_BILLING_CONFIG, log: createLogger({ level: 'silent' }), now: Date.now, mode: 'devnet' } as ApiDeps
  for (const register of apiRoutes(deps)) register(table)
  let supported = 0
  for (const route of table.routes()) {
    for (const [part, schema] of [['params', route.params], ['query', route.query], ['body', route.body], ['response', route.response]] as const) {
      if (schema === undefined) continue
      const hits = checkSchema(`${route.method} ${route.path} ${part}`, schema, 120)
      if (hits < 0) continue
      supported++
      assert.ok(hits > 0, `${route.method} ${route.path} ${part}: nothing generated was accepted (the test would be vacuous)`)
    }
  }
  const invoke = table.routes().find((r) => r.path === '/models/:id/invoke')!
  assert.ok(compileParser(invoke.params!) !== undefined && compileParser(invoke.body!) !== undefined && compileParser(invoke.response!) !== undefined, 'the metered call is parsed and shaped without zod')
  assert.ok(supported >= 20, `only ${supported} schemas supported`)
})

test('each supported kind, and what makes a schema unsupported', () => {
  const supported: Record<string, z.ZodType> = {
    tokens: z.strictObject({ input_tokens: z.number().int().min(0).max(1000), output_tokens: z.number().int().min(0).max(1000) }),
    bounds: z.object({ a: z.number().gt(0).lt(10), b: z.number().optional() }),
    strings: z.strictObject({ id: z.string().regex(/^[a-z][a-z0-9-]{0,7}$/), name: z.string().min(1).max(4), code: z.string().length(2).optional() }),
    flags: z.object({ on: z.boolean(), tier: z.enum(['free', 'pro']) }),
    nested: z.strictObject({ inner: z.object({ n: z.number().int() }), s: z.string() }),
    nullable: z.object({ x: z.string().nullable(), n: z.number().nullable().optional() }),
    record: z.record(z.string(), z.number()),
    array: z.array(z.object({ id: z.string(), n: z.number().nullable() })),
    answer: z.object({ s: z.object({ t: z.enum(['x', 'y']) }), r: z.record(z.string(), z.array(z.boolean())), usage: z.record(z.string(), z.number().describe('d')) }),
  }
  for (const [name, schema] of Object.entries(supported)) assert.ok(checkSchema(name, schema, 400) > 0, name)
  const unsupported: Record<string, z.ZodType> = {
    coerce: z.object({ n: z.coerce.number() }),
    email: z.object({ e: z.string().email() }),
    multipleOf: z.object({ n: z.number().multipleOf(2) }),
    refine: z.object({ s: z.string().refine((x) => x !== 'a') }),
    transform: z.object({ s: z.string().transform((x) => x.length) }),
    default: z.object({ s: z.string().default('x') }),
    catchall: z.object({ s: z.string() }).catchall(z.number()),
    loose: z.looseObject({ s: z.string() }),
    arrayChecked: z.object({ xs: z.array(z.string()).min(1) }),
    union: z.object({ u: z.union([z.string(), z.number()]) }),
    json: z.json(),
    unknown: z.record(z.string(), z.unknown()),
    keyChecked: z.record(z.string().min(2), z.number()),
    numberEnum: z.enum({ a: 1, b: 2 } as never),
    float32: z.object({ n: z.number().check(z.float32()) }),
  }
  for (const [name, schema] of Object.entries(unsupported)) assert.equal(compileParser(schema), undefined, name)
})

test('values left to zod: anything not plainly valid', () => {
  const parse = compileParser(z.strictObject({ n: z.number().int().min(0), s: z.string().optional() }))!
  assert.deepEqual(parse({ n: 3 }), { n: 3 })
  assert.deepEqual(parse({ s: 'x', n: 0 }), { n: 0, s: 'x' }, 'shape order')
  for (const bad of [{ n: -1 }, { n: 1.5 }, { n: 2 ** 53 }, { n: NaN }, { n: '1' }, { n: 1, x: 1 }, JSON.parse('{"n":1,"__proto__":{}}'), { n: 1, s: undefined },
    Object.assign(Object.create(null), { n: 1 }), [], null, 'n']) assert.equal(parse(bad), UNSURE, JSON.stringify(bad))
  const loose = compileParser(z.object({ n: z.number() }))!
  assert.deepEqual(loose({ n: 1, extra: true }), { n: 1 }, 'strip mode drops unknown keys, as zod does')
  // An optional field of a kind not compiled: answered while absent, left to zod when present.
  const json = z.record(z.string(), z.json()).superRefine((v, ctx) => { if (Object.keys(v).length > 2) ctx.addIssue({ code: 'custom', message: 'big' }) })
  const agent = z.strictObject({ operation: z.string().regex(/^[a-z]+$/), input: json.optional() })
  const op = compileParser(agent)!
  assert.deepEqual(op({ operation: 'run' }), agent.parse({ operation: 'run' }))
  assert.equal(op({ operation: 'run', input: {} }), UNSURE)
  assert.equal(op({ operation: 'run', input: undefined }), UNSURE)
  assert.equal(compileParser(z.object({ a: z.string().default('d').optional() })), undefined, 'a defaulted inner fills absence')
  assert.equal(compileParser(z.object({ a: z.json() })), undefined, 'required fields must be compiled')
  const rec = compileParser(z.record(z.string(), z.number()))!
  assert.deepEqual(rec({ b: 1, 2: 2, a: 3 }), { 2: 2, b: 1, a: 3 })
  for (const bad of [JSON.parse('{"__proto__": 1}'), { [Symbol('s')]: 1 }, [], Object.assign(Object.create(null), { x: 1 }), { x: NaN }]) assert.equal(rec(bad), UNSURE)
  // Non-enumerable keys are skipped by zod and by the parser alike.
  const hidden = Object.defineProperty({ v: 2 }, 'h', { value: 1 })
  assert.deepEqual(rec(hidden), z.record(z.string(), z.number()).parse(hidden))
})
