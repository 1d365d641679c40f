// What one envelope signature costs, per ~20 KB batch (256 ops × ~80 bytes), measured in
// one run so the ratios hold on a loaded machine:
//   baseline  tweetnacl sign+verify over the whole body (envelope v1);
//   current   tweetnacl over prefix ‖ SHA-512/256(body) (envelope v2, hash-then-sign);
//   reference node:crypto ed25519 over the same 55 bytes (same algorithm and signatures,
//             native code) — what switching the library would buy.
// Usage: npm run bench:envelope-sign [-- rounds]   (default 40)
import '../src/polyfill.ts'
import { performance } from 'node:perf_hooks'
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto'
import nacl from 'tweetnacl'
import { signingInput } from '../src/replication/envelope.ts'

const rounds = Number(process.argv[2] ?? 40)
const body = new Uint8Array(256 * 80).map((_, i) => (i * 31) & 0xff)
const kp = nacl.sign.keyPair()

function time (label: string, fn: () => void): number {
  fn() // warm up
  const t = performance.now()
  for (let i = 0; i < rounds; i++) fn()
  const ms = (performance.now() - t) / rounds
  console.log(`${label.padEnd(48)} ${ms.toFixed(3)} ms/batch`)
  return ms
}

const v1 = time('baseline: tweetnacl over the 20 KB body', () => {
  const sig = nacl.sign.detached(body, kp.secretKey)
  if (!nacl.sign.detached.verify(body, sig, kp.publicKey)) throw new Error('verify')
})
const v2 = time('current: tweetnacl over SHA-512/256 digest', () => {
  const sig = nacl.sign.detached(signingInput(body), kp.secretKey)
  if (!nacl.sign.detached.verify(signingInput(body), sig, kp.publicKey)) throw new Error('verify')
})
// PKCS#8 / SPKI wrappers of the same raw ed25519 key, for node:crypto.
const priv = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(kp.secretKey.subarray(0, 32))]), format: 'der', type: 'pkcs8' })
const pub = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(kp.publicKey)]), format: 'der', type: 'spki' })
const same = Buffer.from(sign(null, signingInput(body), priv)).equals(Buffer.from(nacl.sign.detached(signingInput(body), kp.secretKey)))
const ref = time('reference: node:crypto ed25519 over the digest', () => {
  const sig = sign(null, signingInput(body), priv)
  if (!verify(null, signingInput(body), pub, sig)) throw new Error('verify')
})
console.log(`hash-then-sign vs baseline: ${(v1 / v2).toFixed(2)}x; node:crypto vs current: ${(v2 / ref).toFixed(1)}x; identical signatures: ${same}`)
