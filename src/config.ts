/**
 * Configuration: parsed once, from flags and environment, into a typed frozen object that
 * is passed down. This is the ONLY module that reads `process.env` (see {@link loadConfig}).
 *
 * Every setting has two spellings, a flag and an environment variable (table in
 * `config-table.ts`); the flag wins. A bad or missing setting throws {@link ConfigError}
 * whose message is one line naming both spellings and what is wrong.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { z } from 'zod'
import { SETTINGS, settingByFlag, settingsHelp, spell, type Mode, type Setting } from './config-table.ts'
import type { LogLevel } from './log.ts'

export type { Mode } from './config-table.ts'

export type Durability = 'sync' | 'group' | 'none'

/** The typed, frozen configuration of one process. */
export interface Config {
  readonly mode: Mode
  readonly host: string
  readonly port: number
  /** Absolute path; undefined means in-memory state (devnet only). */
  readonly dataDir?: string
  readonly durability: Durability
  readonly maxBodyBytes: number
  readonly maxCreditAmount: number
  readonly logLevel: LogLevel
  readonly billingConfigFile?: string
  readonly jwt: {
    readonly jwksUrl?: string
    readonly oidcIssuer?: string
    /** Expected `iss`; defaults to the OIDC issuer. */
    readonly issuer?: string
    readonly audience: string
    readonly requiredScope?: string
  }
  readonly stripeWebhookSecret?: string
  /** Projects whose admins are operators (replica-wide inspection); services always are. */
  readonly operatorProjects: readonly string[]
  /** Service name → shared secret, from the inline setting and/or the file. */
  readonly serviceSecrets: Readonly<Record<string, string>>
  readonly p2p: {
    readonly port: number
    readonly listen: readonly string[]
    readonly bootstrap: readonly string[]
    readonly clusterKeyFile?: string
    readonly syncIntervalMs: number
    readonly compactIntervalMs: number
  }
}

/** A bad or missing setting. `setting` is the flag spelling, e.g. `--port`. */
export class ConfigError extends Error {
  readonly code = 'invalid_config'
  readonly setting: string
  constructor (setting: string, message: string) {
    super(message)
    this.name = 'ConfigError'
    this.setting = setting
  }
}

function fail (s: Setting, what: string, prefix = 'invalid'): never {
  throw new ConfigError(s.flag, `${prefix} ${spell(s)}: ${what}`)
}

const MULTIADDR = z.string().regex(/^(\/[A-Za-z0-9._:~-]+)+$/, 'expected a multiaddr such as /ip4/127.0.0.1/tcp/4001')
const list = (raw: string): string[] => raw.split(',').map((x) => x.trim()).filter((x) => x !== '')

/** One zod schema per kind of raw value; errors become one-line ConfigErrors. */
const KIND: Record<Setting['kind'], z.ZodType> = {
  string: z.string().min(1, 'must not be empty'),
  path: z.string().min(1, 'must not be empty').transform((p) => resolve(p)),
  url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
  port: z.string().regex(/^\d+$/, 'expected an integer 0-65535').transform(Number).pipe(z.number().int().max(65535, 'expected an integer 0-65535')),
  int: z.string().regex(/^\d+$/, 'expected a non-negative integer').transform(Number).pipe(z.number().int().positive('must be at least 1').max(Number.MAX_SAFE_INTEGER, 'too large')),
  bytes: z.string().regex(/^\d+(b|kb|k|mb|m)?$/i, 'expected a size such as 1048576, 512kb or 1mb').transform((v) => {
    const m = /^(\d+)([a-z]*)$/i.exec(v)!
    const mult = { '': 1, b: 1, k: 1024, kb: 1024, m: 1 << 20, mb: 1 << 20 }[m[2]!.toLowerCase()] ?? 1
    return Number(m[1]) * mult
  }).pipe(z.number().int().min(1, 'must be at least 1 byte').max(1 << 30, 'at most 1gb')),
  list: z.string().transform(list),
  multiaddrs: z.string().transform(list).pipe(z.array(MULTIADDR)),
  enum: z.string(),
}

function parseValue (s: Setting, raw: string): unknown {
  if (s.kind === 'enum') {
    if (!s.choices!.includes(raw)) fail(s, `expected one of ${s.choices!.join(', ')}${s.secret === true ? '' : `, got '${raw}'`}`)
    return raw
  }
  const r = KIND[s.kind].safeParse(raw)
  if (!r.success) {
    const issue = r.error.issues[0]!
    const at = issue.path.length > 0 ? ` (item ${String(issue.path[0])})` : ''
    fail(s, `${issue.message}${at}${s.secret === true ? '' : `, got '${raw}'`}`)
  }
  return r.data
}

/** Splits argv into flag values (by flag spelling); positional words are returned separately. */
function readFlags (argv: readonly string[]): { flags: Map<string, string>, positional: string[] } {
  const flags = new Map<string, string>()
  const positional: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (!arg.startsWith('--')) { positional.push(arg); continue }
    const eq = arg.indexOf('=')
    const name = eq === -1 ? arg : arg.slice(0, eq)
    const s = settingByFlag(name)
    if (s === undefined) throw new ConfigError(name, `unknown option ${name} (see --help)`)
    let value: string | undefined
    if (eq !== -1) value = arg.slice(eq + 1)
    else {
      value = argv[i + 1]
      if (value === undefined || value.startsWith('--')) throw new ConfigError(name, `missing value for ${spell(s)}: expected ${s.arg}`)
      i++
    }
    if (flags.has(name)) throw new ConfigError(name, `${name} given twice`)
    flags.set(name, value)
  }
  return { flags, positional }
}

/** `name=secret` pairs separated by commas or newlines, or a JSON object. */
function parseSecrets (s: Setting, text: string): Record<string, string> {
  const out: Record<string, string> = {}
  const trimmed = text.trim()
  if (trimmed.startsWith('{')) {
    let obj: unknown
    try { obj = JSON.parse(trimmed) } catch { fail(s, 'file is not valid JSON') }
    const r = z.record(z.string().regex(/^[a-z0-9][a-z0-9._-]*$/i), z.string().min(16)).safeParse(obj)
    if (!r.success) fail(s, 'expected {"service-name": "secret of at least 16 characters", …}')
    return r.data
  }
  for (const part of trimmed.split(/[,\n]/).map((x) => x.trim()).filter((x) => x !== '' && !x.startsWith('#'))) {
    const eq = part.indexOf('=')
    const name = eq > 0 ? part.slice(0, eq).trim() : ''
    const secret = eq > 0 ? part.slice(eq + 1).trim() : ''
    if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) fail(s, 'expected name=secret pairs separated by commas')
    if (secret.length < 16) fail(s, `secret for service '${name}' must be at least 16 characters`)
    out[name] = secret
  }
  return out
}

function deepFreeze<T> (o: T): T {
  if (o !== null && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v)
    Object.freeze(o)
  }
  return o
}

export interface ParseOptions {
  /** The mode; when absent, a leading positional `devnet` or `node` in argv, else devnet. */
  mode?: Mode
  /** Reads a file (the service-secrets file); injectable for tests. */
  readFile?: (path: string) => string
}

/**
 * Parses flags (`--port 8080` or `--port=8080`) and environment into a frozen Config.
 * Empty environment values count as unset. Throws {@link ConfigError}.
 */
export function parseConfig (argv: readonly string[], env: Readonly<Record<string, string | undefined>>, opts: ParseOptions = {}): Config {
  const { flags, positional } = readFlags(argv)
  let mode = opts.mode
  if (mode === undefined && (positional[0] === 'devnet' || positional[0] === 'node')) mode = positional.shift() as Mode
  mode ??= 'devnet'
  if (positional.length > 0) throw new ConfigError(positional[0]!, `unexpected argument '${positional[0]}' (options start with --)`)

  const v: Record<string, unknown> = {}
  for (const s of SETTINGS) {
    const fromEnv = env[s.env]
    const raw = flags.get(s.flag) ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined) ?? s.defaults?.[mode]
    if (raw !== undefined) v[s.key] = parseValue(s, raw)
  }
  const S = (key: string): Setting => SETTINGS.find((s) => s.key === key)!
  const str = (key: string): string | undefined => v[key] as string | undefined

  if (mode === 'node' && v.dataDir === undefined) fail(S('dataDir'), 'required in node mode', 'missing')
  if (mode === 'node' && v.jwksUrl === undefined && v.oidcIssuer === undefined) {
    throw new ConfigError('--oidc-issuer', `missing --oidc-issuer / FORMSTATE_OIDC_ISSUER or --jwks-url / FORMSTATE_JWKS_URL: node mode needs a JWT key source`)
  }
  const issuer = str('jwtIssuer') ?? str('oidcIssuer')
  if (v.jwksUrl !== undefined && issuer === undefined) fail(S('jwtIssuer'), 'required with --jwks-url (the expected `iss`)', 'missing')

  const serviceSecrets: Record<string, string> = {}
  if (str('serviceSecrets') !== undefined) Object.assign(serviceSecrets, parseSecrets(S('serviceSecrets'), str('serviceSecrets')!))
  const secretsFile = str('serviceSecretsFile')
  if (secretsFile !== undefined) {
    let text: string
    try {
      text = (opts.readFile ?? ((p) => readFileSync(p, 'utf8')))(secretsFile)
    } catch (err) {
      fail(S('serviceSecretsFile'), `cannot read ${secretsFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
    Object.assign(serviceSecrets, parseSecrets(S('serviceSecretsFile'), text))
  }

  const dataDir = str('dataDir')
  const p2pPort = (v.p2pPort as number | undefined) ?? 0
  const config: Config = {
    mode,
    host: str('host')!,
    port: v.port as number,
    ...(dataDir !== undefined ? { dataDir } : {}),
    durability: (v.durability as Durability | undefined) ?? (dataDir !== undefined ? 'group' : 'none'),
    maxBodyBytes: v.maxBodyBytes as number,
    maxCreditAmount: v.maxCreditAmount as number,
    logLevel: v.logLevel as LogLevel,
    ...(str('billingConfig') !== undefined ? { billingConfigFile: str('billingConfig') } : {}),
    jwt: dropUndefined({
      jwksUrl: str('jwksUrl'),
      oidcIssuer: str('oidcIssuer'),
      issuer,
      audience: str('jwtAudience')!,
      requiredScope: str('jwtRequiredScope'),
    }),
    ...(str('stripeWebhookSecret') !== undefined ? { stripeWebhookSecret: str('stripeWebhookSecret') } : {}),
    serviceSecrets,
    operatorProjects: (v.operatorProjects as string[] | undefined) ?? [],
    p2p: dropUndefined({
      port: p2pPort,
      listen: (v.p2pListen as string[] | undefined) ?? [`/ip4/${str('host')}/tcp/${p2pPort}`],
      bootstrap: (v.bootstrap as string[] | undefined) ?? [],
      clusterKeyFile: str('clusterKey'),
      syncIntervalMs: v.syncIntervalMs as number,
      compactIntervalMs: v.compactIntervalMs as number,
    }),
  }
  return deepFreeze(config)
}

function dropUndefined<T extends Record<string, unknown>> (o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k]
  return o
}

/** Config with secrets replaced, safe to log at startup. */
export function redactConfig (c: Config): Record<string, unknown> {
  return {
    ...c,
    stripeWebhookSecret: c.stripeWebhookSecret !== undefined ? '[set]' : undefined,
    serviceSecrets: Object.keys(c.serviceSecrets),
  }
}

/** True when argv asks for help (`--help`, `-h`). */
export function wantsHelp (argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h')
}

/** Help text for the options of a mode. */
export function configHelp (mode?: Mode): string {
  return settingsHelp(mode)
}

/**
 * The process's config: `parseConfig(argv, process.env)`. The one read of `process.env`
 * in the code base.
 */
export function loadConfig (argv: readonly string[], opts: ParseOptions = {}): Config {
  return parseConfig(argv, process.env, opts)
}

/**
 * The operator CLI's bearer token from `FORMSTATE_TOKEN` (empty counts as unset), for
 * `formstate inspect` when `--token` is not given. Tests pass `env`.
 */
export function cliTokenFromEnv (env: Readonly<Record<string, string | undefined>> = process.env): string | undefined {
  const t = env.FORMSTATE_TOKEN
  return t !== undefined && t !== '' ? t : undefined
}
