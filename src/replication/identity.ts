/**
 * The node's libp2p identity: an ed25519 private key kept in its data directory.
 *
 * The peer id derived from this key is the node's replica id (the `origin` of its ops),
 * so it must be stable across restarts: the key is created on first start and reloaded
 * afterwards. The file holds the libp2p protobuf encoding of the key and is written with
 * mode 0600 (it is the node's signing key for op envelopes). Memory mode (no data dir)
 * gets a fresh key each time.
 */
import { mkdir, readFile, rename, writeFile, chmod } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { FormStateError } from '../errors.ts'

/** File name of the key inside the data directory. */
export const IDENTITY_FILE = 'node-key'

export interface NodeIdentity {
  readonly privateKey: Ed25519PrivateKey
  /** Peer id string (base58btc), also the replica id. */
  readonly peerId: string
  /** Whether the key was created now (first start or memory mode). */
  readonly created: boolean
}

function toIdentity (privateKey: Ed25519PrivateKey, created: boolean): NodeIdentity {
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey).toString(), created }
}

/**
 * Load the node key from `dataDir`, creating it on first start. Without a data dir, a
 * fresh key (memory mode). A file that exists but is not an ed25519 key is an error,
 * never silently replaced: replacing it would give the node a new replica id.
 */
export async function loadOrCreateIdentity (dataDir?: string): Promise<NodeIdentity> {
  if (dataDir === undefined) return toIdentity(await generateKeyPair('Ed25519'), true)
  const file = join(dataDir, IDENTITY_FILE)
  let bytes: Uint8Array | undefined
  try {
    bytes = await readFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new FormStateError('storage_failure', `cannot read node key ${file}`, { cause: err })
    }
  }
  if (bytes !== undefined) {
    let key
    try {
      key = privateKeyFromProtobuf(bytes)
    } catch (err) {
      throw new FormStateError('decode_invalid', `node key ${file} is not a libp2p private key`, { cause: err })
    }
    if (key.type !== 'Ed25519') throw new FormStateError('decode_invalid', `node key ${file} is ${key.type}, expected Ed25519`)
    return toIdentity(key, false)
  }
  const key = await generateKeyPair('Ed25519')
  await mkdir(dataDir, { recursive: true })
  // Write then rename, so a crash never leaves a half-written key behind.
  const tmp = `${file}.tmp-${process.pid}`
  await writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600 })
  await chmod(tmp, 0o600) // mode is masked by umask on create; make it exact
  await rename(tmp, file)
  return toIdentity(key, true)
}
