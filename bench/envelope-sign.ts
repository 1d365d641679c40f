// What one envelope signature costs, per ~20 KB batch (256 ops × ~80 bytes), measured in
// one run so the ratios hold on a loaded machine:
//   baseline  tweetnacl sign+verify over the whole body (envelope v1, as DESIGN.md had it);
//   hashed    tweetnacl over prefix ‖ SHA-512/256(body) (envelope v2, hash-then-sign);
//   current   node:crypto ed25519 over the same 55 bytes (src/replication/ed25519.ts: same
//             algorithm and signatures, native code) — what envelopes use now.
// Usage: npm run bench:envelope-sign [-- rounds]   (default 40)
import '../src/polyfill.ts'
import { performance } from 'node:perf_hooks'
import nacl from 'tweetnacl'
import { ed25519Sign, ed25519Verify, signingKey, verifyingKey } from '../src/replication/ed25519.ts'
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
const v2 = time('hashed: tweetnacl over SHA-512/256 digest', () => {
  const sig = nacl.sign.detached(signingInput(body), kp.secretKey)
  if (!nacl.sign.detached.verify(signingInput(body), sig, kp.publicKey)) throw new Error('verify')
})
const priv = signingKey(kp.secretKey)
const pub = verifyingKey(kp.publicKey)
const same = Buffer.from(ed25519Sign(priv, signingInput(body))).equals(Buffer.from(nacl.sign.detached(signingInput(body), kp.secretKey)))
const cur = time('current: node:crypto ed25519 over the digest', () => {
  const sig = ed25519Sign(priv, signingInput(body))
  if (!ed25519Verify(pub, signingInput(body), sig)) throw new Error('verify')
})
console.log(`current vs baseline: ${(v1 / cur).toFixed(1)}x; current vs hashed tweetnacl: ${(v2 / cur).toFixed(1)}x; identical signatures: ${same}`)
