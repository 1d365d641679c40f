// The JSON body fast path (json-body.ts) against the general path it bypasses
// (requireJson + @koa/bodyparser): two real servers on 127.0.0.1, one with each, get the
// same raw requests; status, problem code, parsed body and raw text must agree. Requests the
// fast path does not take (other media types, chunked) are checked to agree too.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { request as httpRequest, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import Koa, { type Middleware } from 'koa'
import { errorMiddleware } from '../../src/api/errors.ts'
import { jsonRequest, parseJsonText } from '../../src/api/json-body.ts'
import { jsonBody, requestId, requireJson } from '../../src/api/middleware.ts'
import { createLogger } from '../../src/log.ts'
import fc from 'fast-check'
import { testSeed } from '../support/seed.ts'

const LIMIT = 64
const log = createLogger({ level: 'silent' })

function app (bodyMw: Middleware[]): Koa {
  const a = new Koa()
  a.silent = true // a client that goes away mid-body is reported as an app error; not noise here
  a.use(requestId())
  a.use(errorMiddleware({ log }))
  for (const m of bodyMw) a.use(m)
  a.use(async (ctx) => {
    const req = ctx.request as { body?: unknown, rawBody?: string }
    ctx.body = { body: req.body ?? null, raw: req.rawBody ?? null, proto: Object.getPrototypeOf(req.body ?? {}) === Object.prototype }
  })
  return a
}

let fast: Server, general: Server
const port = (s: Server): number => (s.address() as AddressInfo).port
before(async () => {
  fast = app([jsonRequest(LIMIT)]).listen(0, '127.0.0.1')
  general = app([requireJson(), jsonBody(LIMIT)]).listen(0, '127.0.0.1')
  await Promise.all([new Promise((r) => fast.once('listening', r)), new Promise((r) => general.once('listening', r))])
})
after(() => { fast.close(); general.close(); fast.closeAllConnections(); general.closeAllConnections() })

interface Sent { method?: string, headers: Record<string, string>, body?: Buffer, chunked?: boolean }
async function send (srv: Server, s: Sent): Promise<{ status: number, json: any }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...s.headers }
    if (!s.chunked && s.body !== undefined) headers['content-length'] = String(s.body.length)
    const req = httpRequest({ host: '127.0.0.1', port: port(srv), method: s.method ?? 'POST', path: '/x', headers }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c))
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8')
        let json: any
        try { json = JSON.parse(text) } catch { json = text }
        if (json !== null && typeof json === 'object') delete json.request_id
        resolve({ status: res.statusCode!, json })
      })
    })
    req.on('error', reject)
    if (s.body !== undefined) req.write(s.body)
    req.end()
  })
}

const bodies: Array<string | Buffer> = [
  '{"a":1}', '[1,2]', '  \n{"a":[{"b":null}]}', '', '   ', '"str"', '42', 'null', 'true', '{bad', '{"a":1}x',
  '\uFEFF{"bom":true}', '{"__proto__":{"x":1}}', '{"a":{"__proto__":1}}', '{"\\u005f_proto__":{"x":1}}', '{"__proto__x":1}',
  '{"constructor":{"prototype":{"x":1}}}', '{"é":"ü€😀"}', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
  'x'.repeat(LIMIT), `{"a":"${'y'.repeat(LIMIT)}"}`, `{"a":"${'y'.repeat(LIMIT - 8)}"}`,
]

test('fast path: same status, code, body and raw text as the general path', async () => {
  let checked = 0
  for (const b of bodies) {
    const body = typeof b === 'string' ? Buffer.from(b, 'utf8') : b
    for (const type of ['application/json', 'application/json; charset=utf-8']) {
      const sent: Sent = { headers: { 'content-type': type }, body }
      const [f, g] = [await send(fast, sent), await send(general, sent)]
      assert.deepEqual(f, g, `body ${JSON.stringify(b.toString())} as ${type}`)
      checked++
    }
  }
  // Bodies on every write method; GET bodies are not read by either.
  for (const method of ['PUT', 'PATCH', 'DELETE', 'GET']) {
    const sent: Sent = { method, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"m":1}') }
    assert.deepEqual(await send(fast, sent), await send(general, sent), method)
  }
  assert.ok(checked >= 40)
  // The cases that matter, spelled out (so agreeing on a wrong answer cannot pass).
  assert.deepEqual((await send(fast, { headers: { 'content-type': 'application/json' }, body: Buffer.from('{"a":1}') })).json, { body: { a: 1 }, raw: '{"a":1}', proto: true })
  assert.equal((await send(fast, { headers: { 'content-type': 'application/json' }, body: Buffer.from('{"__proto__":{"x":1}}') })).json.code, 'invalid_json')
  assert.equal((await send(fast, { headers: { 'content-type': 'application/json' }, body: Buffer.from('42') })).json.code, 'invalid_json')
  assert.equal((await send(fast, { headers: { 'content-type': 'application/json' }, body: Buffer.from('x'.repeat(LIMIT + 1)) })).json.code, 'payload_too_large')
  assert.deepEqual((await send(fast, { headers: { 'content-type': 'application/json' }, body: Buffer.alloc(0) })).json, { body: {}, raw: '', proto: true })
})

test('requests off the fast path (other types, chunked, compressed) still agree', async () => {
  const cases: Sent[] = [
    { headers: { 'content-type': 'Application/JSON' }, body: Buffer.from('{"a":1}') },
    { headers: { 'content-type': 'application/vnd.api+json' }, body: Buffer.from('{"a":1}') },
    { headers: { 'content-type': 'text/plain' }, body: Buffer.from('{"a":1}') },
    { headers: {}, body: Buffer.from('{"a":1}') },
    { headers: { 'content-type': 'application/json' }, body: Buffer.from('{"a":1}'), chunked: true },
    { headers: { 'content-type': 'application/json' }, body: Buffer.from('x'.repeat(LIMIT * 2)), chunked: true },
    { headers: { 'content-type': 'application/json', 'content-encoding': 'bogus' }, body: Buffer.from('{"a":1}') },
  ]
  for (const c of cases) assert.deepEqual(await send(fast, c), await send(general, c), JSON.stringify(c.headers))
})

test('a compressed body that does not decompress is a 400 on either path, never a 500', async () => {
  const { gzipSync, deflateSync } = await import('node:zlib')
  const corrupt = gzipSync(Buffer.from('{"a":1}'))
  corrupt[corrupt.length - 5] ^= 0xff // CRC/length trailer broken
  const cases: Sent[] = [
    { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: Buffer.from('{"a":1}') }, // not gzip at all
    { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: corrupt },
    { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(Buffer.from('{"a":1}')).subarray(0, 12) }, // truncated
    { headers: { 'content-type': 'application/json', 'content-encoding': 'deflate' }, body: Buffer.from('garbage') },
  ]
  for (const srv of [fast, general]) {
    for (const c of cases) {
      const r = await send(srv, c)
      assert.equal(r.status, 400, JSON.stringify([c.headers, r.json]))
      assert.equal(r.json.code, 'invalid_request')
    }
    // Well-formed compressed bodies still parse.
    const ok = await send(srv, { headers: { 'content-type': 'application/json', 'content-encoding': 'deflate' }, body: deflateSync(Buffer.from('{"z":2}')) })
    assert.deepEqual(ok.json.body, { z: 2 })
  }
})

test('parseJsonText equals the regexp-based reference (co-body strict test + bourne) on generated texts', () => {
  // The reference: what parseJsonText did with co-body's and bourne's regexps.
  const STRICT = /^[\x20\x09\x0a\x0d]*(\[|\{)/
  const PROTO = /"(?:_|\\u005[Ff])(?:_|\\u005[Ff])(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[Ff])(?:t|\\u0074)(?:o|\\u006[Ff])(?:_|\\u005[Ff])(?:_|\\u005[Ff])"\s*:/
  const hasProto = (v: unknown): boolean => v !== null && typeof v === 'object' &&
    (Object.prototype.hasOwnProperty.call(v, '__proto__') || Object.values(v).some(hasProto))
  const reference = (text: string): unknown => {
    if (text === '') return {}
    if (!STRICT.test(text)) return 'invalid_json'
    let value: unknown
    try { value = JSON.parse(text) } catch { return 'invalid_json' }
    if (value !== null && typeof value === 'object' && PROTO.test(text) && hasProto(value)) return 'invalid_json'
    return value
  }
  const outcome = (text: string): unknown => { try { return parseJsonText(text) } catch (err) { return (err as { code?: string }).code } }
  const key = fc.constantFrom('a', '__proto__', '\\u005f_proto__', '_\\u005Fproto__', '__pr\\u006fto__', '__proto_', 'proto', '\\"', '')
  const ws = fc.array(fc.constantFrom(' ', '\t', '\n', '\r', '\f', '\v', '\u00a0', 'x'), { maxLength: 3 }).map((cs) => cs.join(''))
  const value: fc.Arbitrary<string> = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, fc.constantFrom('1', '"s"', 'null', 'true', '"__proto__"'), tie('o'), tie('a')),
    o: fc.array(fc.tuple(key, ws, tie('v')), { maxLength: 3 }).map((kv) => '{' + kv.map(([k, w, v]) => `"${k}"${w}:${v}`).join(',') + '}'),
    a: fc.array(tie('v'), { maxLength: 3 }).map((xs) => '[' + xs.join(',') + ']'),
  })).v as fc.Arbitrary<string>
  fc.assert(fc.property(ws, value, fc.boolean(), (pre, body, cut) => {
    const text = pre + (cut ? body.slice(0, -1) : body)
    assert.deepEqual(outcome(text), reference(text), JSON.stringify(text))
  }), { seed: testSeed('json-body parse'), numRuns: 2000 })
})

test('parseJsonText: strict JSON of an object or array, no __proto__ keys', () => {
  assert.deepEqual(parseJsonText(''), {})
  assert.deepEqual(parseJsonText(' [1]'), [1])
  for (const bad of ['1', '"s"', '{', '{"a":{"b":[{"__proto__":0}]}}']) assert.throws(() => parseJsonText(bad), { code: 'invalid_json' })
  assert.deepEqual(parseJsonText('{"a":"__proto__"}'), { a: '__proto__' })
})

/** Raw HTTP over a socket: the headers, then the body in pieces with pauses between them. */
async function rawRequest (srv: Server, body: string, pieces: number, abort = false): Promise<string> {
  const { connect } = await import('node:net')
  return new Promise((resolve, reject) => {
    const sock = connect(port(srv), '127.0.0.1')
    let out = ''
    sock.setEncoding('utf8')
    sock.on('data', (d: string) => { out += d })
    sock.on('close', () => resolve(out))
    sock.on('error', reject)
    const bytes = Buffer.from(body)
    sock.write(`POST /x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`)
    const size = Math.ceil(bytes.length / pieces)
    let i = 0
    const step = (): void => {
      if (abort && i >= size) { sock.destroy(); return }
      if (i >= bytes.length) return
      sock.write(bytes.subarray(i, i + size))
      i += size
      setTimeout(step, 20)
    }
    setTimeout(step, 20)
  })
}

test('a body arriving after the headers, in pieces, reads the same; a client gone mid-body harms nothing', async () => {
  for (const body of ['{"slow":"body","n":[1,2,3]}', '{"a":1}x', `{"é":"${'z'.repeat(20)}"}`]) {
    const [f, g] = [await rawRequest(fast, body, 3), await rawRequest(general, body, 3)]
    const payload = (s: string): unknown => { const j = JSON.parse(s.slice(s.indexOf('\r\n\r\n') + 4)); delete j.request_id; return j }
    assert.match(f, /^HTTP\/1\.1 (200|400)/)
    assert.deepEqual([f.slice(0, 12), payload(f)], [g.slice(0, 12), payload(g)], body)
  }
  assert.equal(await rawRequest(fast, '{"never":"finished"}', 4, true), '')
  const after = await send(fast, { headers: { 'content-type': 'application/json' }, body: Buffer.from('{"still":"serving"}') })
  assert.deepEqual(after.json.body, { still: 'serving' })
})
