/** `formstate token`: mint a development JWT from a running devnet's issuer. */
import { EXIT, type CliIo, type Command } from './command.ts'

const USAGE = `Usage: formstate token [--url URL] [--role admin|developer|user] [--sub SUB] [--project-id ID] [--scope "a b"] [--ttl SECONDS]

Asks the devnet at --url (default http://127.0.0.1:8080) for a token and prints it.
Defaults: --role user, --sub <role>@demo, --project-id proj_demo.`

function flags (args: readonly string[]): Map<string, string> {
  const out = new Map<string, string>()
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'`)
    const eq = a.indexOf('=')
    if (eq > 0) out.set(a.slice(2, eq), a.slice(eq + 1))
    else {
      const v = args[i + 1]
      if (v === undefined) throw new Error(`${a} needs a value`)
      out.set(a.slice(2), v)
      i++
    }
  }
  for (const k of out.keys()) if (!['url', 'role', 'sub', 'project-id', 'scope', 'ttl'].includes(k)) throw new Error(`unknown option --${k}`)
  return out
}

export const tokenCommand: Command = {
  name: 'token',
  summary: 'mint a devnet JWT (sub, project, role, scopes)',
  usage: () => USAGE,
  run: async (args: readonly string[], io: CliIo) => {
    let f: Map<string, string>
    try { f = flags(args) } catch (err) {
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
