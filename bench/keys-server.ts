// Child process for bench/keys.ts: a devnet (silent log, rate limits raised out of the way)
// with `count` API keys written directly through the store, one of which is the key the
// parent hammers (passed in as `keyId hash`). Args: count keyId hash serviceName serviceSecret
// [key] (when the whole key is given, the in-process lookup cost is printed before serving).
import '../src/polyfill.ts'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateApiKey } from '../src/auth/api-key-format.ts'
import { parseConfig } from '../src/config.ts'
import { startDevnet } from '../src/node.ts'
import { createKeyOps } from '../src/state/api-keys.ts'
import { grantCredits } from '../src/state/billing-actions.ts'
import { accountIdFor } from '../src/state/model.ts'
import { SEED_PROJECT } from '../src/state/seed.ts'
import { announce } from './child-server.ts'

const [countArg, keyId, hash, service, secret] = process.argv.slice(2)
const count = Number(countArg)
if (!Number.isInteger(count) || count < 1 || keyId === undefined || hash === undefined || service === undefined || secret === undefined) {
  throw new Error('usage: keys-server.ts COUNT KEY_ID HASH SERVICE SECRET')
}

const dir = mkdtempSync(join(tmpdir(), 'fs-bench-keys-'))
const billing = join(dir, 'billing.json')
const fast = { rate_limit: { per_second: 1_000_000, burst: 10_000_000 }, api_key_limit: null }
writeFileSync(billing, JSON.stringify({ tiers: { free: fast, pro: fast, enterprise: fast } }))
const config = parseConfig(['devnet', '--host', '127.0.0.1', '--port', '0', '--log-level', 'silent', '--durability', 'none',
  '--billing-config', billing, '--service-secrets', `${service}=${secret}`], {})
const node = await startDevnet(config, { seed: true })
const store = node.store
const owner = 'user@demo'
const accountId = accountIdFor(SEED_PROJECT, owner)
const at = Date.now()

// The benchmarked key, listed on the seed user's account (index + entity).
for (const op of createKeyOps(store, { keyId, accountId, projectId: SEED_PROJECT, name: 'bench', scopes: ['usage:read', 'models:invoke'], expiresAt: null, hash, at, by: owner })) {
  await store.commit(op.target, op.changes)
}
// Credits for the metered calls of the whole run (1 credit per benchmarked invoke).
await grantCredits(store, { accountId, idempotencyKey: 'bench:credits', amount: 1e12, kind: 'manual', reason: 'bench', by: 'bench', at })
// Filler keys: the key entity only (what a lookup touches). Their account indexes are
// skipped so that setting up a million keys does not spend minutes growing index sets.
const t0 = Date.now()
const BATCH = 2_000
for (let i = 1; i < count; i += BATCH) {
  const commits: Array<Promise<unknown>> = []
  for (let j = i; j < Math.min(count, i + BATCH); j++) {
    const g = generateApiKey('test')
    const [, entity] = createKeyOps(store, { keyId: g.keyId, accountId: `acc_${String(j % 100_000).padStart(24, '0')}`, projectId: SEED_PROJECT, name: 'filler', scopes: ['usage:read'], expiresAt: null, hash: g.hash, at, by: 'bench' })
    commits.push(store.commit(entity!.target, entity!.changes))
  }
  await Promise.all(commits)
}
const heapMb = Math.round(process.memoryUsage().heapUsed / 1e6)
process.stderr.write(`# keys-server: ${count.toLocaleString('en-US')} keys stored in ${((Date.now() - t0) / 1000).toFixed(1)} s, heap ${heapMb} MB\n`)

// The lookup itself, without HTTP: parse + `key/<id>` lookup + SHA-256 + constant-time compare
// + status checks, for the benchmarked key and for unknown ids (the dummy-hash path).
const display = process.argv[7]
if (display !== undefined) {
  const auth = node.keys!.authenticator
  const N = 200_000
  const unknown = generateApiKey('test').display
  for (const [label, raw] of [['stored key', display], ['unknown key id', unknown]] as const) {
    for (let i = 0; i < 10_000; i++) auth.check(raw) // warm-up
    const t = process.hrtime.bigint()
    for (let i = 0; i < N; i++) auth.check(raw)
    const us = Number(process.hrtime.bigint() - t) / N / 1000
    process.stderr.write(`# keys-server: check() of a ${label} with ${count.toLocaleString('en-US')} keys stored: ${us.toFixed(2)} us/op\n`)
  }
}
announce(node.url, () => { rmSync(dir, { recursive: true, force: true }); void node.close() })
