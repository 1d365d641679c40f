import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { COMMANDS, main } from '../../src/cli/main.ts'
import type { CliIo } from '../../src/cli/command.ts'

function capture (): CliIo & { outText: () => string, errText: () => string } {
  const out: string[] = []
  const err: string[] = []
  return { out: (t) => out.push(t), err: (t) => err.push(t), outText: () => out.join('\n'), errText: () => err.join('\n') }
}

test('help lists every command; help <cmd> prints its usage', async () => {
  const io = capture()
  assert.equal(await main(['help'], io), 0)
  for (const name of ['devnet', 'node', 'token', 'keys', 'inspect', 'cluster-key', 'help']) {
    assert.ok(COMMANDS.some((c) => c.name === name), name)
    assert.match(io.outText(), new RegExp(`^  ${name} `, 'm'))
  }
  const io2 = capture()
  assert.equal(await main(['help', 'devnet'], io2), 0)
  assert.match(io2.outText(), /--data-dir <dir>/)
  assert.match(io2.outText(), /FORMSTATE_DATA_DIR/)
  const io3 = capture()
  assert.equal(await main(['node', '--help'], io3), 0)
  assert.match(io3.outText(), /--bootstrap/)
})

test('unknown commands and a bare invocation are usage errors (exit 2)', async () => {
  const io = capture()
  assert.equal(await main(['frobnicate'], io), 2)
  assert.match(io.errText(), /unknown command 'frobnicate'/)
  assert.equal(await main([], capture()), 2)
  assert.equal(await main(['help', 'nope'], capture()), 2)
})

test('bin/formstate.js works from another directory (tsx loader registered by the launcher)', () => {
  const res = spawnSync(process.execPath, [new URL('../../bin/formstate.js', import.meta.url).pathname, 'help'], { cwd: '/', encoding: 'utf8', timeout: 30_000 })
  assert.equal(res.status, 0, res.stderr)
  assert.match(res.stdout, /Usage: formstate <command>/)
})
