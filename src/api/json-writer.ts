/**
 * Response shaping without zod, for the response schemas that allow it: a writer compiled
 * from a route's response schema returns the JSON text of what
 * `JSON.stringify(schema.parse(value))` would give, or undefined whenever it cannot be sure
 * (then the router shapes through zod as before, which also reports a mismatch). A hit skips
 * zod's parse (~0.4 µs for the metered answer) and the generic `JSON.stringify` of its
 * output (~0.6 µs: every value is written by a function that already knows its type).
 *
 * Supported, exactly as zod 4 treats them: `z.string()` and `z.number()` without checks or
 * coercion (numbers finite, as zod requires), `z.boolean()`, string `z.enum`, `.nullable()`,
 * `z.object` in its default strip mode (unknown keys dropped; `.optional()` fields may be
 * absent or undefined), `z.record(z.string(), …)` and `z.array(…)` without checks.
 * Anything else (refinements, transforms, defaults, strict objects, unions, `z.json()`, …)
 * makes the whole schema unsupported. Each writer is stricter than zod where that is simpler
 * (plain objects only, no `__proto__`, symbol or non-enumerable keys in records): a value it
 * refuses merely takes zod's way. test/api/json-writer.test.ts checks the equivalence
 * against zod on generated values for every response schema of the API.
 */
import type { z } from 'zod'

/** JSON text of the value as zod would shape it, or undefined: take zod's way. */
export type JsonWriter = (value: unknown) => string | undefined

interface Def {
  type: string
  checks?: readonly unknown[]
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

const plain = (checks: readonly unknown[] | undefined, coerce: boolean | undefined): boolean => (checks === undefined || checks.length === 0) && coerce !== true

function isPlainObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype
}

// What JSON.stringify escapes in a string: '"', '\\', controls, and (lone) surrogates (any
// surrogate here: a paired one merely takes the slower, exact way).
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/

/** JSON.stringify(s) for a string, without its general machinery for the usual plain text. */
function quote (s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"'
}

/** Compiles `schema`, or returns undefined when some part of it is not supported. */
export function compileJsonWriter (schema: z.ZodType): JsonWriter | undefined {
  const def = defOf(schema)
  switch (def.type) {
    case 'string':
      if (!plain(def.checks, def.coerce)) return undefined
      return (v) => (typeof v === 'string' ? quote(v) : undefined)
    case 'number':
      if (!plain(def.checks, def.coerce)) return undefined
      // String(n) is JSON's number text for every finite number (-0 included: "0").
      return (v) => (typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined)
    case 'boolean':
      if (!plain(def.checks, def.coerce)) return undefined
      return (v) => (v === true ? 'true' : v === false ? 'false' : undefined)
    case 'enum': {
      const values = Object.values(def.entries ?? {})
      if (!plain(def.checks, undefined) || !values.every((x) => typeof x === 'string')) return undefined
      const texts = new Map(values.map((x) => [x, JSON.stringify(x)]))
      return (v) => (typeof v === 'string' ? texts.get(v) : undefined)
    }
    case 'nullable': {
      const inner = def.innerType === undefined ? undefined : compileJsonWriter(def.innerType)
      if (inner === undefined) return undefined
      return (v) => (v === null ? 'null' : inner(v))
    }
    case 'object':
      return objectWriter(def)
    case 'record':
      return recordWriter(def)
    case 'array': {
      const element = def.element === undefined || !plain(def.checks, undefined) ? undefined : compileJsonWriter(def.element)
      if (element === undefined) return undefined
      return (v) => {
        if (!Array.isArray(v)) return undefined
        let out = '['
        for (let i = 0; i < v.length; i++) {
          const text = element(v[i])
          if (text === undefined) return undefined
          out += i === 0 ? text : ',' + text
        }
        return out + ']'
      }
    }
    default:
      return undefined
  }
}

interface Field { key: string, prefix: string, optional: boolean, write: JsonWriter }

function objectWriter (def: Def): JsonWriter | undefined {
  // Strip mode only: a catchall (strict, loose, or a schema) changes what happens to other keys.
  if (def.catchall !== undefined || def.shape === undefined || !plain(def.checks, undefined)) return undefined
  const fields: Field[] = []
  for (const [key, fieldSchema] of Object.entries(def.shape)) {
    if (key === '__proto__') return undefined
    const fd = defOf(fieldSchema)
    const optional = fd.type === 'optional'
    const write = optional ? (fd.innerType === undefined ? undefined : compileJsonWriter(fd.innerType)) : compileJsonWriter(fieldSchema)
    if (write === undefined || (optional && !plain(fd.checks, undefined))) return undefined
    fields.push({ key, prefix: JSON.stringify(key) + ':', optional, write })
  }
  return (v) => {
    if (!isPlainObject(v)) return undefined
    let out = '{'
    let first = true
    for (const f of fields) {
      const value = v[f.key]
      // An optional field that is absent or undefined: zod leaves it out or undefined, JSON omits it.
      if (value === undefined && f.optional) continue
      const text = f.write(value)
      if (text === undefined) return undefined
      out += first ? f.prefix + text : ',' + f.prefix + text
      first = false
    }
    return out + '}'
  }
}

function recordWriter (def: Def): JsonWriter | undefined {
  if (def.keyType === undefined || def.valueType === undefined || def.mode !== undefined || !plain(def.checks, undefined)) return undefined
  const kd = defOf(def.keyType)
  if (kd.type !== 'string' || !plain(kd.checks, kd.coerce)) return undefined
  const value = compileJsonWriter(def.valueType)
  if (value === undefined) return undefined
  return (v) => {
    if (!isPlainObject(v)) return undefined
    let out = '{'
    let first = true
    // zod walks Reflect.ownKeys, skipping non-enumerable keys and __proto__, and refuses
    // symbol keys: Object.keys gives the same string keys in the same order; a symbol or a
    // __proto__ key takes zod's way.
    if (Object.getOwnPropertySymbols(v).length !== 0) return undefined
    for (const key of Object.keys(v)) {
      if (key === '__proto__') return undefined
      const text = value(v[key])
      if (text === undefined) return undefined
      out += (first ? '' : ',') + quote(key) + ':' + text
      first = false
    }
    return out + '}'
  }
}
