/**
 * The one error type of form-state. Every layer throws `FormStateError` with a stable
 * `code`; the API's error middleware maps the code to an HTTP status and a
 * problem+json body. Tests assert the code, never the message.
 */

/** Stable error codes and the HTTP status each maps to. */
export const ERROR_STATUS = {
  // 400 — bad input
  invalid_request: 400,
  invalid_json: 400,
  invalid_field: 400,
  unknown_field: 400,
  invalid_op: 400,
  decode_truncated: 400,
  decode_invalid: 400,
  decode_oversized: 400,
  invalid_delta: 400, // crdt/ CrdtError code of the same name
  bad_signature: 400,
  // 401 / 403 — who you are, what you may do
  unauthenticated: 401,
  invalid_token: 401,
  invalid_api_key: 401,
  invalid_service_credentials: 401,
  forbidden: 403,
  insufficient_scope: 403,
  wrong_project: 403,
  // 404 / 405 / 409
  not_found: 404,
  not_configured: 404, // a feature this node was not configured for (e.g. no Stripe webhook secret)
  method_not_allowed: 405,
  conflict: 409,
  idempotency_conflict: 409,
  already_exists: 409,
  agent_not_hired: 409, // invoking an agent the account has not hired
  // 402 — plan limits
  credits_insufficient: 402,
  agent_slots_exhausted: 402,
  subscription_inactive: 402,
  api_key_limit_reached: 402,
  insufficient_rights: 402, // crdt/ bounded counter: decrement beyond this replica's rights
  // 413 / 415 / 429
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  // 5xx — our fault or not ready
  not_ready: 503,
  storage_failure: 500,
  internal: 500,
} as const

export type ErrorCode = keyof typeof ERROR_STATUS

export interface FormStateErrorOptions {
  /** The request field (dotted path) that was wrong, for 4xx on bad input. */
  field?: string
  /** Extra members for the problem body (e.g. `upgrade` on a 402, `retry_after`). */
  extra?: Record<string, unknown>
  /** Headers the API should send with the problem (e.g. `WWW-Authenticate`). */
  headers?: Record<string, string>
  cause?: unknown
}

export class FormStateError extends Error {
  readonly code: ErrorCode
  readonly field?: string
  readonly extra?: Record<string, unknown>
  readonly headers?: Record<string, string>

  constructor (code: ErrorCode, message: string, opts: FormStateErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'FormStateError'
    this.code = code
    if (opts.field !== undefined) this.field = opts.field
    if (opts.extra !== undefined) this.extra = opts.extra
    if (opts.headers !== undefined) this.headers = opts.headers
  }

  get status (): number {
    return ERROR_STATUS[this.code]
  }
}

export function isFormStateError (err: unknown): err is FormStateError {
  return err instanceof FormStateError
}
