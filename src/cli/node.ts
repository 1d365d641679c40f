/** `formstate node`: a cluster member (LevelDB store, libp2p replication). */
import { configHelp } from '../config.ts'
import { notYetAvailable, type Command } from './command.ts'

// Placeholder until the composition root (src/node.ts startNode) lands; keep the usage.
export const nodeCommand: Command = {
  ...notYetAvailable('node', 'run a cluster node (requires --data-dir and a JWT issuer)'),
  usage: () => `Usage: formstate node --data-dir <dir> (--oidc-issuer <url> | --jwks-url <url> --jwt-issuer <iss>) [options]\n\n${configHelp('node')}`,
}
