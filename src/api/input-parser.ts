/**
 * Request validation without zod for the input schemas that allow it: a parser compiled from
 * a route's params/query/body schema returns exactly what `schema.safeParse(value).data`
 * would be for a value zod accepts, or {@link UNSURE} whenever it cannot vouch for the value
 * (then validate.ts parses with zod as before, which also words the 400). The metered
 * call's params and body cost ~1 µs through zod's general machinery (payload objects, check
 * loops, issue arrays); their compiled form is a few comparisons.
 *
 * Supported, exactly as zod 4 treats them: `z.number()` (finite) with the checks
 * `.int()` (safe integer), `.min/.max/.gt/.lt` (number bounds); `z.string()` with
 * `.min/.max/.length` and `.regex`; `z.boolean()`; string `z.enum`; `z.object` in strip
 * or strict mode (`z.strictObject`) whose fields are those or `.optional()` ones. Anything
 * else (coercion, transforms, defaults, refinements, other formats, unions, arrays, …)
 * makes the whole schema unsupported. Objects must be plain (prototype Object.prototype);
 * an optional key present with the value undefined is left to zod. test/api/input-parser.test.ts
 * checks the equivalence against zod for every input schema of the API.
 */
import type { z } from 'zod'

/** Returned when the compiled parser cannot vouch for a value: parse it with zod. */
export const UNSURE: unique symbol = Symbol('unsure')

/** The value zod would output, or {@link UNSURE}. */
export type InputParser = (value: unknown) => unknown

interface CheckDef { check?: string, format?: string, value?: unknown, inclusive?: boolean, minimum?: unknown, maximum?: unknown, length?: unknown, pattern?: unknown, when?: unknown }
interface Def {
  type: string
  checks?: ReadonlyArray<{ _zod: { def: CheckDef } }>
  coerce?: boolean
  innerType?: z.ZodType
  shape?: Record<string, z.ZodType>
  catchall?: z.ZodType
  entries?: Record<string, unknown>
}

function defOf (schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def
}

type Test = (v: never) => boolean

/** One zod number check as a test, or undefined when it is not one this file knows. */
function numberCheck (c: CheckDef): Test | undefined {
  if (c.when !== undefined) return undefined
  if (c.check === 'number_format' && c.format === 'safeint') return (v: number) => Number.isSafeInteger(v)
  if (typeof c.value !== 'number') return undefined
  const bound = c.value
  if (c.check === 'greater_than') return c.inclusive === true ? (v: number) => v >= bound : (v: number) => v > bound
  if (c.check === 'less_than') return c.inclusive === true ? (v: number) => v <= bound : (v: number) => v < bound
  return undefined
}

/** One zod string check as a test, or undefined when it is not one this file knows. */
function stringCheck (c: CheckDef): Test | undefined {
  // The length checks only run on values with a length (`when`): every string has one.
  if (c.check === 'min_length' && typeof c.minimum === 'number') { const n = c.minimum; return (v: string) => v.length >= n }
  if (c.check === 'max_length' && typeof c.maximum === 'number') { const n = c.maximum; return (v: string) => v.length <= n }
  if (c.check === 'length_equals' && typeof c.length === 'number') { const n = c.length; return (v: string) => v.length === n }
  if (c.when !== undefined) return undefined
  if (c.check === 'string_format' && c.format === 'regex' && c.pattern instanceof RegExp) {
    const re = c.pattern
    return (v: string) => { re.lastIndex = 0; return re.test(v) } // as zod runs it
  }
  return undefined
}

function tests (def: Def, known: (c: CheckDef) => Test | undefined): Test[] | undefined {
  const out: Test[] = []
  for (const c of def.checks ?? []) {
    const t = known(c._zod.def)
    if (t === undefined) return undefined
    out.push(t)
  }
  return out
}

function passes (ts: readonly Test[], v: unknown): boolean {
  for (const t of ts) if (!t(v as never)) return false
  return true
}

/** Compiles `schema`, or returns undefined when some part of it is not supported. */
export function compileInputParser (schema: z.ZodType): InputParser | undefined {
  const def = defOf(schema)
  if (def.coerce === true) return undefined
  switch (def.type) {
    case 'number': {
      const ts = tests(def, numberCheck)
      if (ts === undefined) return undefined
      return (v) => (typeof v === 'number' && Number.isFinite(v) && passes(ts, v) ? v : UNSURE)
    }
    case 'string': {
      const ts = tests(def, stringCheck)
      if (ts === undefined) return undefined
      return (v) => (typeof v === 'string' && passes(ts, v) ? v : UNSURE)
    }
    case 'boolean':
      if ((def.checks?.length ?? 0) > 0) return undefined
      return (v) => (typeof v === 'boolean' ? v : UNSURE)
    case 'enum': {
      const values = Object.values(def.entries ?? {})
      if ((def.checks?.length ?? 0) > 0 || !values.every((x) => typeof x === 'string')) return undefined
      const set = new Set(values)
      return (v) => (typeof v === 'string' && set.has(v) ? v : UNSURE)
    }
    case 'object':
      return objectParser(def)
    default:
      return undefined
  }
}

interface Field { key: string, optional: boolean, parse: InputParser }

function objectParser (def: Def): InputParser | undefined {
  if (def.shape === undefined || (def.checks?.length ?? 0) > 0) return undefined
  const strict = def.catchall !== undefined && defOf(def.catchall).type === 'never'
  if (def.catchall !== undefined && !strict) return undefined
  const fields: Field[] = []
  const known = new Set<string>()
  for (const [key, fieldSchema] of Object.entries(def.shape)) {
    if (key === '__proto__') return undefined
    const fd = defOf(fieldSchema)
    const optional = fd.type === 'optional'
    if (optional && (fd.checks?.length ?? 0) > 0) return undefined
    const parse = optional ? (fd.innerType === undefined ? undefined : compileInputParser(fd.innerType)) : compileInputParser(fieldSchema)
    if (parse === undefined) return undefined
    fields.push({ key, optional, parse })
    known.add(key)
  }
  return (v) => {
    if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) return UNSURE
    const input = v as Record<string, unknown>
    // zod's strict mode refuses any key its for-in finds outside the shape.
    if (strict) for (const key in input) if (!known.has(key)) return UNSURE
    const out: Record<string, unknown> = {}
    for (const f of fields) {
      const value = input[f.key]
      if (value === undefined && f.optional) {
        if (Object.prototype.hasOwnProperty.call(input, f.key)) return UNSURE // zod keeps the key: leave it to zod
        continue
      }
      const parsed = f.parse(value)
      if (parsed === UNSURE) return UNSURE
      out[f.key] = parsed
    }
    return out
  }
}
