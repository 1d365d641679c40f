/** `formstate help [command]`: the command list, or one command's usage. */
import { EXIT, type Command } from './command.ts'

/** Overview text listing `commands`. */
export function overview (commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2
  return [
    'Usage: formstate <command> [options]',
    '',
    'form-state: replicated CRDT datastore for the agent marketplace.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Run `formstate help <command>` or `formstate <command> --help` for its options.',
  ].join('\n')
}

/** The help command; `list` supplies every command (including this one). */
export function helpCommand (list: () => readonly Command[]): Command {
  return {
    name: 'help',
    summary: 'show this overview, or the options of a command',
    usage: () => 'Usage: formstate help [command]',
    run: async (args, io) => {
      const name = args[0]
      if (name === undefined) {
        io.out(overview(list()))
        return EXIT.ok
      }
      const cmd = list().find((c) => c.name === name)
      if (cmd === undefined) {
        io.err(`formstate: unknown command '${name}'\n\n${overview(list())}`)
        return EXIT.usage
      }
      io.out(cmd.usage())
      return EXIT.ok
    },
  }
}
