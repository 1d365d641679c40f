// Attack-side checks of the HTTP hot path on a real devnet (grouped single-match router
// dispatch, the JSON body fast path, the merged request/error frame):
// - every route that declares credentials refuses a call without them, or with garbage
//   ones, whatever the spelling of its path (case, trailing slash): 401 problem+json, and
//   the state digest does not move;
// - keep-alive pipelining: requests sent back to back on one socket each get their own
//   body and answer, in order, also after a 413 whose body was sent anyway.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { SERVICE, SERVICE_SECRET, startTestDevnet, type TestDevnet } from './devnet-helpers.ts'
import { assertProblem } from './problem.ts'

let d: TestDevnet
before(async () => { d = await startTestDevnet() })
after(async () => { await d.close() })

interface Op { method: string, path: string, security: unknown[] }

async function operations (): Promise<Op[]> {
  const doc = await (await fetch(d.url + '/openapi.json')).json() as { paths: Record<string, Record<string, { security?: unknown[] }>> }
  const out: Op[] = []
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) out.push({ method: method.toUpperCase(), path, security: op.security ?? [] })
  }
  return out
}

test('every route that takes credentials refuses none or garbage ones, however its path is spelled', async () => {
  const ops = (await operations()).filter((o) => o.security.length > 0)
  assert.ok(ops.length >= 30, `the OpenAPI document lists the authenticated routes (${ops.length})`)
  const digest = d.node.store.digest()
  const callers: Array<{ name: string, headers: Record<string, string> }> = [
    { name: 'none', headers: {} },
    { name: 'garbage bearer', headers: { authorization: 'Bearer not.a.token' } },
    { name: 'unknown api key', headers: { 'x-api-key': 'fs_test_' + 'A'.repeat(16) + '_' + 'b'.repeat(43) } },
  ]
  let checked = 0
  for (const op of ops) {
    const concrete = op.path.replace(/\{[^}]+\}/g, 'acc_0123456789abcdef01234567')
    for (const path of [concrete, concrete.toUpperCase(), concrete + '/']) {
      // Every caller on the declared spelling; the other spellings (same dispatch) without credentials.
      for (const c of path === concrete ? callers : callers.slice(0, 1)) {
        const body = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(op.method) ? { body: {} } : {}
        const r = await d.call({ none: true }, op.method, path, { ...body, headers: c.headers })
        assert.equal(r.status, 401, `${op.method} ${path} with ${c.name}: ${r.text}`)
        assertProblem(r, 401, r.body?.code)
        assert.ok(['unauthenticated', 'invalid_token', 'invalid_api_key'].includes(r.body.code), `${op.method} ${path}: ${r.body.code}`)
        checked++
      }
    }
  }
  assert.equal(d.node.store.digest(), digest, 'refused calls change nothing')
  assert.equal(checked, ops.length * 5)
})

/** Sends `data` on one socket and splits the answers (each has a Content-Length). */
async function pipelined (data: Buffer[], expected: number): Promise<Array<{ status: number, body: any }>> {
  const u = new URL(d.url)
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), '127.0.0.1')
    let buf = Buffer.alloc(0)
    const out: Array<{ status: number, body: any }> = []
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`got ${out.length} of ${expected} answers`)) }, 10_000)
    sock.on('error', reject)
    sock.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c])
      for (;;) {
        const end = buf.indexOf('\r\n\r\n')
        if (end < 0) return
        const head = buf.subarray(0, end).toString('latin1')
        const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
        if (buf.length < end + 4 + len) return
        const text = buf.subarray(end + 4, end + 4 + len).toString('utf8')
        out.push({ status: Number(head.slice(9, 12)), body: text === '' ? undefined : JSON.parse(text) })
        buf = buf.subarray(end + 4 + len)
        if (out.length === expected) { clearTimeout(timer); sock.destroy(); resolve(out) }
      }
    })
    sock.on('connect', () => { for (const b of data) sock.write(b) })
  })
}

function post (path: string, body: Buffer | string, length?: number): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body
  const head = `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${SERVICE_SECRET}\r\nX-Service-Name: ${SERVICE}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${length ?? b.length}\r\n\r\n`
  return Buffer.concat([Buffer.from(head), b])
}

test('pipelined requests on one keep-alive socket each read their own body, in order', async () => {
  const key = (n: number): string => JSON.stringify({ api_key: `fs_test_${'C'.repeat(16)}_${String(n).padStart(43, 'x')}` })
  const answers = await pipelined([
    Buffer.concat([post('/internal/keys/validate', '{bad'), post('/internal/keys/validate', key(1)), post('/internal/keys/validate', '{"api_key":1}')]),
    post('/internal/keys/validate', key(2)),
  ], 4)
  assert.deepEqual(answers.map((a) => [a.status, a.body.code]), [[400, 'invalid_json'], [200, 'NOT_FOUND'], [400, 'invalid_field'], [200, 'NOT_FOUND']])
})

test('a 413 whose body was sent anyway leaves the connection usable for the next request', async () => {
  const big = Buffer.alloc(1024 * 1024 + 1, 0x20)
  const answers = await pipelined([post('/internal/keys/validate', big), post('/internal/keys/validate', '{"api_key":"nope"}')], 2)
  assert.deepEqual(answers.map((a) => [a.status, a.body.code]), [[413, 'payload_too_large'], [200, 'NOT_FOUND']])
})
