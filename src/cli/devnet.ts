/** `formstate devnet`: a single-node devnet (no network, writes applied directly). */
import { configHelp, loadConfig } from '../config.ts'
import { startDevnet } from '../node.ts'
import { SEED_PROJECT, SEED_USERS } from '../state/seed.ts'
import { EXIT, type CliIo, type Command } from './command.ts'

/** Lines a developer can paste to try the devnet at once. */
export function devnetBanner (url: string, hasIssuer: boolean): string {
  const lines = [`form-state devnet listening on ${url}`, '']
  if (hasIssuer) {
    lines.push(
      `Seed project ${SEED_PROJECT}; users ${SEED_USERS.map((u) => `${u.sub} (${u.role})`).join(', ')}.`,
      '',
      '# mint a token (devnet issuer) and call the API:',
      `TOKEN=$(curl -s -X POST ${url}/devnet/token -H 'content-type: application/json' \\`,
      `  -d '{"sub":"user@demo","project_id":"${SEED_PROJECT}","role":"user"}' | sed -E 's/.*"token":"([^"]+)".*/\\1/')`,
      `curl -s -X POST ${url}/accounts -H "authorization: Bearer $TOKEN"`,
      `curl -s ${url}/accounts/me -H "authorization: Bearer $TOKEN"`,
      `curl -s ${url}/models`,
      `curl -s -X POST ${url}/models/gpt-demo/invoke -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"input_tokens":1200,"output_tokens":300}'`,
      `curl -s ${url}/billing/credits -H "authorization: Bearer $TOKEN"`,
      `curl -s "${url}/usage/stats?window=hour" -H "authorization: Bearer $TOKEN"`,
      `curl -s ${url}/openapi.json | head -c 300`,
    )
  } else {
    lines.push('Trusting the configured external JWT issuer; /devnet/token is disabled.')
  }
  return lines.join('\n')
}

/** Resolves when the process is asked to stop (SIGINT / SIGTERM). */
export function untilSignal (): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string): void => {
      process.off('SIGINT', on)
      process.off('SIGTERM', on)
      resolve(sig)
    }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
  })
}

export const devnetCommand: Command = {
  name: 'devnet',
  summary: 'run a single-node devnet (in memory unless --data-dir)',
  usage: () => `Usage: formstate devnet [options]\n\n${configHelp('devnet')}`,
  run: async (args: readonly string[], io: CliIo) => {
    const config = loadConfig(args, { mode: 'devnet' })
    const node = await startDevnet(config)
    io.out(devnetBanner(node.url, node.issuer !== undefined))
    const sig = await untilSignal()
    node.log.info('stopping', { signal: sig })
    await node.close()
    return EXIT.ok
  },
}
