/**
 * `formstate` entry point: dispatches to a subcommand. Run directly with
 * `node --import tsx src/cli/main.ts <command>` or through bin/formstate.js.
 */
import '../polyfill.ts'
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ConfigError } from '../config.ts'
import { clusterKeyCommand } from './cluster-key.ts'
import { EXIT, processIo, type CliIo, type Command } from './command.ts'
import { devnetCommand } from './devnet.ts'
import { helpCommand, overview } from './help.ts'
import { inspectCommand } from './inspect.ts'
import { keysCommand } from './keys.ts'
import { nodeCommand } from './node.ts'
import { tokenCommand } from './token.ts'

/** Every subcommand, in the order `help` lists them. */
export const COMMANDS: readonly Command[] = [
  devnetCommand,
  nodeCommand,
  tokenCommand,
  keysCommand,
  inspectCommand,
  clusterKeyCommand,
  helpCommand(() => COMMANDS),
]

const VERSION = '0.1.0'

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main (argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h') {
    io.out(overview(COMMANDS))
    return name === undefined ? EXIT.usage : EXIT.ok
  }
  if (name === '--version' || name === '-v') {
    io.out(VERSION)
    return EXIT.ok
  }
  const cmd = COMMANDS.find((c) => c.name === name)
  if (cmd === undefined) {
    io.err(`formstate: unknown command '${name}' (run \`formstate help\`)`)
    return EXIT.usage
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(cmd.usage())
    return EXIT.ok
  }
  try {
    return await cmd.run(rest, io)
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`formstate ${name}: ${err.message}`)
      return EXIT.usage
    }
    io.err(`formstate ${name}: ${err instanceof Error ? err.message : String(err)}`)
    return EXIT.failure
  }
}

function isEntryPoint (): boolean {
  const script = process.argv[1]
  if (script === undefined) return false
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

if (isEntryPoint()) {
  process.exitCode = await main(process.argv.slice(2))
}
