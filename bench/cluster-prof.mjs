// CPU profiles of bench:cluster's node processes, per measured phase. `--cpu-prof` is not
// allowed in NODE_OPTIONS, so this preload starts the V8 profiler through the inspector
// instead; it acts only in a `formstate node` process (it is inherited by every child) and
// toggles on SIGUSR2: the first signal starts a profile, the next writes it to
// <tmpdir>/formstate-prof/<data-dir name>-<pid>-<n>.cpuprofile. bench/cluster.ts sends the
// signals around each writer run (A, B) and the catch-up (C) when given `prof`:
//   NODE_OPTIONS="--import ./bench/cluster-prof.mjs" npm run bench:cluster -- 20000 10000 3 prof
// Summarise a profile with any .cpuprofile viewer (Chrome DevTools, speedscope).
import { Session } from 'node:inspector'
import { mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'

const argv = process.argv.join(' ')
if (/main\.ts node /.test(argv)) {
  const name = basename(/--data-dir (\S+)/.exec(argv)?.[1] ?? 'node')
  const dir = join(tmpdir(), 'formstate-prof')
  mkdirSync(dir, { recursive: true })
  const session = new Session()
  session.connect()
  session.post('Profiler.enable')
  session.post('Profiler.setSamplingInterval', { interval: 500 })
  let on = false
  let n = 0
  process.on('SIGUSR2', () => {
    if (!on) { session.post('Profiler.start'); on = true; return }
    on = false
    const file = join(dir, `${name}-${process.pid}-${n++}.cpuprofile`)
    session.post('Profiler.stop', (err, r) => { if (err === null) { writeFileSync(file, JSON.stringify(r.profile)); console.error(`cpu profile ${file}`) } })
  })
}
