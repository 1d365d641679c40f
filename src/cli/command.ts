/**
 * The shape of a `formstate` subcommand. Each lives in its own file under src/cli/ and is
 * listed in commands.ts; main.ts dispatches to it.
 */

/** Where a command writes; injectable so tests capture output. */
export interface CliIo {
  out: (text: string) => void
  err: (text: string) => void
}

/** Exit codes: 0 success, 1 failure at run time, 2 usage or configuration error. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const

export interface Command {
  readonly name: string
  /** One line for the command list. */
  readonly summary: string
  /** Usage text shown by `formstate help <name>` (options included). */
  usage: () => string
  /** Runs with the arguments after the command name; resolves to the exit code. */
  run: (args: readonly string[], io: CliIo) => Promise<number>
}

/** Writes to the process's stdout/stderr. */
export const processIo: CliIo = {
  out: (text) => { process.stdout.write(text.endsWith('\n') ? text : text + '\n') },
  err: (text) => { process.stderr.write(text.endsWith('\n') ? text : text + '\n') },
}

/** A placeholder for a command whose implementation has not landed yet. */
export function notYetAvailable (name: string, summary: string, usage = `formstate ${name} [options]`): Command {
  return {
    name,
    summary,
    usage: () => usage,
    run: async (_args, io) => {
      io.err(`formstate ${name}: not yet available in this build`)
      return EXIT.usage
    },
  }
}
