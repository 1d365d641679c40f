/**
 * A small structured logger. One record per line: JSON when the output is not a terminal
 * (machines read it), short text on a terminal (people read it). The sink is injectable so
 * tests can capture every line, and values that look like credentials are redacted before a
 * line is formatted, so a secret that slips into a field still never reaches the sink.
 */

/** Log levels, least to most severe; `silent` disables output. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }

/** One log record as handed to the sink (after redaction). */
export interface LogRecord {
  time: string
  level: Exclude<LogLevel, 'silent'>
  msg: string
  [field: string]: unknown
}

/** Receives each formatted line (no trailing newline) and the record it came from. */
export type LogSink = (line: string, record: LogRecord) => void

export interface Logger {
  readonly level: LogLevel
  debug (msg: string, fields?: Record<string, unknown>): void
  info (msg: string, fields?: Record<string, unknown>): void
  warn (msg: string, fields?: Record<string, unknown>): void
  error (msg: string, fields?: Record<string, unknown>): void
  enabled (level: LogLevel): boolean
  /** A logger that adds `bindings` to every record (e.g. `{ component: 'api' }`). */
  child (bindings: Record<string, unknown>): Logger
}

export interface LoggerOptions {
  level?: LogLevel
  /** Defaults to writing to stderr. */
  sink?: LogSink
  /** Defaults to 'text' when stderr is a TTY, else 'json'. */
  format?: 'json' | 'text'
  bindings?: Record<string, unknown>
  /** Clock, for deterministic tests. */
  now?: () => Date
}

/** Field names whose values are credentials: replaced wholesale. */
const SECRET_KEY = /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|x-service-secret|password|passphrase|secret|client_secret|api_key|apikey|token|access_token|refresh_token|id_token|private_key|webhook_secret)$|_secret$|^secret_/i
/** API key secrets (`fs_live_…`, `fs_test_…`) anywhere inside a string. */
const KEY_IN_TEXT = /\b(fs_(?:live|test)_)[A-Za-z0-9_~.+/=-]{6,}/g
/** Bearer credentials inside a string (e.g. a header echoed into a message). */
const BEARER_IN_TEXT = /\b(Bearer\s+)[A-Za-z0-9_~.+/=-]{6,}/gi

const REDACTED = '[redacted]'

/** Removes credential-looking substrings from a string. */
export function scrub (text: string): string {
  // One cheap test first (a superset of both patterns): most strings hold neither.
  if (!MAYBE_SECRET_IN_TEXT.test(text)) return text
  return text.replace(KEY_IN_TEXT, `$1${REDACTED}`).replace(BEARER_IN_TEXT, `$1${REDACTED}`)
}

/** Matches wherever KEY_IN_TEXT or BEARER_IN_TEXT could. */
const MAYBE_SECRET_IN_TEXT = /fs_(?:live|test)_|bearer\s/i

/** SECRET_KEY verdicts per field name (field names come from code: a small set; bounded anyway). */
const secretKeys = new Map<string, boolean>()

function isSecretKey (k: string): boolean {
  let v = secretKeys.get(k)
  if (v === undefined) {
    v = SECRET_KEY.test(k)
    if (secretKeys.size >= 1024) secretKeys.clear()
    secretKeys.set(k, v)
  }
  return v
}

function serializeError (err: Error, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = { name: err.name, message: scrub(err.message) }
  const code = (err as { code?: unknown }).code
  if (code !== undefined) out.code = code
  if (err.stack !== undefined) out.stack = scrub(err.stack)
  if (err.cause !== undefined && depth < 3) out.cause = redact(err.cause, depth + 1)
  return out
}

/** Deep copy of `value` with secret fields and credential-looking strings redacted. */
export function redact (value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrub(value)
  if (value === null || typeof value !== 'object') {
    return typeof value === 'bigint' ? value.toString() : value
  }
  if (depth > 6) return '[depth]'
  if (value instanceof Error) return serializeError(value, depth)
  if (value instanceof Date) return value.toISOString()
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`
  if (Array.isArray(value)) return value.slice(0, 100).map((v) => redact(v, depth + 1))
  if (value instanceof Map) return redact(Object.fromEntries(value), depth)
  if (value instanceof Set) return redact([...value], depth)
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretKey(k) && v !== undefined && v !== null ? REDACTED : redact(v, depth + 1)
  }
  return out
}

const RESERVED = new Set(['time', 'level', 'msg'])

/** One top-level field of a record, redacted as `redact` treats an object's entries. */
function redactField (k: string, v: unknown): unknown {
  return isSecretKey(k) && v !== undefined && v !== null ? REDACTED : redact(v, 1)
}

/** Sets an own property (a `__proto__` key included, as object spread would). */
function put (rec: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(rec, k, { value: v, enumerable: true, writable: true, configurable: true })
  else rec[k] = v
}

function formatText (rec: LogRecord): string {
  const { time, level, msg, ...rest } = rec
  const extras = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
  return [time.slice(11, 23), level.toUpperCase().padEnd(5), msg, ...extras].join(' ')
}

/** Bytes of buffered lines past which the default sink writes at once. */
const FLUSH_BYTES = 64 * 1024
let pending = ''
let flushScheduled = false

/** Writes the buffered lines now (one write to stderr). */
export function flushLogs (): void {
  if (pending === '') return
  const text = pending
  pending = ''
  process.stderr.write(text)
}

/**
 * The default sink: stderr, buffered. A write to stderr is a synchronous syscall on Linux
 * (pipes and files), and one per access-log line cost more CPU than the request it logged;
 * lines are joined and written once per event-loop turn instead (or sooner past 64 KiB).
 * Warnings and errors flush at once (with what was buffered before them, in order), and the
 * buffer is flushed on exit, so only a kill -9 can lose the last turn's debug/info lines.
 */
function defaultSink (line: string, record: LogRecord): void {
  pending += line + '\n'
  if (record.level === 'warn' || record.level === 'error' || pending.length >= FLUSH_BYTES) { flushLogs(); return }
  if (!flushScheduled) {
    flushScheduled = true
    setImmediate(() => { flushScheduled = false; flushLogs() }).unref()
  }
}
process.on('exit', flushLogs)

/** Creates a logger. */
export function createLogger (opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info'
  const sink = opts.sink ?? defaultSink
  const format = opts.format ?? (process.stderr.isTTY === true ? 'text' : 'json')
  const now = opts.now ?? (() => new Date())
  const bindings = opts.bindings ?? {}

  const enabled = (l: LogLevel): boolean => l !== 'silent' && RANK[l] >= RANK[level]
  const write = (l: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>): void => {
    if (!enabled(l)) return
    // One object built in place (this runs per access-log line): the same record as
    // redact({ ...bindings, ...fields }) without time/level/msg, which fields cannot override.
    const ordered: LogRecord = { time: now().toISOString(), level: l, msg: scrub(msg) }
    const rec = ordered as Record<string, unknown>
    for (const k in bindings) if (!RESERVED.has(k) && Object.hasOwn(bindings, k)) put(rec, k, redactField(k, bindings[k]))
    if (fields !== undefined) for (const k in fields) if (!RESERVED.has(k) && Object.hasOwn(fields, k)) put(rec, k, redactField(k, fields[k]))
    let line: string
    try {
      line = format === 'json' ? JSON.stringify(ordered) : formatText(ordered)
    } catch {
      // A circular or otherwise unserialisable field must not take the caller down.
      line = JSON.stringify({ time: ordered.time, level: l, msg: ordered.msg, log_error: 'unserialisable fields' })
    }
    sink(line, ordered)
  }

  return {
    level,
    enabled,
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (more) => createLogger({ level, sink, format, now, bindings: { ...bindings, ...more } }),
  }
}

/** A sink that keeps every line in memory, for tests. */
export function memorySink (): { sink: LogSink, lines: string[], records: LogRecord[] } {
  const lines: string[] = []
  const records: LogRecord[] = []
  return { lines, records, sink: (line, rec) => { lines.push(line); records.push(rec) } }
}

/** A logger that drops everything (the default where no logger is injected). */
export const nullLogger: Logger = createLogger({ level: 'silent', sink: () => {} })
