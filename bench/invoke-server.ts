// Child process for bench/http.ts: a seeded devnet (access log off: --log-level warn;
// rate limits raised out of the way) whose seed user holds enough credits for the whole
// run. Args: [data-dir]. With a data dir the store is on disk with group commit; without,
// in memory. Prints LISTENING <url>; the parent mints its JWT through /devnet/token.
import '../src/polyfill.ts'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../src/config.ts'
import { startDevnet } from '../src/node.ts'
import { grantCredits } from '../src/state/billing-actions.ts'
import { accountIdFor } from '../src/state/model.ts'
import { SEED_PROJECT } from '../src/state/seed.ts'
import { announce } from './child-server.ts'

/** Credits given to the benchmarked account: far more than any bounded run can spend. */
export const BENCH_CREDITS = 1_000_000_000_000

const dataDir = process.argv[2]
const dir = mkdtempSync(join(tmpdir(), 'fs-bench-http-'))
const billing = join(dir, 'billing.json')
const fast = { rate_limit: { per_second: 1_000_000, burst: 10_000_000 } }
writeFileSync(billing, JSON.stringify({ tiers: { free: fast, pro: fast, enterprise: fast } }))
const config = parseConfig(['devnet', '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn', '--billing-config', billing,
  ...(dataDir !== undefined ? ['--data-dir', dataDir, '--durability', 'group'] : [])], {})
const node = await startDevnet(config, { seed: true })
await grantCredits(node.store, {
  accountId: accountIdFor(SEED_PROJECT, 'user@demo'),
  idempotencyKey: `bench:${Date.now()}`,
  amount: BENCH_CREDITS,
  kind: 'manual',
  reason: 'bench:http',
  by: 'bench',
  at: Date.now(),
})
process.stderr.write(`# invoke-server: ${dataDir === undefined ? 'memory' : `disk (${config.durability}) ${dataDir}`}\n`)
announce(node.url, () => { rmSync(dir, { recursive: true, force: true }); void node.close() })
