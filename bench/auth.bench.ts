// Auth hot-path benchmarks. Each line prints ops/s and a ratio against a baseline measured
// in the same run, so the numbers are comparable across machines:
//   - JWT verify (jose, local keys + zod claims) vs a bare crypto.verify of the same token
//   - JWT verify through a cached remote JWKS vs the local key set
//   - GCRA check vs a bare Map get+set
//   - secretMatches vs a bare SHA-256
// Run: npm run bench:auth   (BENCH_MS=<ms per case> to change the duration)
import '../src/polyfill.ts'
import { createHash, createPublicKey, verify } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { generateApiKey, secretMatches } from '../src/auth/api-key-format.ts'
import { createDevnetIssuer } from '../src/auth/devnet-issuer.ts'
import { createJwtVerifier } from '../src/auth/jwt.ts'
import { GcraRateLimiter } from '../src/auth/rate-limit.ts'

const MS = Number(process.env.BENCH_MS ?? 1000)

async function measure (fn: () => unknown | Promise<unknown>, batch = 1): Promise<number> {
  for (let i = 0; i < 50; i++) await fn() // warm-up
  let ops = 0
  const start = performance.now()
  while (performance.now() - start < MS) {
    for (let i = 0; i < batch; i++) await fn()
    ops += batch
  }
  return ops / ((performance.now() - start) / 1000)
}

function report (name: string, ops: number, baselineName: string, baseline: number): void {
  console.log(`${name.padEnd(34)} ${Math.round(ops).toString().padStart(10)} ops/s   ${(ops / baseline).toFixed(3)}x of ${baselineName} (${Math.round(baseline)} ops/s)`)
}

const issuer = await createDevnetIssuer({ host: '127.0.0.1', port: 4000 })
const token = await issuer.sign({ sub: 'bench', project_id: 'proj_bench', role: 'developer' })
const [h, p, s] = token.split('.') as [string, string, string]
const pub = createPublicKey({ key: issuer.jwks().keys[0]!, format: 'jwk' })
const sig = Buffer.from(s, 'base64url')
const signed = Buffer.from(`${h}.${p}`)

const bare = await measure(() => verify('sha256', signed, pub, sig))
const local = createJwtVerifier(issuer.verifierOptions())
const viaLocal = await measure(async () => local.verify(token))
report('jwt verify (local keys)', viaLocal, 'crypto.verify', bare)

const server = createServer((_req, res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify(issuer.jwks())) })
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const remote = createJwtVerifier({
  issuer: issuer.issuer, audience: issuer.audience,
  keys: { type: 'jwks_url', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json` },
})
const viaRemote = await measure(async () => remote.verify(token))
report('jwt verify (remote JWKS, cached)', viaRemote, 'local keys', viaLocal)
server.close()

const map = new Map<string, number>()
let i = 0
const mapOps = await measure(() => { const k = `k${i++ & 1023}`; map.set(k, (map.get(k) ?? 0) + 1) }, 1000)
const rl = new GcraRateLimiter()
let j = 0
const limit = { ratePerSec: 1e9, burst: 1e6 }
const gcra = await measure(() => rl.check(`k${j++ & 1023}`, limit), 1000)
report('gcra check (1024 hot keys)', gcra, 'Map get+set', mapOps)

const key = generateApiKey('live')
const sha = await measure(() => createHash('sha256').update(key.secret).digest(), 100)
const match = await measure(() => secretMatches(key.hash, key.secret), 100)
report('secretMatches', match, 'sha256', sha)
