// The compiled response writers (src/api/json-writer.ts) against zod itself: whenever a
// writer answers, zod must accept the same value and JSON.stringify of zod's output must be
// the very same text. Checked on values generated from each schema (valid ones, and ones
// broken in the ways a handler could break them), for every response schema the API
// registers and for synthetic schemas covering each supported kind. Seeded: FORMSTATE_SEED.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { z } from 'zod'
import { compileJsonWriter } from '../../src/api/json-writer.ts'
import { RouteTable } from '../../src/api/openapi.ts'
import { apiRoutes } from '../../src/api/routes/index.ts'
import type { ApiDeps } from '../../src/api/deps.ts'
import { createLogger } from '../../src/log.ts'
import { DEFAULT_BILLING_CONFIG } from '../../src/state/tiers.ts'
import { testSeed } from '../support/seed.ts'

interface Def { type: string, shape?: Record<string, z.ZodType>, innerType?: z.ZodType, element?: z.ZodType, valueType?: z.ZodType, entries?: Record<string, string> }
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def

const anyString = fc.oneof(fc.string(), fc.constantFrom('', '__proto__', 'constructor', 'toJSON', '0', '12', '-1', 'a"b', '\u2028', '\ud800', 'é'))
const oddValue = fc.oneof(fc.constant(undefined), fc.constant(null), fc.constant(NaN), fc.constant(Infinity), fc.constant(-0), fc.double(), fc.integer(), fc.boolean(), anyString, fc.constant([]), fc.constant({}), fc.constant(new Date(0)), fc.constant(Object.create(null)))

/** Values shaped like `schema` (mostly valid), with random breakage. */
function arb (schema: z.ZodType, odd: boolean, depth = 0): fc.Arbitrary<unknown> {
  const def = defOf(schema)
  const valid = ((): fc.Arbitrary<unknown> => {
    switch (def.type) {
      case 'string': return anyString
      case 'number': return fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(-0), fc.constant(1e21), fc.constant(1000000000999))
      case 'boolean': return fc.boolean()
      case 'enum': return fc.constantFrom(...Object.values(def.entries ?? { x: 'x' }))
      case 'nullable': return fc.oneof(fc.constant(null), arb(def.innerType!, odd, depth))
      case 'optional': return fc.oneof(fc.constant(undefined), arb(def.innerType!, odd, depth))
      case 'array': return depth > 3 ? fc.constant([]) : fc.array(arb(def.element!, odd, depth + 1), { maxLength: 3 })
      case 'record': return depth > 3 ? fc.constant({}) : fc.dictionary(odd ? anyString : fc.string().filter((k) => k !== '__proto__'), arb(def.valueType!, odd, depth + 1), { maxKeys: 4 })
      case 'object': {
        if (depth > 3) return fc.constant({})
        const entries = Object.entries(def.shape ?? {})
        return fc.tuple(...entries.map(([, s]) => arb(s, odd, depth + 1)), fc.dictionary(anyString, oddValue, { maxKeys: 2 }), fc.boolean())
          .map((parts) => {
            const extra = parts[entries.length] as Record<string, unknown>
            const out: Record<string, unknown> = parts[entries.length + 1] === true ? { ...extra } : {}
            entries.forEach(([k], i) => { if (parts[i] !== undefined || def.shape![k]!._zod.def.type !== 'optional' || i % 2 === 0) out[k] = parts[i] })
            return out
          })
      }
      default: return oddValue
    }
  })()
  return odd ? fc.oneof({ weight: 8, arbitrary: valid }, { weight: 1, arbitrary: oddValue }) : valid
}

const SEED = testSeed('json-writer')
let schemaIndex = 0

function checkSchema (name: string, schema: z.ZodType, runs: number): { hits: number } {
  const write = compileJsonWriter(schema)
  if (write === undefined) return { hits: -1 }
  let hits = 0
  // Half the runs valid by construction (so the writer answers), half with breakage anywhere.
  fc.assert(fc.property(fc.oneof(arb(schema, false), arb(schema, true)), (value) => {
    const text = write(value)
    if (text === undefined) return
    hits++
    const parsed = schema.safeParse(value)
    assert.ok(parsed.success, `${name}: the writer accepted what zod refuses: ${String(text)}`)
    assert.equal(text, JSON.stringify(parsed.data), name)
  }), { seed: SEED + schemaIndex++, numRuns: runs })
  return { hits }
}

test('every API response schema the writer supports writes exactly JSON.stringify(zod output)', () => {
  const table = new RouteTable()
  const deps = { store: {} as never, billing: DEFAULT_BILLING_CONFIG, log: createLogger({ level: 'silent' }), now: Date.now, mode: 'devnet' } as ApiDeps
  for (const register of apiRoutes(deps)) register(table)
  let supported = 0
  for (const route of table.routes()) {
    if (route.response === undefined) continue
    const r = checkSchema(`${route.method} ${route.path}`, route.response, 150)
    if (r.hits < 0) continue
    supported++
    assert.ok(r.hits > 0, `${route.method} ${route.path}: no generated value was written (the test would be vacuous)`)
  }
  const invoke = table.routes().find((r) => r.path === '/models/:id/invoke')!
  assert.ok(compileJsonWriter(invoke.response!) !== undefined, 'the metered call is written without zod')
  assert.ok(supported >= 10, `only ${supported} response schemas supported`)
})

test('each supported kind, and what makes a schema unsupported', () => {
  const supported: Record<string, z.ZodType> = {
    string: z.string(),
    number: z.number().describe('n'),
    boolean: z.boolean(),
    enum: z.enum(['a', 'b', '__proto__']),
    nullable: z.object({ x: z.string().nullable() }),
    optional: z.object({ a: z.number().optional(), b: z.string() }),
    record: z.record(z.string(), z.number()),
    array: z.array(z.object({ id: z.string(), n: z.number().nullable() })),
    nested: z.object({ s: z.object({ t: z.enum(['x', 'y']) }), r: z.record(z.string(), z.array(z.boolean())) }),
  }
  for (const [name, schema] of Object.entries(supported)) {
    assert.ok(checkSchema(name, schema, 300).hits > 0, name)
  }
  const unsupported: Record<string, z.ZodType> = {
    checked: z.string().min(1),
    int: z.number().int(),
    coerce: z.coerce.number(),
    strict: z.strictObject({ a: z.string() }),
    loose: z.looseObject({ a: z.string() }),
    catchall: z.object({ a: z.string() }).catchall(z.number()),
    transform: z.string().transform((s) => s.length),
    default: z.object({ a: z.string().default('x') }),
    union: z.union([z.string(), z.number()]),
    json: z.json(),
    unknown: z.record(z.string(), z.unknown()),
    numberEnum: z.enum({ a: 1, b: 2 } as never),
    keyChecked: z.record(z.string().min(2), z.number()),
  }
  for (const [name, schema] of Object.entries(unsupported)) assert.equal(compileJsonWriter(schema), undefined, name)
})

test('values the writer leaves to zod: anything not plainly valid', () => {
  const write = compileJsonWriter(z.object({ a: z.number(), r: z.record(z.string(), z.number()) }))!
  assert.equal(write({ a: 1, r: { x: 2 } }), '{"a":1,"r":{"x":2}}')
  assert.equal(write({ r: {}, a: -0, extra: 'dropped' }), '{"a":0,"r":{}}')
  // Non-enumerable keys are skipped by zod and by the writer alike; strings are escaped as JSON does.
  const hidden = { a: 1, r: Object.defineProperty({ v: 2 }, 'h', { value: 1 }) }
  assert.equal(write(hidden), '{"a":1,"r":{"v":2}}')
  assert.equal(write(hidden), JSON.stringify(z.object({ a: z.number(), r: z.record(z.string(), z.number()) }).parse(hidden)))
  const strings = compileJsonWriter(z.record(z.string(), z.string()))!
  const odd = { 'q"k': 'a"b', 'b\\s': 'c\\d', c: '\u0001\u001f\u007f', s: '\ud83d\ude00 \ud800 \udc00', e: '\u2028é' }
  assert.equal(strings(odd), JSON.stringify(odd))
  for (const bad of [
    { a: NaN, r: {} }, { a: Infinity, r: {} }, { a: '1', r: {} }, { r: {} }, null, [], new Date(0),
    { a: 1, r: JSON.parse('{"__proto__": 1}') }, { a: 1, r: { [Symbol('s')]: 1 } },
    { a: 1, r: [] }, { a: 1, r: Object.assign(Object.create(null), { x: 1 }) },
  ]) assert.equal(write(bad), undefined, JSON.stringify(bad))
})
