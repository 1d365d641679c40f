/**
 * Request validation with zod 4. Schemas are strict objects, so an unknown field is an
 * error (400 `unknown_field`, naming it) rather than silently dropped; a wrong type or
 * range is 400 `invalid_field` with `field` = the dotted path of the first bad value.
 */
import type {} from '@koa/bodyparser' // types ctx.request.body
import type { Context } from 'koa'
import { z } from 'zod'
import { FormStateError } from '../errors.ts'
import { compileParser, UNSURE, type CompiledParser } from './compiled-parser.ts'

/** Where a value came from; reported as `extra.in` (the `field` path itself is unprefixed). */
export type InputSource = 'body' | 'query' | 'params'

function dotted (path: readonly PropertyKey[]): string {
  return path.map((p) => String(p)).join('.')
}

/**
 * Turns a zod error into the FormStateError the API answers with. Unknown fields are
 * reported first: a misspelt field usually also shows up as a missing required one, and
 * the misspelling is the useful hint. All issues are listed in `extra.errors`.
 */
export function zodToFormStateError (err: z.ZodError, source: InputSource = 'body'): FormStateError {
  const errors: Array<{ field: string, code: 'unknown_field' | 'invalid_field', message: string }> = []
  for (const issue of err.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        errors.push({ field: dotted([...issue.path, key]), code: 'unknown_field', message: 'unknown field' })
      }
    } else {
      errors.push({ field: dotted(issue.path), code: 'invalid_field', message: issue.message })
    }
  }
  const first = errors.find((e) => e.code === 'unknown_field') ?? errors[0]
  if (first === undefined) return new FormStateError('invalid_request', `invalid ${source}`)
  const where = first.field === '' ? source : `field '${first.field}'`
  const message = first.code === 'unknown_field' ? `unknown field '${first.field}'` : `${where}: ${first.message}`
  // An unknown key is named even when it is the empty string; a wrong root value names
  // its source (`body`, `query`), so every 4xx on bad input says where the problem is.
  return new FormStateError(first.code, message, {
    field: first.code === 'unknown_field' || first.field !== '' ? first.field : source,
    extra: { in: source, errors },
    cause: err,
  })
}

/** Per schema: its compiled parser (compiled-parser.ts), or null when it has none. */
const compiled = new WeakMap<z.ZodType, CompiledParser | null>()

/** `schema`'s compiled parser (built once per schema), or undefined when it has none. */
export function compiledParserOf (schema: z.ZodType): CompiledParser | undefined {
  let fast = compiled.get(schema)
  if (fast === undefined) compiled.set(schema, fast = compileParser(schema) ?? null)
  return fast ?? undefined
}

/**
 * Parses `value` with `schema`; throws the API's 400 on failure. A value the schema's
 * compiled parser vouches for is answered by it (zod's very output); anything else is
 * parsed by zod.
 */
export function parseWith<S extends z.ZodType> (schema: S, value: unknown, source: InputSource): z.output<S> {
  const fast = compiledParserOf(schema)
  if (fast !== undefined) {
    const out = fast(value)
    if (out !== UNSURE) return out as z.output<S>
  }
  const r = schema.safeParse(value)
  if (!r.success) throw zodToFormStateError(r.error, source)
  return r.data
}

/**
 * The parsed JSON body, validated. A request without a body validates `{}` (so a schema
 * with required fields names the first missing one).
 */
export function parseBody<S extends z.ZodType> (ctx: Context, schema: S): z.output<S> {
  const body = ctx.request.body
  return parseWith(schema, body === undefined ? {} : body, 'body')
}

/**
 * The query string, validated. Koa gives strings (arrays for repeated keys), so schemas
 * use `z.coerce` for numbers and booleans.
 */
export function parseQuery<S extends z.ZodType> (ctx: Context, schema: S): z.output<S> {
  return parseWith(schema, { ...ctx.query }, 'query')
}

/** Path parameters (`/accounts/:id`), validated. */
export function parseParams<S extends z.ZodType> (ctx: Context, schema: S): z.output<S> {
  const params = (ctx as Context & { params?: Record<string, string> }).params ?? {}
  return parseWith(schema, { ...params }, 'params')
}

/**
 * Object schemas in `json` (a JSON Schema from `z.toJSONSchema(…, { io: 'input' })`) that
 * would silently drop unknown fields: declared properties but no `additionalProperties`.
 * Returns their paths; routes are checked at registration so every input schema is strict.
 */
export function looseObjectPaths (json: unknown, path = '$'): string[] {
  if (json === null || typeof json !== 'object') return []
  const out: string[] = []
  const node = json as Record<string, unknown>
  if (node.type === 'object' && node.properties !== undefined && node.additionalProperties === undefined) out.push(path)
  for (const [k, v] of Object.entries(node)) {
    if (k === 'properties' && v !== null && typeof v === 'object') {
      for (const [name, sub] of Object.entries(v)) out.push(...looseObjectPaths(sub, `${path}.${name}`))
    } else if (typeof v === 'object') {
      out.push(...looseObjectPaths(v, k === 'items' ? `${path}[]` : path))
    }
  }
  return out
}
