/**
 * The cluster's pre-shared key, in the @libp2p/pnet swarm key format:
 *
 * ```
 * /key/swarm/psk/1.0.0/
 * /base16/
 * <64 hex digits>
 * ```
 *
 * `formstate cluster-key > key` prints a new one; every node of a cluster is started
 * with the same file. See membership.ts for what the key does and does not protect.
 */
import { readFile } from 'node:fs/promises'
import { generateKey } from '@libp2p/pnet'
import { FormStateError } from '../errors.ts'

/** Length of a swarm key file produced by `generateKey` (header lines + 64 hex digits). */
export const CLUSTER_KEY_LENGTH = 95

const HEADER = '/key/swarm/psk/1.0.0/'
const CODEC = '/base16/'

/** A new random cluster key (32 random bytes from a CSPRNG), swarm key format. */
export function makeClusterKey (): Uint8Array {
  const out = new Uint8Array(CLUSTER_KEY_LENGTH)
  generateKey(out)
  return out
}

/**
 * Check and normalise a swarm key (tolerates CRLF and a trailing newline, as editors add
 * them). Throws `decode_invalid` for anything pnet would refuse, so a bad key file fails
 * at start-up with a clear code rather than as a connection error later.
 */
export function parseClusterKey (bytes: Uint8Array): Uint8Array {
  const lines = new TextDecoder().decode(bytes).split(/\r\n|\r|\n/).filter((l) => l.length > 0)
  if (lines.length !== 3 || lines[0] !== HEADER || lines[1] !== CODEC || !/^[0-9a-fA-F]{64}$/.test(lines[2]!)) {
    throw new FormStateError('decode_invalid', `cluster key is not a ${HEADER} ${CODEC} swarm key with 64 hex digits`)
  }
  return new TextEncoder().encode(`${HEADER}\n${CODEC}\n${lines[2]!.toLowerCase()}`)
}

/** Read and check a cluster key file. */
export async function loadClusterKey (path: string): Promise<Uint8Array> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (err) {
    throw new FormStateError('not_ready', `cannot read cluster key ${path}`, { cause: err })
  }
  return parseClusterKey(bytes)
}
