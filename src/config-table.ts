/**
 * The table of settings: each one has a flag spelling and an environment spelling, a
 * parser, and help text. `src/config.ts` parses from it and `--help` is generated from it,
 * so a setting is declared once.
 */

/** How a node runs: a single-node devnet, or a cluster member. */
export type Mode = 'devnet' | 'node'

/** How a raw string value is checked and converted (see `src/config.ts`). */
export type SettingKind = 'string' | 'url' | 'port' | 'int' | 'bytes' | 'list' | 'multiaddrs' | 'path' | 'enum'

export interface Setting {
  /** Key in the flat raw-settings object handed to the schema. */
  readonly key: string
  readonly flag: string
  readonly env: string
  readonly kind: SettingKind
  readonly help: string
  /** Placeholder in `--help`, e.g. `<port>`. */
  readonly arg: string
  readonly choices?: readonly string[]
  /** Default per mode (shown in help). Absent: unset unless given. */
  readonly defaults?: Partial<Record<Mode, string>>
  /** Never echo the value (in errors or help). */
  readonly secret?: boolean
  /** Section of `--help` the setting is listed under. */
  readonly group: 'server' | 'auth' | 'storage' | 'cluster'
}

export const SETTINGS: readonly Setting[] = [
  { key: 'host', flag: '--host', env: 'FORMSTATE_HOST', kind: 'string', arg: '<addr>', group: 'server', help: 'HTTP listen address', defaults: { devnet: '127.0.0.1', node: '127.0.0.1' } },
  { key: 'port', flag: '--port', env: 'FORMSTATE_PORT', kind: 'port', arg: '<port>', group: 'server', help: 'HTTP listen port (0 = ephemeral)', defaults: { devnet: '8080', node: '8080' } },
  { key: 'maxBodyBytes', flag: '--max-body-bytes', env: 'FORMSTATE_MAX_BODY_BYTES', kind: 'bytes', arg: '<n[kb|mb]>', group: 'server', help: 'largest accepted request body', defaults: { devnet: '1mb', node: '1mb' } },
  { key: 'maxCreditAmount', flag: '--max-credit-amount', env: 'FORMSTATE_MAX_CREDIT_AMOUNT', kind: 'int', arg: '<n>', group: 'server', help: 'largest credit grant or adjustment in one request', defaults: { devnet: '100000000', node: '100000000' } },
  { key: 'logLevel', flag: '--log-level', env: 'FORMSTATE_LOG_LEVEL', kind: 'enum', arg: '<level>', group: 'server', choices: ['debug', 'info', 'warn', 'error', 'silent'], help: 'log verbosity', defaults: { devnet: 'info', node: 'info' } },
  { key: 'billingConfig', flag: '--billing-config', env: 'FORMSTATE_BILLING_CONFIG', kind: 'path', arg: '<file>', group: 'server', help: 'billing tiers / prices file (JSON)' },
  { key: 'operatorProjects', flag: '--operator-projects', env: 'FORMSTATE_OPERATOR_PROJECTS', kind: 'list', arg: '<id,…>', group: 'auth', help: 'projects whose admins may use the replica-wide /admin/replica views (services always may)', defaults: { devnet: 'proj_demo' } },
  { key: 'jwksUrl', flag: '--jwks-url', env: 'FORMSTATE_JWKS_URL', kind: 'url', arg: '<url>', group: 'auth', help: 'JWKS URL for verifying JWTs' },
  { key: 'oidcIssuer', flag: '--oidc-issuer', env: 'FORMSTATE_OIDC_ISSUER', kind: 'url', arg: '<url>', group: 'auth', help: 'OIDC issuer: keys via discovery, also the expected `iss`' },
  { key: 'jwtIssuer', flag: '--jwt-issuer', env: 'FORMSTATE_JWT_ISSUER', kind: 'string', arg: '<iss>', group: 'auth', help: 'expected JWT `iss` (defaults to the OIDC issuer)' },
  { key: 'jwtAudience', flag: '--jwt-audience', env: 'FORMSTATE_JWT_AUDIENCE', kind: 'string', arg: '<aud>', group: 'auth', help: 'expected JWT `aud`', defaults: { devnet: 'form-state', node: 'form-state' } },
  { key: 'jwtRequiredScope', flag: '--jwt-required-scope', env: 'FORMSTATE_JWT_REQUIRED_SCOPE', kind: 'string', arg: '<scope>', group: 'auth', help: 'scope every JWT must carry' },
  { key: 'stripeWebhookSecret', flag: '--stripe-webhook-secret', env: 'FORMSTATE_STRIPE_WEBHOOK_SECRET', kind: 'string', arg: '<whsec>', group: 'auth', help: 'Stripe webhook signing secret', secret: true },
  { key: 'serviceSecrets', flag: '--service-secrets', env: 'FORMSTATE_SERVICE_SECRETS', kind: 'string', arg: '<name=secret,…>', group: 'auth', help: 'service-to-service secrets', secret: true },
  { key: 'serviceSecretsFile', flag: '--service-secrets-file', env: 'FORMSTATE_SERVICE_SECRETS_FILE', kind: 'path', arg: '<file>', group: 'auth', help: 'service secrets file: JSON {name: secret} or name=secret lines' },
  { key: 'dataDir', flag: '--data-dir', env: 'FORMSTATE_DATA_DIR', kind: 'path', arg: '<dir>', group: 'storage', help: 'data directory (devnet: in memory when absent; node: required)' },
  { key: 'durability', flag: '--durability', env: 'FORMSTATE_DURABILITY', kind: 'enum', arg: '<policy>', group: 'storage', choices: ['sync', 'group', 'none'], help: 'when a write is acknowledged: sync each op, group commit, or none (default: group with a data dir, none in memory)' },
  { key: 'p2pPort', flag: '--p2p-port', env: 'FORMSTATE_P2P_PORT', kind: 'port', arg: '<port>', group: 'cluster', help: 'libp2p TCP port (used when --p2p-listen is absent)', defaults: { node: '4001' } },
  { key: 'p2pListen', flag: '--p2p-listen', env: 'FORMSTATE_P2P_LISTEN', kind: 'multiaddrs', arg: '<multiaddr,…>', group: 'cluster', help: 'libp2p listen multiaddrs (default /ip4/<host>/tcp/<p2p-port>)' },
  { key: 'bootstrap', flag: '--bootstrap', env: 'FORMSTATE_BOOTSTRAP', kind: 'multiaddrs', arg: '<multiaddr,…>', group: 'cluster', help: 'peers to dial at start' },
  { key: 'clusterKey', flag: '--cluster-key', env: 'FORMSTATE_CLUSTER_KEY_FILE', kind: 'path', arg: '<file>', group: 'cluster', help: 'cluster key file (private network + membership)' },
  { key: 'syncIntervalMs', flag: '--sync-interval-ms', env: 'FORMSTATE_SYNC_INTERVAL_MS', kind: 'int', arg: '<ms>', group: 'cluster', help: 'anti-entropy round interval', defaults: { devnet: '2000', node: '2000' } },
  { key: 'compactIntervalMs', flag: '--compact-interval-ms', env: 'FORMSTATE_COMPACT_INTERVAL_MS', kind: 'int', arg: '<ms>', group: 'cluster', help: 'how often ops seen by every member are compacted into a snapshot', defaults: { devnet: '30000', node: '30000' } },
]

const GROUP_TITLES: Record<Setting['group'], string> = {
  server: 'Server',
  auth: 'Authentication',
  storage: 'Storage',
  cluster: 'Cluster (node mode)',
}

/** `--help` text for the settings, generated from {@link SETTINGS}. */
export function settingsHelp (mode?: Mode): string {
  const lines: string[] = []
  for (const group of Object.keys(GROUP_TITLES) as Array<Setting['group']>) {
    const rows = SETTINGS.filter((s) => s.group === group)
    lines.push(`${GROUP_TITLES[group]}:`)
    for (const s of rows) {
      const left = `  ${s.flag} ${s.arg}`
      const dflt = mode !== undefined ? s.defaults?.[mode] : s.defaults?.node ?? s.defaults?.devnet
      const choices = s.choices !== undefined ? ` (${s.choices.join('|')})` : ''
      const suffix = dflt !== undefined && s.secret !== true ? ` [default: ${dflt}]` : ''
      lines.push(`${left.padEnd(40)} ${s.help}${choices}${suffix}`)
      lines.push(`${''.padEnd(40)} env ${s.env}`)
    }
    lines.push('')
  }
  lines.push('Flags win over environment variables. `--flag=value` and `--flag value` both work.')
  return lines.join('\n')
}

/** Looks up a setting by its flag spelling (`--port`). */
export function settingByFlag (flag: string): Setting | undefined {
  return SETTINGS.find((s) => s.flag === flag)
}

/** `--port / FORMSTATE_PORT`: how errors name a setting. */
export function spell (s: Setting): string {
  return `${s.flag} / ${s.env}`
}
