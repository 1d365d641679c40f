/**
 * Before/after in one run for the API-key request path (`npm run bench:keys-ab -- --base REV`):
 * the keys-server of git revision REV (exported to a temp dir) and of this working tree (or of
 * revision --head REV2, which leaves uncommitted edits out) run side by side with the same 1,000 keys and the same benchmarked key; each target is loaded
 * on one and then the other, alternating which goes first, for several rounds. It prints the
 * server CPU per request (user and system apart, see http-harness.ts) of every round and the
 * median per side, so the noise of the shared machine shows next to the difference.
 *
 * Options: --base REV (required), --head REV2, --rounds N (default 4), --duration S per measurement
 * (default 2), --targets invoke,jwt,me,validate (default all), --count N keys (default 1000).
 */
import '../src/polyfill.ts'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateApiKey } from '../src/auth/api-key-format.ts'
import { startChildServer, type ChildServer } from './child-server.ts'
import { cpuTimes, devnetUserToken, runLoad, type HttpTarget } from './http-harness.ts'

const arg = (name: string): string | undefined => { const i = process.argv.indexOf(name); return i === -1 ? undefined : process.argv[i + 1] }
const base = arg('--base')
if (base === undefined) throw new Error('usage: keys-ab.ts --base REV [--rounds N] [--duration S] [--targets invoke,jwt,me,validate] [--count N]')
const rounds = Math.max(1, Math.min(Number(arg('--rounds') ?? 4), 20))
const durationSec = Math.max(1, Math.min(Number(arg('--duration') ?? 2), 30))
const count = Math.max(1, Math.min(Number(arg('--count') ?? 1000), 1_000_000))
const wanted = (arg('--targets') ?? 'invoke,jwt,me,validate').split(',')
const SERVICE = 'bench-gateway'
const SECRET = 'bench-service-secret-0123456789'

const head = arg('--head')
const root = fileURLToPath(new URL('..', import.meta.url))
const exported: string[] = []
// A revision as files (no checkout: other people's edits in this tree stay untouched).
function exportRev (rev: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'fs-keys-ab-'))
  exported.push(dir)
  execFileSync('sh', ['-c', 'git -C "$1" archive "$2" | tar -x -C "$3"', 'sh', root, rev, dir])
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'))
  return dir
}

interface Side { name: string, server: ChildServer, targets: Map<string, HttpTarget> }

async function targetsOf (server: ChildServer, key: ReturnType<typeof generateApiKey>): Promise<Map<string, HttpTarget>> {
  const jwt = await devnetUserToken(server.url)
  const invoke = { method: 'POST', url: server.url + '/models/gpt-demo/invoke', body: JSON.stringify({ input_tokens: 100, output_tokens: 100 }) }
  const all: Array<[string, HttpTarget]> = [
    ['invoke', { ...invoke, headers: { 'x-api-key': key.display } }],
    ['jwt', { ...invoke, headers: { authorization: `Bearer ${jwt}` } }],
    ['me', { url: server.url + '/accounts/me', headers: { 'x-api-key': key.display } }],
    ['validate', {
      method: 'POST',
      url: server.url + '/internal/keys/validate',
      headers: { authorization: `Bearer ${SECRET}`, 'x-service-name': SERVICE },
      body: JSON.stringify({ api_key: key.display, scope: 'models:invoke', cost: 1 }),
    }],
  ]
  return new Map(all.filter(([n]) => wanted.includes(n)))
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2 }

const key = generateApiKey('test')
const args = [String(count), key.keyId, key.hash, SERVICE, SECRET]
const sides: Side[] = []
try {
  const trees: Array<[string, string]> = [[`base ${base}`, exportRev(base)], head === undefined ? ['working tree', root] : [`head ${head}`, exportRev(head)]]
  for (const [name, dir] of trees) {
    const server = await startChildServer(join(dir, 'bench', 'keys-server.ts'), args, 900_000)
    sides.push({ name, server, targets: await targetsOf(server, key) })
  }
  const names = [...sides[0]!.targets.keys()]
  const samples = new Map<string, Array<{ user: number, sys: number }>>()
  // Warm both up on every target before anything is measured.
  for (const s of sides) for (const n of names) await runLoad(s.targets.get(n)!, { durationSec: 1, warmupSec: 0 })
  console.log(`# ${count.toLocaleString('en-US')} keys, 50 connections, ${durationSec} s per measurement, ${rounds} rounds; server CPU per request, user + sys µs`)
  for (let r = 0; r < rounds; r++) {
    for (const n of names) {
      for (const s of r % 2 === 0 ? sides : [...sides].reverse()) {
        const pid = s.server.child.pid
        const before = cpuTimes(pid)
        if (before === undefined) throw new Error('no /proc: CPU per request cannot be measured here')
        const res = await runLoad(s.targets.get(n)!, { durationSec, warmupSec: 0 })
        const after = cpuTimes(pid)!
        const row = { user: (after.user - before.user) / Math.max(1, res.requests), sys: (after.sys - before.sys) / Math.max(1, res.requests) }
        const k = `${n}\t${s.name}`
        samples.set(k, [...(samples.get(k) ?? []), row])
        const bad = res.non2xx + res.errors + res.timeouts
        console.log(`round ${r + 1}  ${n.padEnd(9)} ${s.name.padEnd(18)} ${row.user.toFixed(1).padStart(6)} + ${row.sys.toFixed(1).padStart(5)} µs  ${Math.round(res.rps).toString().padStart(6)} req/s${bad > 0 ? `  ! ${bad} failed` : ''}`)
      }
    }
  }
  console.log(`\n## median server CPU per request (user, total) and ${sides[1]!.name} / base`)
  for (const n of names) {
    const [a, b] = sides.map((s) => samples.get(`${n}\t${s.name}`)!)
    const au = median(a!.map((x) => x.user)); const at = median(a!.map((x) => x.user + x.sys))
    const bu = median(b!.map((x) => x.user)); const bt = median(b!.map((x) => x.user + x.sys))
    console.log(`${n.padEnd(9)} base ${au.toFixed(1)} / ${at.toFixed(1)} µs   ${sides[1]!.name} ${bu.toFixed(1)} / ${bt.toFixed(1)} µs   ratio user ${(bu / au).toFixed(3)}, total ${(bt / at).toFixed(3)}`)
  }
} finally {
  for (const s of sides) await s.server.stop()
  for (const dir of exported) rmSync(dir, { recursive: true, force: true })
}
