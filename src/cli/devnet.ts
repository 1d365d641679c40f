/** `formstate devnet`: a single-node devnet (no network, writes applied directly). */
import { configHelp } from '../config.ts'
import { notYetAvailable, type Command } from './command.ts'

// Placeholder until the composition root (src/node.ts startDevnet) lands; keep the usage.
export const devnetCommand: Command = {
  ...notYetAvailable('devnet', 'run a single-node devnet (in memory unless --data-dir)'),
  usage: () => `Usage: formstate devnet [options]\n\n${configHelp('devnet')}`,
}
