/**
 * The libp2p node of a replica: TCP (127.0.0.1 by default), the private-network
 * protector from the cluster key, noise, yamux, identify and gossipsub.
 *
 * Gossipsub runs with `StrictNoSign`: every envelope already carries one ed25519
 * signature over the whole batch (envelope.ts), so a second per-message signature
 * from gossipsub would only cost time. Message ids are the sha256 of the data, which
 * also makes a republished identical envelope a gossip-level duplicate.
 *
 * Peers: the configured peer addresses are dialled at start and re-dialled every
 * `redialMs` while not connected (a restarted peer comes back without anyone having to
 * notice). An address may name the peer (`/p2p/<id>`) or not; noise learns the id.
 */
import '../polyfill.ts'
import './pnet-fix.ts' // xsalsa20 memory leak that crashes busy nodes (see the file)
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify, type Identify } from '@libp2p/identify'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { preSharedKey } from '@libp2p/pnet'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { ConnectionGater, PeerId, PrivateKey } from '@libp2p/interface'
import { FormStateError } from '../errors.ts'

export type Services = { identify: Identify, pubsub: GossipSub }
export type FormStateLibp2p = Libp2p<Services>

export interface HostOptions {
  privateKey: PrivateKey
  /**
   * Where to listen: a TCP port on 127.0.0.1, one multiaddr, or several.
   * Default `/ip4/127.0.0.1/tcp/0` (an ephemeral port).
   */
  listen?: number | string | readonly string[]
  /**
   * Cluster key (swarm key format, see cluster-key.ts). Without it the node runs an open
   * network and cannot talk to protected nodes; production nodes always set it.
   */
  clusterKey?: Uint8Array
  /** Peers to dial at start and keep connected to (multiaddrs, `/p2p/<id>` optional). */
  peers?: readonly string[]
  /** Re-dial period for disconnected peers (ms). Default 2000; 0 disables. */
  redialMs?: number
  /** A dial (TCP + pnet + noise + yamux) must finish within this (ms). Default 5000. */
  dialTimeoutMs?: number
  /** Pnet nonce exchange must finish within this (ms). Default 2000. */
  handshakeTimeoutMs?: number
  /** Log hook for dial failures (a peer being down is normal, so nothing is thrown). */
  onDialError?: (addr: string, err: unknown) => void
  /**
   * Peer ids refused outright (retired members, membership.ts): no dial, and a connection
   * either way is dropped as soon as noise has told who is on the other end.
   */
  isDenied?: (peerId: string) => boolean
}

/** A started libp2p host plus the peer-keeping loop around it. */
export interface Host {
  readonly node: FormStateLibp2p
  readonly pubsub: GossipSub
  readonly peerId: string
  /** Addresses we listen on, with `/p2p/<id>`: what other nodes put in their `peers`. */
  addrs (): string[]
  /** Peer ids we hold an open connection to. */
  connectedPeers (): string[]
  /** Dial every configured peer that is not connected now; resolves when all attempts end. */
  dialPeers (): Promise<void>
  /** Dial one address (used by tests and by membership gossip). */
  dial (addr: string): Promise<string>
  stop (): Promise<void>
}

function listenAddrs (listen: HostOptions['listen']): string[] {
  if (listen === undefined) return ['/ip4/127.0.0.1/tcp/0']
  if (typeof listen === 'number') {
    if (!Number.isInteger(listen) || listen < 0 || listen > 65535) throw new FormStateError('invalid_field', `bad port ${listen}`, { field: 'listen' })
    return [`/ip4/127.0.0.1/tcp/${listen}`]
  }
  const list = typeof listen === 'string' ? [listen] : [...listen]
  for (const a of list) {
    try {
      multiaddr(a)
    } catch (err) {
      throw new FormStateError('invalid_field', `bad listen multiaddr ${a}`, { field: 'listen', cause: err })
    }
  }
  return list
}

function denyGater (isDenied: (peerId: string) => boolean): ConnectionGater {
  const deny = (peer: PeerId): boolean => isDenied(peer.toString())
  return {
    denyDialPeer: deny,
    denyInboundEncryptedConnection: deny,
    denyOutboundEncryptedConnection: deny,
  }
}

/** Create and start the libp2p node. */
export async function createHost (opts: HostOptions): Promise<Host> {
  const peerAddrs: Multiaddr[] = []
  for (const a of opts.peers ?? []) {
    try {
      peerAddrs.push(multiaddr(a))
    } catch (err) {
      throw new FormStateError('invalid_field', `bad peer multiaddr ${a}`, { field: 'peers', cause: err })
    }
  }
  const node = await createLibp2p<Services>({
    privateKey: opts.privateKey,
    addresses: { listen: listenAddrs(opts.listen) },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(opts.clusterKey !== undefined
      ? { connectionProtector: preSharedKey({ psk: opts.clusterKey, timeout: opts.handshakeTimeoutMs ?? 2000 }) }
      : {}),
    ...(opts.isDenied !== undefined ? { connectionGater: denyGater(opts.isDenied) } : {}),
    connectionManager: {
      // Cluster peers all sit on few hosts (often one, in tests); the default inbound rate
      // limit per host would refuse a restarted cluster reconnecting at once.
      inboundConnectionThreshold: 100,
    },
    services: {
      identify: identify(),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictNoSign',
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        emitSelf: false,
        // Small clusters: keep mesh degrees low so every peer is in the mesh quickly.
        D: 4,
        Dlo: 2,
        Dhi: 8,
        heartbeatInterval: 500,
      }),
    },
  })
  await node.start()

  // addr string → peer id learnt on the first successful dial (for addrs without /p2p/).
  const learnt = new Map<string, string>()
  const idOf = (ma: Multiaddr): string | undefined => ma.getComponents().find((c) => c.name === 'p2p')?.value ?? learnt.get(ma.toString())
  const connected = (): Set<string> => new Set(node.getConnections().map((c) => c.remotePeer.toString()))

  const dial = async (addr: string | Multiaddr): Promise<string> => {
    const ma = typeof addr === 'string' ? multiaddr(addr) : addr
    const conn = await node.dial(ma, { signal: AbortSignal.timeout(opts.dialTimeoutMs ?? 5000) })
    const id = conn.remotePeer.toString()
    learnt.set(ma.toString(), id)
    return id
  }

  let dialing: Promise<void> | undefined
  const dialPeers = async (): Promise<void> => {
    if (dialing !== undefined) return dialing
    const now = connected()
    const todo = peerAddrs.filter((ma) => {
      const id = idOf(ma)
      return id !== node.peerId.toString() && (id === undefined || !now.has(id))
    })
    dialing = Promise.all(todo.map(async (ma) => {
      try {
        await dial(ma)
      } catch (err) {
        opts.onDialError?.(ma.toString(), err)
      }
    })).then(() => { dialing = undefined })
    return dialing
  }

  const redialMs = opts.redialMs ?? 2000
  const timer = redialMs > 0 && peerAddrs.length > 0 ? setInterval(() => { void dialPeers() }, redialMs) : undefined
  timer?.unref()
  void dialPeers()

  return {
    node,
    pubsub: node.services.pubsub,
    peerId: node.peerId.toString(),
    addrs: () => node.getMultiaddrs().map((m) => m.toString()),
    connectedPeers: () => [...connected()],
    dialPeers,
    dial,
    async stop () {
      if (timer !== undefined) clearInterval(timer)
      await node.stop()
    },
  }
}
