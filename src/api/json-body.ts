/**
 * The request-body middleware: JSON-only writes (415) and the JSON body (413 /
 * 400 `invalid_json`), as `requireJson()` followed by `jsonBody()` (middleware.ts) — with
 * a fast path for the request every client sends: `Content-Type: application/json`, a
 * `Content-Length`, no `Content-Encoding`. That one is read here directly; @koa/bodyparser
 * (co-body, raw-body, inflation, iconv, and type-is three times per request) cost ~7% of an
 * invoke. Anything else (other JSON media types, parameters, chunked or compressed bodies,
 * a body already parsed) goes the general way, so the outcome is the same either way:
 *
 * - `Content-Length` above the limit: 413 before reading; the body is left unread.
 * - empty body: `{}`; otherwise the text must start (after JSON whitespace) with `{` or `[`
 *   and parse, and may hold no `__proto__` key (what co-body's strict mode and
 *   @hapi/bourne refuse), else 400 `invalid_json`. A UTF-8 byte-order mark is dropped, as
 *   the general path's decoder does.
 * - the text is kept on `ctx.request.rawBody` (Stripe signatures) and the value on
 *   `ctx.request.body`.
 */
import type {} from '@koa/bodyparser' // types ctx.request.body / rawBody
import type { Context, Middleware, Next } from 'koa'
import { FormStateError } from '../errors.ts'
import { jsonBody, requireJson, WRITE_METHODS } from './middleware.ts'

// co-body's strict-mode test (RFC 7159 whitespace, then an object or array) is
// /^[\x20\x09\x0a\x0d]*(\[|\{)/: opensObjectOrArray below.
// @hapi/bourne's test for a `__proto__` key, escaped or not; only then is the value scanned.
const SUSPECT_PROTO = /"(?:_|\\u005[Ff])(?:_|\\u005[Ff])(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[Ff])(?:t|\\u0074)(?:o|\\u006[Ff])(?:_|\\u005[Ff])(?:_|\\u005[Ff])"\s*:/
const DIGITS = /^\d{1,15}$/

function invalidJson (): FormStateError {
  return new FormStateError('invalid_json', 'request body is not valid JSON (an object or array is expected)')
}

/** Throws invalid_json when any object in `value` has an own `__proto__` key (bourne's scan). */
function refuseProtoKeys (value: object): void {
  let next: object[] = [value]
  while (next.length > 0) {
    const nodes = next
    next = []
    for (const node of nodes) {
      if (Object.prototype.hasOwnProperty.call(node, '__proto__')) throw invalidJson()
      for (const key in node) {
        const v = (node as Record<string, unknown>)[key]
        if (v !== null && typeof v === 'object') next.push(v)
      }
    }
  }
}

/** co-body's strict test without the regexp: the first non-whitespace character opens an object or array. */
function opensObjectOrArray (text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x7b || c === 0x5b) return true // { [
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false
  }
  return false
}

/**
 * SUSPECT_PROTO.test(text), skipping the regexp when it cannot match: without a backslash
 * nothing is escaped, so a match needs the literal `__proto__`.
 */
function suspectProto (text: string): boolean {
  if (text.indexOf('\\') === -1 && text.indexOf('__proto__') === -1) return false
  return SUSPECT_PROTO.test(text)
}

/** Parses a body text as the general path does (co-body strict + bourne protoAction 'error'). */
export function parseJsonText (text: string): unknown {
  if (text === '') return {}
  if (!opensObjectOrArray(text)) throw invalidJson()
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw invalidJson()
  }
  if (value !== null && typeof value === 'object' && suspectProto(text)) refuseProtoKeys(value)
  return value
}

/** A request the general path would also treat as a plain JSON body of known length. */
function plainJson (ctx: Context): number | undefined {
  const h = ctx.req.headers
  const type = h['content-type']
  if (type !== 'application/json' && type !== 'application/json; charset=utf-8') return undefined
  if (h['content-encoding'] !== undefined || h['transfer-encoding'] !== undefined) return undefined
  const len = h['content-length']
  if (len === undefined || !DIGITS.test(len)) return undefined
  if (ctx.request.body !== undefined || (ctx as { disableBodyParser?: boolean }).disableBodyParser === true || ctx.req.closed) return undefined
  return Number(len)
}

function aborted (): Error {
  // What raw-body reports; the error middleware maps a 400 to invalid_request.
  return Object.assign(new Error('request aborted'), { status: 400, expose: true, type: 'request.aborted' })
}

function utf8 (buf: Buffer): string {
  const text = buf.toString('utf8')
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
}

/**
 * The body when the whole request has already arrived (the usual case for a small body:
 * it comes in the same packet as the headers), read from the stream's buffer at once;
 * undefined otherwise. Reading consumes the stream as a listener would, so it still ends.
 */
function bufferedText (ctx: Context, length: number): string | undefined {
  const req = ctx.req
  // All `length` bytes buffered is the whole body: the parser never passes more than Content-Length.
  if (req.readableLength !== length || req.readableFlowing === true) return undefined
  const buf = req.read() as Buffer | null
  if (buf === null || buf.length !== length) throw aborted() // not what was announced: never expected here
  return utf8(buf)
}

/** Reads exactly `length` bytes of the request body as UTF-8 text. */
function readText (ctx: Context, length: number): Promise<string> {
  const req = ctx.req
  // Gone before the listeners below exist (during the microtask above): none of them would fire.
  if (req.destroyed) return Promise.reject(aborted())
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = []
    let received = 0
    const cleanup = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('close', onClose)
    }
    const onData = (chunk: Buffer): void => { received += chunk.length; chunks.push(chunk) }
    const onEnd = (): void => {
      cleanup()
      if (received !== length) {
        reject(Object.assign(new Error('request size did not match content length'), { status: 400, expose: true, type: 'request.size.invalid' }))
        return
      }
      resolve(utf8(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received)))
    }
    // A client that goes away mid-body surfaces as an error or an early close: raw-body's 400.
    const onError = (): void => { cleanup(); reject(aborted()) }
    const onClose = (): void => { cleanup(); reject(aborted()) }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}

/** `requireJson()` + `jsonBody(maxBytes)` in one middleware, with the fast path above. */
export function jsonRequest (maxBytes: number): Middleware {
  const check = requireJson()
  const parse = jsonBody(maxBytes)
  const general: Middleware = (ctx, next) => check(ctx, () => parse(ctx, next))
  const tooLarge = (): FormStateError => new FormStateError('payload_too_large', `request body exceeds ${maxBytes} bytes`, { extra: { limit: maxBytes } })
  return async (ctx: Context, next: Next): Promise<void> => {
    if (!WRITE_METHODS.has(ctx.request.method)) return next()
    const length = plainJson(ctx)
    if (length === undefined) return general(ctx, next)
    if (length > maxBytes) throw tooLarge()
    let text = ''
    if (length > 0) {
      // The request event fires as soon as the headers are parsed, before the parser goes on
      // to a body that came in the same packet: one microtask later it is buffered.
      await undefined
      text = bufferedText(ctx, length) ?? await readText(ctx, length)
    }
    ctx.request.body = parseJsonText(text)
    ctx.request.rawBody = text
    return next()
  }
}
