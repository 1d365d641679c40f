/**
 * The HTTP side of `formstate inspect`: reads a node's `/admin/replica…` routes with a
 * bearer token. Without a token, a devnet is asked for an admin token (`POST /devnet/token`),
 * so `formstate inspect status http://127.0.0.1:8080` works against a local devnet as is.
 */

/** A failed call, with the API's problem code when it sent one. */
export class InspectError extends Error {
  constructor (message: string, readonly status?: number, readonly code?: string) {
    super(message)
    this.name = 'InspectError'
  }
}

/** `GET /admin/replica` as the API answers it (the fields the CLI reads). */
export interface ReplicaStatus {
  node: { replica_id: string, peer_id: string | null, mode: string, shard: number, cluster: string | null }
  time: number
  replication: 'absent' | 'running' | 'stopped'
  queue_reader: 'n/a' | 'running' | 'stopped'
  listen_addrs: string[]
  members: Array<{ id: string, via: string, connected: boolean, self: boolean, last_seen?: number | null }>
  /** Absent from nodes older than retirement. */
  retired?: Array<{ id: string, by: string, at: number }>
  peers: Array<{ id: string, lag_ops: number, lag_ms: number, peer_lag_ops: number, rounds: number, errors: number, last_round_ms: number | null, last_error: string | null }>
  version_vector: Record<string, number>
  gaps: Array<{ origin: string, first_missing: number, highest_buffered: number }>
  op_log: { length: number, compacted_vv: Record<string, number> }
  last_snapshot: { version_vector: Record<string, number>, entities: number, bytes: number, taken_at: number } | null
  digest: string | null
  rejected: Record<string, number>
  gossip: Record<string, unknown> | null
  sync: Record<string, unknown> | null
  compaction: Record<string, unknown> | null
}

/** The answer of a retirement. */
export interface RetireAnswer { peer_id: string, retired: true, changed: boolean, was_connected: boolean, members: string[] }

export interface FieldJson { kind: string, value: unknown, state: unknown }
export interface EntityJson { target: string, digest: string, fields: Record<string, FieldJson> }
export interface AccountState { id: string, account: EntityJson, keys: EntityJson[] }
export interface DigestPage { digest: string | null, total: number, entities: Array<{ target: string, digest: string }>, next: string | null }

const TIMEOUT_MS = 10_000

/** One node's admin API. */
export class AdminClient {
  readonly url: string
  #token: string | undefined

  constructor (url: string, token?: string) {
    this.url = url.replace(/\/+$/, '')
    this.#token = token
  }

  /** GET `path` as JSON; throws {@link InspectError}. */
  get<T> (path: string): Promise<T> {
    return this.#call('GET', path)
  }

  /** POST `body` as JSON to `path`; throws {@link InspectError}. */
  post<T> (path: string, body: unknown): Promise<T> {
    return this.#call('POST', path, body)
  }

  async #call<T> (method: string, path: string, body?: unknown): Promise<T> {
    const token = this.#token ??= await this.#devnetToken()
    const res = await this.#fetch(path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    })
    return this.#answer<T>(res)
  }

  async #answer<T> (res: Response): Promise<T> {
    const text = await res.text()
    let body: unknown
    try { body = text === '' ? undefined : JSON.parse(text) } catch { body = undefined }
    if (!res.ok) {
      const p = (body ?? {}) as { code?: string, detail?: string }
      throw new InspectError(`${this.url}: ${res.status} ${p.code ?? ''}${p.detail !== undefined ? `: ${p.detail}` : ''}`.trim(), res.status, p.code)
    }
    return body as T
  }

  /** Retire a cluster member that is gone for good (`POST /admin/replica/members/:id/retire`). */
  retire (peerId: string, force: boolean): Promise<RetireAnswer> {
    return this.post(`/admin/replica/members/${encodeURIComponent(peerId)}/retire`, force ? { force } : {})
  }

  status (digest = true): Promise<ReplicaStatus> {
    return this.get(`/admin/replica${digest ? '' : '?digest=false'}`)
  }

  account (id: string): Promise<AccountState> {
    return this.get(`/admin/replica/accounts/${encodeURIComponent(id)}`)
  }

  /** Every entity digest under `prefix`, page by page; stops past `max` entities. */
  async allDigests (prefix = '', max = 1_000_000): Promise<Map<string, string>> {
    const out = new Map<string, string>()
    let after: string | null = null
    do {
      const q = new URLSearchParams({ limit: '10000', ...(prefix !== '' ? { prefix } : {}), ...(after !== null ? { after } : {}) })
      const page: DigestPage = await this.get(`/admin/replica/digests?${q}`)
      for (const e of page.entities) out.set(e.target, e.digest)
      after = page.next
    } while (after !== null && out.size < max)
    return out
  }

  async #fetch (path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(this.url + path, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) })
    } catch (err) {
      const cause = (err as Error).cause as { code?: string } | undefined
      throw new InspectError(`${this.url}: cannot reach the node (${cause?.code ?? (err as Error).message})`)
    }
  }

  /** A devnet hands out admin tokens; a node does not (404), so then a token is required. */
  async #devnetToken (): Promise<string> {
    const res = await this.#fetch('/devnet/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sub: 'inspect@cli', project_id: 'proj_demo', role: 'admin' }),
    })
    const body = await res.json().catch(() => ({})) as { token?: string }
    if (!res.ok || typeof body.token !== 'string') {
      throw new InspectError(`${this.url}: an admin token is needed (--token or FORMSTATE_TOKEN); this is not a devnet that issues one`, res.status)
    }
    return body.token
  }
}
