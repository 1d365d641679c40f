// Crash safety with a real process: a child commits under group commit and prints each
// acknowledgement; we SIGKILL it at several points, reopen the directory, and check that
// every acknowledged op survived and that the state equals a fresh replay of the log.
import '../../src/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { memReplica, rng, seedFromEnv, tempDir } from './helpers.ts'

const CHILD = fileURLToPath(new URL('../fixtures/store-crash-child.ts', import.meta.url))

/** Run the child until `killAt(acks)` says so (or the deadline), SIGKILL it; returns acked seqs. */
function runChild (dir: string, killAfterAcks: number, killAfterMs: number): Promise<{ acked: number[]; start: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir], { stdio: ['ignore', 'pipe', 'pipe'] })
    const acked: number[] = []
    let start = -1
    let err = ''
    let timer: NodeJS.Timeout | undefined
    const deadline = setTimeout(() => child.kill('SIGKILL'), 20_000) // bound the test in time
    child.stderr.on('data', (d) => { err += String(d) })
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [what, n] = line.split(' ')
      if (what === 'ready') {
        start = Number(n)
        timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
      } else if (what === 'ack') {
        acked.push(Number(n))
        if (acked.length >= killAfterAcks) child.kill('SIGKILL')
      }
    })
    child.on('exit', (code, signal) => {
      clearTimeout(deadline)
      if (timer !== undefined) clearTimeout(timer)
      if (signal !== 'SIGKILL') reject(new Error(`child exited ${code}/${signal}: ${err}`))
      else resolve({ acked, start })
    })
  })
}

test('SIGKILL at several points loses no acknowledged op; state equals a replay of the log', async () => {
  const seed = seedFromEnv('crash')
  const rand = rng(seed)
  const tmp = tempDir()
  try {
    // Kill after N acks, or after a few ms from ready (mid-burst, acks or not).
    const points: Array<[number, number]> = [[50, 10_000], [500, 10_000], [3000, 15_000], [Infinity, 5 + Math.floor(rand() * 60)]]
    let highest = 0
    for (const [acks, ms] of points) {
      const { acked, start } = await runChild(tmp.dir, acks, ms)
      assert.ok(start >= highest, `restart recovered seq ${start}, but ${highest} was acknowledged before`)
      for (let i = 1; i < acked.length; i++) assert.ok(acked[i]! > acked[i - 1]!, 'acks in seq order')
      console.log(`kill at ${acks} acks / ${ms} ms: ${acked.length} acked (from seq ${start})`)
      if (acked.length > 0) highest = acked[acked.length - 1]!

      const r = tmp.open('crash')
      await r.start()
      const top = r.versionVector().get('crash') ?? 0
      assert.ok(top >= highest, `after kill at ${acks} acks/${ms} ms: vector ${top} < acknowledged ${highest}`)
      assert.equal(r.gaps().size, 0)
      const log = await r.readLog('crash', 0, 1_000_000)
      assert.equal(log.length, top, 'the log holds every op 1..top')
      assert.equal(r.logLength(), top)
      log.forEach((o, i) => assert.equal(o.seq, i + 1))
      const fresh = memReplica('replay')
      await fresh.start()
      for (let i = 0; i < log.length; i += 5000) await fresh.applyRemote(log.slice(i, i + 5000))
      assert.equal(fresh.digest(), r.digest(), `state after kill at ${acks} acks/${ms} ms equals a replay of its log`)
      await fresh.stop()
      await r.stop()
      highest = Math.max(highest, top)
    }
  } finally { tmp.cleanup() }
})
