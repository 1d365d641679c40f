/** `formstate cluster-key`: generate a cluster key file. */
import { notYetAvailable, type Command } from './command.ts'

export const clusterKeyCommand: Command = notYetAvailable('cluster-key', 'generate a cluster key file (private network + membership)', 'Usage: formstate cluster-key <file>')
