import { test } from 'node:test'
import assert from 'node:assert/strict'
import { resolve } from 'node:path'
import { ConfigError, configHelp, parseConfig, redactConfig } from '../src/config.ts'
import { SETTINGS } from '../src/config-table.ts'

const NODE_ENV = { FORMSTATE_DATA_DIR: '/tmp/x', FORMSTATE_OIDC_ISSUER: 'https://issuer.example' }

function configError (fn: () => unknown): ConfigError {
  try { fn() } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`)
    assert.equal(err.code, 'invalid_config')
    assert.ok(!err.message.includes('\n'), 'message is one line')
    return err
  }
  assert.fail('expected a ConfigError')
}

test('devnet defaults: 127.0.0.1:8080, in memory, no durability needed', () => {
  const c = parseConfig([], {})
  assert.equal(c.mode, 'devnet')
  assert.equal(c.host, '127.0.0.1')
  assert.equal(c.port, 8080)
  assert.equal(c.dataDir, undefined)
  assert.equal(c.durability, 'none')
  assert.equal(c.maxBodyBytes, 1 << 20)
  assert.equal(c.jwt.audience, 'form-state')
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.jwt) && Object.isFrozen(c.p2p.bootstrap))
})

test('a data dir makes group commit the default and is resolved to an absolute path', () => {
  const c = parseConfig(['--data-dir', 'rel/dir'], {})
  assert.equal(c.dataDir, resolve('rel/dir'))
  assert.equal(c.durability, 'group')
})

test('flags and env are two spellings; the flag wins', () => {
  assert.equal(parseConfig([], { FORMSTATE_PORT: '9000' }).port, 9000)
  assert.equal(parseConfig(['--port', '9001'], { FORMSTATE_PORT: '9000' }).port, 9001)
  assert.equal(parseConfig(['--port=9002'], { FORMSTATE_PORT: '9000' }).port, 9002)
  assert.equal(parseConfig([], { FORMSTATE_PORT: '' }).port, 8080, 'empty env counts as unset')
  const c = parseConfig(['--bootstrap', '/ip4/127.0.0.1/tcp/1,/ip4/127.0.0.1/tcp/2'], { FORMSTATE_BOOTSTRAP: '/ip4/10.0.0.1/tcp/9' })
  assert.deepEqual(c.p2p.bootstrap, ['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/2'])
})

test('every setting has a flag and a FORMSTATE_ env spelling, all distinct', () => {
  const flags = new Set(SETTINGS.map((s) => s.flag))
  const envs = new Set(SETTINGS.map((s) => s.env))
  assert.equal(flags.size, SETTINGS.length)
  assert.equal(envs.size, SETTINGS.length)
  for (const s of SETTINGS) assert.match(s.env, /^FORMSTATE_[A-Z0-9_]+$/)
})

test('a bad value names both spellings and what is wrong', () => {
  const e = configError(() => parseConfig([], { FORMSTATE_PORT: 'abc' }))
  assert.equal(e.setting, '--port')
  assert.match(e.message, /--port \/ FORMSTATE_PORT/)
  assert.match(e.message, /abc/)
  assert.equal(configError(() => parseConfig(['--port', '70000'], {})).setting, '--port')
  assert.equal(configError(() => parseConfig(['--durability', 'fast'], {})).setting, '--durability')
  assert.equal(configError(() => parseConfig(['--max-body-bytes', '0'], {})).setting, '--max-body-bytes')
  assert.equal(configError(() => parseConfig(['--jwks-url', 'ftp://x'], {})).setting, '--jwks-url')
  assert.equal(configError(() => parseConfig(['--bootstrap', 'not-an-addr'], {})).setting, '--bootstrap')
  assert.equal(configError(() => parseConfig(['--bogus', '1'], {})).setting, '--bogus')
  assert.equal(configError(() => parseConfig(['--port'], {})).setting, '--port')
  assert.equal(configError(() => parseConfig(['stray'], {})).setting, 'stray')
})

test('byte sizes accept units', () => {
  assert.equal(parseConfig(['--max-body-bytes', '512kb'], {}).maxBodyBytes, 512 * 1024)
  assert.equal(parseConfig(['--max-body-bytes', '2048'], {}).maxBodyBytes, 2048)
})

test('node mode requires a data dir and a JWT key source', () => {
  assert.equal(configError(() => parseConfig(['node'], { FORMSTATE_OIDC_ISSUER: 'https://i.example' })).setting, '--data-dir')
  assert.equal(configError(() => parseConfig([], { FORMSTATE_DATA_DIR: '/tmp/x' }, { mode: 'node' })).setting, '--oidc-issuer')
  const c = parseConfig(['node'], NODE_ENV)
  assert.equal(c.mode, 'node')
  assert.equal(c.jwt.issuer, 'https://issuer.example', 'issuer defaults to the OIDC issuer')
  assert.equal(c.p2p.port, 4001)
  assert.deepEqual(c.p2p.listen, ['/ip4/127.0.0.1/tcp/4001'])
})

test('a JWKS URL needs an explicit issuer', () => {
  const e = configError(() => parseConfig(['--jwks-url', 'https://k.example/jwks.json'], {}))
  assert.equal(e.setting, '--jwt-issuer')
  const c = parseConfig(['--jwks-url', 'https://k.example/jwks.json', '--jwt-issuer', 'me'], {})
  assert.equal(c.jwt.issuer, 'me')
})

test('service secrets: inline pairs and a file (JSON or lines) are merged; values never echoed', () => {
  const files: Record<string, string> = { '/s.json': '{"billing":"0123456789abcdef0123"}', '/s.txt': 'gateway=abcdefghijklmnop==\n# comment\n' }
  const readFile = (p: string): string => { const t = files[p]; if (t === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' }); return t }
  const c = parseConfig(['--service-secrets-file', '/s.json'], { FORMSTATE_SERVICE_SECRETS: 'ops=zzzzzzzzzzzzzzzzzz' }, { readFile })
  assert.deepEqual({ ...c.serviceSecrets }, { ops: 'zzzzzzzzzzzzzzzzzz', billing: '0123456789abcdef0123' })
  assert.deepEqual({ ...parseConfig(['--service-secrets-file', '/s.txt'], {}, { readFile }).serviceSecrets }, { gateway: 'abcdefghijklmnop==' })
  assert.equal(configError(() => parseConfig(['--service-secrets-file', '/missing'], {}, { readFile })).setting, '--service-secrets-file')
  const e = configError(() => parseConfig([], { FORMSTATE_SERVICE_SECRETS: 'ops=short-secret' }))
  assert.equal(e.setting, '--service-secrets')
  assert.ok(!e.message.includes('short-secret'))
  const red = JSON.stringify(redactConfig(c))
  assert.ok(!red.includes('zzzzzzzz') && !red.includes('0123456789abcdef'))
})

test('help lists every setting with both spellings', () => {
  const help = configHelp('devnet')
  for (const s of SETTINGS) {
    assert.ok(help.includes(s.flag), s.flag)
    assert.ok(help.includes(s.env), s.env)
  }
  assert.match(help, /--port <port>.*\[default: 8080\]/)
})
