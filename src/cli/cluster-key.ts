/**
 * `formstate cluster-key [file]`: make a new cluster key (libp2p pre-shared key, swarm key
 * format). Without a file it goes to stdout (`formstate cluster-key > key`); with one it
 * is written with mode 0600 and an existing file is never overwritten (replacing a key
 * would cut a node off its cluster).
 */
import { chmodSync, writeFileSync } from 'node:fs'
import { makeClusterKey } from '../replication/cluster-key.ts'
import { EXIT, type CliIo, type Command } from './command.ts'

const USAGE = `Usage: formstate cluster-key [<file>]

Prints a new random cluster key, or writes it to <file> (mode 0600, refused if the file
exists). Start every node of a cluster with --cluster-key <file>. The key admits a node
to the private network; treat it like a password (see README, "Cluster").`

export const clusterKeyCommand: Command = {
  name: 'cluster-key',
  summary: 'generate a cluster key (private network + membership)',
  usage: () => USAGE,
  run: async (args: readonly string[], io: CliIo) => {
    if (args.length > 1 || args.some((a) => a.startsWith('-'))) {
      io.err(USAGE)
      return EXIT.usage
    }
    const key = makeClusterKey()
    const file = args[0]
    if (file === undefined) {
      io.out(new TextDecoder().decode(key))
      return EXIT.ok
    }
    try {
      writeFileSync(file, key, { mode: 0o600, flag: 'wx' })
      chmodSync(file, 0o600) // the create mode is masked by umask
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      io.err(`formstate cluster-key: cannot write ${file} (${code === 'EEXIST' ? 'file exists' : code ?? String(err)})`)
      return EXIT.failure
    }
    io.err(`cluster key written to ${file}`)
    return EXIT.ok
  },
}
