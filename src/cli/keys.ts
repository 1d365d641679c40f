/**
 * `formstate keys`: create, list, show, revoke and rotate API keys on a running node or
 * devnet, over its HTTP API, as the account owner (`--token`, a JWT) or with a key holding
 * `keys:manage` (`--api-key`). Prints tables, or the API's JSON with `--json`.
 */
import { EXIT, type CliIo, type Command } from './command.ts'
import { parseArgs, type ParsedArgs } from './args.ts'

const USAGE = `Usage: formstate keys <command> [options]

Commands:
  create --name NAME --scopes a,b [--expires-at ISO|MS]   create a key (its secret is printed once)
  list                                                     your keys
  show ID                                                  one key
  revoke ID                                                revoke a key (at once)
  rotate ID [--grace SECONDS]                              new secret; the old works until the grace ends

Options:
  --url URL        node or devnet (default http://127.0.0.1:8080)
  --token JWT      authenticate as the account owner (see \`formstate token\`)
  --api-key KEY    authenticate with a key that has the keys:manage scope
  --json           print the API's JSON answer`

const VALUE_FLAGS = new Set(['url', 'token', 'api-key', 'name', 'scopes', 'expires-at', 'grace'])

const parse = (args: readonly string[]): ParsedArgs => parseArgs(args, VALUE_FLAGS)

/** Renders rows as an aligned text table. */
export function table (head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cols: readonly string[]): string => cols.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  ').trimEnd()
  return [line(head), ...rows.map(line)].join('\n')
}

function when (ms: unknown): string {
  return typeof ms === 'number' ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') : '-'
}

const HEAD = ['ID', 'NAME', 'STATUS', 'SCOPES', 'CREATED', 'EXPIRES', 'LAST USED']

function row (k: any): string[] {
  const status = k.rotated_to !== null && k.status === 'active' ? `active (rotated, grace until ${when(k.grace_end)})` : String(k.status)
  return [String(k.id), String(k.name), status, (k.scopes as string[]).join(','), when(k.created_at), when(k.expires_at), when(k.last_used_at)]
}

async function request (url: string, auth: Record<string, string>, method: string, path: string, body?: unknown): Promise<{ status: number, json: any }> {
  const headers: Record<string, string> = { ...auth }
  if (body !== undefined) headers['content-type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(url + path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) })
  } catch (err) {
    throw new Error(`cannot reach ${url} (${String((err as Error).cause ?? (err as Error).message)})`)
  }
  const json = await res.json().catch(() => ({}))
  return { status: res.status, json }
}

function expiresOf (v: string | undefined): number | string | undefined {
  if (v === undefined) return undefined
  return /^\d+$/.test(v) ? Number(v) : v
}

export const keysCommand: Command = {
  name: 'keys',
  summary: 'manage API keys (create, list, show, revoke, rotate)',
  usage: () => USAGE,
  run: async (args: readonly string[], io: CliIo) => {
    let p: ParsedArgs
    try { p = parse(args) } catch (err) {
      io.err(`formstate keys: ${(err as Error).message}\n${USAGE}`)
      return EXIT.usage
    }
    const [sub, id, ...extra] = p.positional
    const usage = (msg: string): number => { io.err(`formstate keys: ${msg}\n${USAGE}`); return EXIT.usage }
    if (extra.length > 0) return usage(`unexpected argument '${extra[0]}'`)
    const token = p.flags.get('token')
    const apiKey = p.flags.get('api-key')
    if ((token === undefined) === (apiKey === undefined)) return usage('give exactly one of --token or --api-key')
    const auth: Record<string, string> = token !== undefined ? { authorization: `Bearer ${token}` } : { 'x-api-key': apiKey! }
    const url = (p.flags.get('url') ?? 'http://127.0.0.1:8080').replace(/\/$/, '')
    const needsId = sub === 'show' || sub === 'revoke' || sub === 'rotate'
    if (needsId && (id === undefined || !/^[0-9a-f]{16}$/.test(id))) return usage(`${sub} needs a key id (16 hex digits)`)
    if (!needsId && id !== undefined) return usage(`unexpected argument '${id}'`)

    let r: { status: number, json: any }
    switch (sub) {
      case 'create': {
        const name = p.flags.get('name')
        const scopes = p.flags.get('scopes')
        if (name === undefined || scopes === undefined) return usage('create needs --name and --scopes')
        const expires = expiresOf(p.flags.get('expires-at'))
        r = await request(url, auth, 'POST', '/api-keys/create', { name, scopes: scopes.split(',').map((s) => s.trim()).filter((s) => s !== ''), ...(expires !== undefined ? { expires_at: expires } : {}) })
        break
      }
      case 'list': r = await request(url, auth, 'GET', '/api-keys'); break
      case 'show': r = await request(url, auth, 'GET', `/api-keys/${id}`); break
      case 'revoke': r = await request(url, auth, 'DELETE', `/api-keys/${id}`); break
      case 'rotate': {
        const grace = p.flags.get('grace')
        if (grace !== undefined && !/^\d+$/.test(grace)) return usage('--grace must be a whole number of seconds')
        r = await request(url, auth, 'POST', `/api-keys/${id}/rotate`, grace !== undefined ? { grace_seconds: Number(grace) } : {})
        break
      }
      default: return usage(sub === undefined ? 'missing command' : `unknown command '${sub}'`)
    }
    if (r.status >= 400) {
      io.err(`formstate keys ${sub}: ${r.status} ${r.json.code ?? ''} ${r.json.detail ?? ''}`.trimEnd())
      if (r.json.upgrade !== undefined) io.err(`upgrade to ${r.json.upgrade.tier}: ${JSON.stringify(r.json.upgrade.adds)}`)
      return EXIT.failure
    }
    if (p.json) { io.out(JSON.stringify(r.json, null, 2)); return EXIT.ok }
    if (sub === 'list') {
      io.out(table(HEAD, (r.json.keys as any[]).map(row)))
      io.out(`${r.json.active} active of ${r.json.limit ?? 'unlimited'}`)
    } else {
      io.out(table(HEAD, [row(r.json)]))
      if (r.json.old !== undefined) io.out(`old key ${r.json.old.id} works until ${when(r.json.old.grace_end)}`)
      if (typeof r.json.key === 'string') {
        io.out(`\nkey: ${r.json.key}`)
        io.err(String(r.json.warning))
      }
    }
    return EXIT.ok
  },
}
