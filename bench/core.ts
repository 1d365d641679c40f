/**
 * `npm run bench:core`: the replica core's benchmark (issue 2), one run, ratios against
 * baselines measured in the same run: CRDT apply rates vs Yjs and Automerge, encoded sizes,
 * merge-into-empty, durable writes with group commit vs one fsync per op, restart time with
 * a snapshot and 1M logged ops, heap per account at 100k accounts.
 *
 * Options: --accounts=N (heap, default 100000), --restart-ops=N (default 1000000).
 * Needs --expose-gc (the npm script passes it).
 */
import { runCrdtBench } from './crdt.ts'
import { runStoreBench } from './store.ts'

function arg (name: string): number | undefined {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`))
  return a === undefined ? undefined : Number(a.slice(name.length + 3))
}

const started = Date.now()
console.log('== crdt ==')
const c = await runCrdtBench({ seed: 1 })
console.log('\n== store (classic-level on disk) ==')
const s = await runStoreBench({ accounts: arg('accounts'), restartOps: arg('restart-ops') })

const rows: Array<[string, string, string, boolean]> = [
  ['PN-counter deltas/s', c.oursPerSec!.toFixed(0), '>= 2,000,000', c.oursPerSec! >= 2e6],
  ['ours / yjs', c.oursOverYjs!.toFixed(1) + 'x', '>= 20x', c.oursOverYjs! >= 20],
  ['ours / automerge', c.oursOverAutomerge!.toFixed(0) + 'x', '>= 500x', c.oursOverAutomerge! >= 500],
  ['encoded size ours / yjs v2', c.oursOverYjsBytes!.toFixed(3), '<= 0.1', c.oursOverYjsBytes! <= 0.1],
  ['group commit durable ops/s', s.groupOpsPerSec.toFixed(0), '>= 20,000', s.groupOpsPerSec >= 20_000],
  ['group / fsync-per-op', s.groupVsSync.toFixed(1) + 'x', '>= 10x', s.groupVsSync >= 10],
  [`restart, snapshot + ${s.restartOps} ops (ms)`, s.restartMs.toFixed(0), '<= 5000', s.restartMs <= 5000],
  [`heap bytes/account at ${s.accounts}`, s.heapBytesPerAccount.toFixed(0), '<= 1024', s.heapBytesPerAccount <= 1024],
]
console.log('\n== summary ==')
for (const [what, got, target, ok] of rows) console.log(`${ok ? 'ok  ' : 'MISS'}  ${what.padEnd(40)} ${got.padStart(12)}   target ${target}`)
console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s)`)
