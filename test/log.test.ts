import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createLogger, memorySink } from '../src/log.ts'

const fixed = (): Date => new Date('2026-01-02T03:04:05.678Z')

test('json lines carry time, level, msg, bindings and fields; levels filter', () => {
  const m = memorySink()
  const log = createLogger({ level: 'info', sink: m.sink, format: 'json', now: fixed }).child({ component: 'api' })
  log.debug('hidden')
  log.info('hello', { n: 1 })
  log.error('bad', { err: Object.assign(new Error('boom'), { code: 'E_X' }) })
  assert.equal(m.lines.length, 2)
  const first = JSON.parse(m.lines[0]!)
  assert.deepEqual(first, { time: '2026-01-02T03:04:05.678Z', level: 'info', msg: 'hello', component: 'api', n: 1 })
  const second = JSON.parse(m.lines[1]!)
  assert.equal(second.err.message, 'boom')
  assert.equal(second.err.code, 'E_X')
  assert.equal(log.enabled('debug'), false)
})

test('fields cannot override time/level/msg', () => {
  const m = memorySink()
  createLogger({ sink: m.sink, format: 'json', now: fixed }).warn('real', { level: 'debug', msg: 'fake' })
  assert.equal(m.records[0]!.level, 'warn')
  assert.equal(m.records[0]!.msg, 'real')
})

test('text format is one short line', () => {
  const m = memorySink()
  createLogger({ sink: m.sink, format: 'text', now: fixed }).info('started', { port: 8080 })
  assert.equal(m.lines[0], '03:04:05.678 INFO  started port=8080')
})

test('credentials never reach the sink: secret fields, key secrets and bearer tokens in text', () => {
  const m = memorySink()
  const log = createLogger({ level: 'debug', sink: m.sink, format: 'json' })
  const secret = 'fs_live_AbCdEf0123456789SECRET'
  log.info(`key ${secret} used`, {
    headers: { authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.payload.sig', 'x-api-key': secret },
    nested: [{ client_secret: 'topsecret-value' }],
    note: `retry with Bearer ${secret}`,
    err: new Error(`bad key ${secret}`),
  })
  const line = m.lines.join('\n')
  assert.ok(!line.includes('SECRET'), line)
  assert.ok(!line.includes('eyJhbGci'), line)
  assert.ok(!line.includes('topsecret-value'), line)
  assert.match(line, /fs_live_\[redacted\]/)
})

test('silent logs nothing and unserialisable fields do not throw', () => {
  const m = memorySink()
  createLogger({ level: 'silent', sink: m.sink }).error('x')
  assert.equal(m.lines.length, 0)
  const a: Record<string, unknown> = {}
  a.self = a
  createLogger({ sink: m.sink, format: 'json' }).info('cyclic', { a })
  assert.equal(m.lines.length, 1)
})
