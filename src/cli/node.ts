/**
 * `formstate node`: a cluster member (LevelDB store in --data-dir, libp2p replication,
 * JWTs from an external issuer). Prints its peer id, p2p addresses and HTTP URL, then
 * runs until SIGINT/SIGTERM and shuts down cleanly (API, then gossip flush, then store).
 */
import { configHelp, loadConfig } from '../config.ts'
import { startNode } from '../node.ts'
import { EXIT, type CliIo, type Command } from './command.ts'
import { untilSignal } from './devnet.ts'

/** The lines printed on start: what an operator needs to wire other nodes to this one. */
export function nodeBanner (n: { peerId: string, url: string, p2pAddrs: readonly string[] }): string {
  return [
    `form-state node ${n.peerId}`,
    `http ${n.url}`,
    ...n.p2pAddrs.map((a) => `p2p ${a}`),
  ].join('\n')
}

export const nodeCommand: Command = {
  name: 'node',
  summary: 'run a cluster node (requires --data-dir, --cluster-key and a JWT issuer)',
  usage: () => `Usage: formstate node --data-dir <dir> --cluster-key <file> (--oidc-issuer <url> | --jwks-url <url> --jwt-issuer <iss>) [options]\n\n${configHelp('node')}`,
  run: async (args: readonly string[], io: CliIo) => {
    const config = loadConfig(args, { mode: 'node' })
    const node = await startNode(config)
    io.out(nodeBanner({ peerId: node.peerId, url: node.url, p2pAddrs: node.p2pAddrs() }))
    const sig = await untilSignal()
    node.log.info('stopping', { signal: sig })
    await node.close()
    return EXIT.ok
  },
}
