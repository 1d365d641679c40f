/**
 * zod's parse, compiled: for the schemas that allow it, a parser built from a route's
 * params/query/body or response schema returns exactly what `schema.safeParse(value).data`
 * would be for a value zod accepts (a fresh object in the schema's key order, unknown keys
 * dropped or refused as zod does), or {@link UNSURE} whenever it cannot vouch for the
 * value: then the caller parses with zod as before, which also words the 400 (or, for a
 * response, logs the mismatch and answers 500). zod's general machinery (payload objects,
 * check loops, issue arrays) cost ~1 µs on the metered call's params and body and ~0.4 µs
 * on its answer; the compiled form is a few comparisons and the output objects.
 *
 * Supported, exactly as zod 4 treats them: `z.number()` (finite) with the checks `.int()`
 * (safe integer), `.min/.max/.gt/.lt`; `z.string()` with `.min/.max/.length` and `.regex`;
 * `z.boolean()`; string `z.enum`; `.nullable()`; `z.object` in strip or strict mode
 * (`z.strictObject`) whose fields may be `.optional()`; `z.record(z.string(), …)`;
 * `z.array(…)`. Anything else (coercion, transforms, defaults, refinements, other formats,
 * unions, loose or catchall objects, …) makes the whole schema unsupported, except as an
 * `.optional()` object field, which is then compiled for its absence only. Stricter than
 * zod where that is simpler: objects, records must be plain (prototype Object.prototype); an
 * optional key present with the value undefined, a record key `__proto__` or a symbol key
 * is left to zod. test/api/compiled-parser.test.ts checks the equivalence against zod for
 * every input and response schema of the API.
 */
import type { z } from 'zod'

/** Returned when the compiled parser cannot vouch for a value: parse it with zod. */
export const UNSURE: unique symbol = Symbol('unsure')

/** The value zod would output, or {@link UNSURE}. */
export type CompiledParser = (value: unknown) => unknown

interface CheckDef { check?: string, format?: string, value?: unknown, inclusive?: boolean, minimum?: unknown, maximum?: unknown, length?: unknown, pattern?: unknown, when?: unknown }
interface Def {
  type: string
  checks?: ReadonlyArray<{ _zod: { def: CheckDef } }>
  coerce?: boolean
  innerType?: z.ZodType
  shape?: Record<string, z.ZodType>
  catchall?: z.ZodType
  entries?: Record<string, unknown>
  keyType?: z.ZodType
  valueType?: z.ZodType
  element?: z.ZodType
  mode?: string
}

function defOf (schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def
}

/** zod's `optin` of a schema: 'defaulted' when it substitutes a value for an absent one. */
function optinOf (schema: z.ZodType): unknown {
  return (schema as unknown as { _zod: { optin?: unknown } })._zod.optin
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
  for (let i = 0; i < ts.length; i++) if (!ts[i]!(v as never)) return false
  return true
}

/** Compiles `schema`, or returns undefined when some part of it is not supported. */
export function compileParser (schema: z.ZodType): CompiledParser | undefined {
  const def = defOf(schema)
  if (def.coerce === true) return undefined
  switch (def.type) {
    case 'number': {
      const ts = tests(def, numberCheck)
      if (ts === undefined) return undefined
      if (ts.length === 0) return (v) => (Number.isFinite(v) ? v : UNSURE) // only finite numbers are finite
      return (v) => (Number.isFinite(v) && passes(ts, v) ? v : UNSURE)
    }
    case 'string': {
      const ts = tests(def, stringCheck)
      if (ts === undefined) return undefined
      if (ts.length === 0) return (v) => (typeof v === 'string' ? v : UNSURE)
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
    case 'nullable': {
      const inner = def.innerType === undefined ? undefined : compileParser(def.innerType)
      if (inner === undefined) return undefined
      return (v) => (v === null ? null : inner(v))
    }
    case 'object':
      return objectParser(def)
    case 'record':
      return recordParser(def)
    case 'array': {
      const element = def.element === undefined || (def.checks?.length ?? 0) > 0 ? undefined : compileParser(def.element)
      if (element === undefined) return undefined
      return (v) => {
        if (!Array.isArray(v)) return UNSURE
        const out: unknown[] = new Array(v.length)
        for (let i = 0; i < v.length; i++) {
          const parsed = element(v[i])
          if (parsed === UNSURE) return UNSURE
          out[i] = parsed
        }
        return out
      }
    }
    default:
      return undefined
  }
}

function recordParser (def: Def): CompiledParser | undefined {
  if (def.keyType === undefined || def.valueType === undefined || def.mode !== undefined || (def.checks?.length ?? 0) > 0) return undefined
  const kd = defOf(def.keyType)
  if (kd.type !== 'string' || kd.coerce === true || (kd.checks?.length ?? 0) > 0) return undefined
  const value = compileParser(def.valueType)
  if (value === undefined) return undefined
  return (v) => {
    if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) return UNSURE
    // zod walks Reflect.ownKeys, skipping non-enumerable keys and __proto__, and refuses symbol
    // keys: Object.keys gives the same string keys in the same order; a symbol or a
    // __proto__ key is left to zod.
    if (Object.getOwnPropertySymbols(v).length !== 0) return UNSURE
    const input = v as Record<string, unknown>
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(input)) {
      if (key === '__proto__') return UNSURE
      const parsed = value(input[key])
      if (parsed === UNSURE) return UNSURE
      out[key] = parsed
    }
    return out
  }
}

interface Field { key: string, optional: boolean, parse: CompiledParser }

function objectParser (def: Def): CompiledParser | undefined {
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
    let parse = optional ? (fd.innerType === undefined ? undefined : compileParser(fd.innerType)) : compileParser(fieldSchema)
    if (parse === undefined) {
      // An optional field of a kind not compiled here is fine while it is absent: zod's
      // .optional() leaves absence alone (unless its inner type substitutes a default, the
      // 'defaulted' rung). Present, the value goes to zod.
      if (!optional || fd.innerType === undefined || optinOf(fd.innerType) === 'defaulted') return undefined
      parse = () => UNSURE
    }
    fields.push({ key, optional, parse })
    known.add(key)
  }
  return (v) => {
    if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) return UNSURE
    const input = v as Record<string, unknown>
    // zod's strict mode refuses any key its for-in finds outside the shape.
    if (strict) for (const key in input) if (!known.has(key)) return UNSURE
    const out: Record<string, unknown> = {}
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!
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
