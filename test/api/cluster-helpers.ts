// Real cluster nodes (src/node.ts startNode) in this process, on 127.0.0.1 with ephemeral
// HTTP and libp2p ports, an open network (test-only option) and a service secret to call
// the admin routes with. Used by the /metrics and `formstate inspect` tests.
import '../../src/polyfill.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../../src/config.ts'
import { startNode, type RunningClusterNode } from '../../src/node.ts'

export const OPS_SERVICE = 'ops'
export const OPS_SECRET = 'ops-secret-0123456789abcdef'
/** Headers of the operator service. */
export const OPS_HEADERS = { authorization: `Bearer ${OPS_SECRET}`, 'x-service-name': OPS_SERVICE }

export interface TestCluster {
  nodes: RunningClusterNode[]
  close (): Promise<void>
}

/**
 * Starts `n` nodes, each bootstrapping from the first (the first from `bootstrap`, when
 * given: a node joining another test cluster); `oidcIssuer` (a devnet's) signs admin JWTs.
 */
export async function startTestCluster (n: number, opts: { syncIntervalMs?: number, oidcIssuer?: string, bootstrap?: string } = {}): Promise<TestCluster> {
  const dirs: string[] = []
  const nodes: RunningClusterNode[] = []
  const close = async (): Promise<void> => {
    await Promise.all(nodes.map(async (x) => x.close()))
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  }
  try {
    for (let i = 0; i < n; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'fs-inspect-node-'))
      dirs.push(dir)
      const config = parseConfig([
        'node', '--host', '127.0.0.1', '--port', '0', '--p2p-port', '0', '--data-dir', dir, '--log-level', 'silent',
        // JWTs from a devnet's issuer when given; else none are used (the key source is never fetched).
        ...(opts.oidcIssuer !== undefined ? ['--oidc-issuer', opts.oidcIssuer] : ['--jwks-url', 'http://127.0.0.1:9/jwks', '--jwt-issuer', 'test']),
        '--service-secrets', `${OPS_SERVICE}=${OPS_SECRET}`,
        '--operator-projects', 'proj_demo',
        '--sync-interval-ms', String(opts.syncIntervalMs ?? 500),
        ...(i > 0 ? ['--bootstrap', nodes[0]!.p2pAddrs()[0]!] : opts.bootstrap !== undefined ? ['--bootstrap', opts.bootstrap] : []),
      ], {})
      nodes.push(await startNode(config, { allowOpenNetwork: true, replication: { redialMs: 200 } }))
    }
  } catch (err) {
    await close()
    throw err
  }
  return { nodes, close }
}

/** Polls `cond` every 25 ms until true; throws naming `what` after `ms`. */
export async function until (what: string, ms: number, cond: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
