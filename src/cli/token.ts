/** `formstate token`: mint a development JWT from a running devnet's issuer. */
import { parseArgs, UsageError } from './args.ts'
import { EXIT, type CliIo, type Command } from './command.ts'

const USAGE = `Usage: formstate token [--url URL] [--role admin|developer|user] [--sub SUB] [--project-id ID] [--scope "a b"] [--ttl SECONDS]

Asks the devnet at --url (default http://127.0.0.1:8080) for a token and prints it.
Defaults: --role user, --sub <role>@demo, --project-id proj_demo.`

const VALUE_FLAGS = new Set(['url', 'role', 'sub', 'project-id', 'scope', 'ttl'])

export const tokenCommand: Command = {
  name: 'token',
  summary: 'mint a devnet JWT (sub, project, role, scopes)',
  usage: () => USAGE,
  run: async (args: readonly string[], io: CliIo) => {
    let f: Map<string, string>
    try {
      const parsed = parseArgs(args, VALUE_FLAGS)
      if (parsed.positional.length > 0) throw new UsageError(`unexpected argument '${parsed.positional[0]}'`)
      f = parsed.flags
    } catch (err) {
      io.err(`formstate token: ${(err as Error).message}\n${USAGE}`)
      return EXIT.usage
    }
    const role = f.get('role') ?? 'user'
    const body: Record<string, unknown> = {
      sub: f.get('sub') ?? `${role}@demo`,
      project_id: f.get('project-id') ?? 'proj_demo',
      role,
    }
    if (f.has('scope')) body.scope = f.get('scope')
    if (f.has('ttl')) body.ttl_s = Number(f.get('ttl'))
    const url = (f.get('url') ?? 'http://127.0.0.1:8080').replace(/\/$/, '')
    let res: Response
    try {
      res = await fetch(`${url}/devnet/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    } catch (err) {
      io.err(`formstate token: cannot reach ${url} (${(err as Error).cause ?? (err as Error).message}); is a devnet running?`)
      return EXIT.failure
    }
    const json = await res.json().catch(() => ({})) as { token?: string, detail?: string }
    if (!res.ok || json.token === undefined) {
      io.err(`formstate token: ${res.status} ${json.detail ?? 'the devnet refused the request'}`)
      return EXIT.failure
    }
    io.out(json.token)
    return EXIT.ok
  },
}
