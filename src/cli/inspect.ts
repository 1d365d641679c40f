/**
 * `formstate inspect`: show and compare replica state over the admin API.
 * `status URL`, `diff URL URL`, `watch URL`, `retire URL PEER_ID` (see USAGE). Exit codes: 0 ok (diff: equal),
 * 1 failure (diff: the replicas differ, as diff(1) does), 2 usage.
 */
import { cliTokenFromEnv } from '../config.ts'
import { EXIT, type CliIo, type Command } from './command.ts'
import { AdminClient, InspectError } from './inspect-client.ts'
import { diffReplicas } from './inspect-diff.ts'
import { formatDiff, formatFrame, formatStatus } from './inspect-format.ts'
import { watch } from './inspect-watch.ts'
import { parseArgs, UsageError, type ParsedArgs } from './args.ts'

const USAGE = `Usage: formstate inspect <command> [options]

Commands:
  status URL         where the replica at URL stands: ids, members, vector, lag per peer,
                     op log, snapshot, digest, queue reader, rejected envelopes, gaps
  diff URL_A URL_B   equal digests? if not, which entities (accounts first) differ, and for
                     each which fields differ and how (per-replica counter entries, register
                     timestamps, set dots). Exit 0 when equal, 1 when they differ
  watch URL          refresh every second: ops/s per origin, lag per peer, rejections (Ctrl-C stops)
  retire URL PEER_ID retire a member that is gone for good (a dead or decommissioned node): the
                     node at URL stops waiting for it before compacting its log, refuses its
                     peer id from now on and tells the other members. Refused while the peer is
                     connected (stop it first) unless --force. Permanent for that peer id

Options:
  --token JWT        an admin token (default: FORMSTATE_TOKEN; a devnet is asked for one)
  --json             machine-readable output (watch: one JSON object per line)
  --max N            diff: entities examined field by field (default 20)
  --prefix P         diff: only entities whose key starts with P (e.g. acct/)
  --interval MS      watch: refresh period (default 1000)
  --count N          watch: stop after N frames
  --force            retire: even though the peer is connected now (its unsynced writes are cut off)`

const VALUE_FLAGS = new Set(['token', 'max', 'prefix', 'interval', 'count'])

const parse = (args: readonly string[]): ParsedArgs => parseArgs(args, VALUE_FLAGS, new Set(['force']))

function intFlag (f: Map<string, string>, name: string, min: number, max: number): number | undefined {
  const v = f.get(name)
  if (v === undefined) return undefined
  if (!/^[0-9]+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}`)
  return Number(v)
}

function urlArg (v: string | undefined, what: string): string {
  if (v === undefined) throw new UsageError(`missing ${what}`)
  let u: URL
  try { u = new URL(v) } catch { throw new UsageError(`${what} '${v}' is not a URL`) }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`${what} must be http(s)`)
  return v
}

/** Stops `watch` on Ctrl-C: the first SIGINT ends the loop cleanly, it does not kill the process. */
function interruptSignal (): { signal: AbortSignal, dispose: () => void } {
  const ac = new AbortController()
  const onInt = (): void => ac.abort()
  process.once('SIGINT', onInt)
  return { signal: ac.signal, dispose: () => { process.removeListener('SIGINT', onInt) } }
}

async function run (args: readonly string[], io: CliIo): Promise<number> {
  const p = parse(args)
  const [sub, ...rest] = p.positional
  const token = p.flags.get('token') ?? cliTokenFromEnv()
  const client = (url: string): AdminClient => new AdminClient(url, token)
  switch (sub) {
    case 'status': {
      if (rest.length !== 1) throw new UsageError('status takes one URL')
      const url = urlArg(rest[0], 'URL')
      const s = await client(url).status()
      io.out(p.json ? JSON.stringify(s, null, 2) : formatStatus(url, s))
      return EXIT.ok
    }
    case 'diff': {
      if (rest.length !== 2) throw new UsageError('diff takes two URLs')
      const [a, b] = [client(urlArg(rest[0], 'URL_A')), client(urlArg(rest[1], 'URL_B'))]
      const max = intFlag(p.flags, 'max', 0, 10_000)
      const prefix = p.flags.get('prefix')
      const report = await diffReplicas(a, b, { ...(max !== undefined ? { maxEntities: max } : {}), ...(prefix !== undefined ? { prefix } : {}) })
      io.out(p.json ? JSON.stringify(report, null, 2) : formatDiff(report))
      return report.equal ? EXIT.ok : EXIT.failure
    }
    case 'watch': {
      if (rest.length !== 1) throw new UsageError('watch takes one URL')
      const c = client(urlArg(rest[0], 'URL'))
      const count = intFlag(p.flags, 'count', 1, 1_000_000)
      const intervalMs = intFlag(p.flags, 'interval', 10, 3_600_000) ?? 1000
      const stop = interruptSignal()
      try {
        await watch(c, {
          intervalMs,
          ...(count !== undefined ? { count } : {}),
          signal: stop.signal,
          onFrame: (f) => io.out(p.json ? JSON.stringify(f) : formatFrame(f)),
        })
      } finally {
        stop.dispose()
      }
      return EXIT.ok
    }
    case 'retire': {
      if (rest.length !== 2) throw new UsageError('retire takes a URL and a peer id')
      const r = await client(urlArg(rest[0], 'URL')).retire(rest[1]!, p.flags.has('force'))
      io.out(p.json
        ? JSON.stringify(r, null, 2)
        : `${r.changed ? 'retired' : 'already retired'} ${r.peer_id}${r.was_connected ? ' (it was connected: cut off)' : ''}\nmembers now: ${r.members.join(', ')}`)
      return EXIT.ok
    }
    default:
      throw new UsageError(sub === undefined ? 'missing command' : `unknown command '${sub}'`)
  }
}

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'inspect or compare replica state (status, diff, watch), retire a dead member, over the admin API',
  usage: () => USAGE,
  run: async (args, io) => {
    try {
      return await run(args, io)
    } catch (err) {
      if (err instanceof UsageError) {
        io.err(`formstate inspect: ${err.message}\n\n${USAGE}`)
        return EXIT.usage
      }
      if (err instanceof InspectError) {
        io.err(`formstate inspect: ${err.message}`)
        return EXIT.failure
      }
      throw err
    }
  },
}
