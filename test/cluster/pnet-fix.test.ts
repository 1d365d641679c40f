// xsalsa20 (the cipher of every pnet connection) leaked WebAssembly memory once a large
// chunk had grown it, until the process crashed; the fix in src/replication/pnet-fix.ts
// keeps the memory bounded. Runs in a child process so the unpatched module is fresh.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { ROOT } from './harness.ts'

const SCENARIO = (patch: boolean) => `
${patch ? "await import('./src/replication/pnet-fix.ts')" : ''}
const { createRequire } = await import('node:module')
const X = createRequire(createRequire(import.meta.url).resolve('@libp2p/pnet'))('xsalsa20')
const a = new X(new Uint8Array(24), new Uint8Array(32)), b = new X(new Uint8Array(24), new Uint8Array(32))
a.update(new Uint8Array(1 << 20)) // one 1 MB chunk (a sync frame) grows the shared memory
const chunk = new Uint8Array(16 * 1024)
let n = 0
try { for (; n < 5000; n++) { a.update(chunk); b.update(chunk) } console.log('ok', n) } catch (e) { console.log('crash', n, e.message) }
`

function run (patch: boolean): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCENARIO(patch)], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  return r.stdout.trim() + r.stderr.trim()
}

test('two pnet ciphers after a 1 MB chunk: unpatched xsalsa20 runs out of memory, patched it does not', () => {
  const before = run(false)
  assert.match(before, /^crash \d+ .*Maximum memory size exceeded/, `the upstream bug still reproduces (else the fix may go): ${before}`)
  assert.equal(run(true), 'ok 5000')
})
