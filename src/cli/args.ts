/**
 * The small flag parser the client commands share (`keys`, `inspect`, `token`):
 * positional arguments, `--name value` / `--name=value` for the value flags a command
 * declares, `--name` alone for the switches it declares (then `flags` holds 'true'), and
 * `--json`. Anything else is a UsageError (exit code 2).
 */

/** Bad command-line usage: the command prints it with its usage text and exits 2. */
export class UsageError extends Error {}

export interface ParsedArgs {
  positional: string[]
  flags: Map<string, string>
  json: boolean
}

export function parseArgs (args: readonly string[], valueFlags: ReadonlySet<string>, switches: ReadonlySet<string> = new Set()): ParsedArgs {
  const positional: string[] = []
  const flags = new Map<string, string>()
  let json = false
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (!a.startsWith('--')) { positional.push(a); continue }
    const eq = a.indexOf('=')
    const name = a.slice(2, eq > 0 ? eq : undefined)
    if (name === 'json' && eq < 0) { json = true; continue }
    if (switches.has(name) && eq < 0) { flags.set(name, 'true'); continue }
    if (!valueFlags.has(name)) throw new UsageError(`unknown option --${name}`)
    const v = eq > 0 ? a.slice(eq + 1) : args[++i]
    if (v === undefined) throw new UsageError(`--${name} needs a value`)
    flags.set(name, v)
  }
  return { positional, flags, json }
}
