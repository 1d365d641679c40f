/**
 * Cluster membership: which peer ids may originate ops.
 *
 * Rule. A peer is a member when
 * 1. it is this node;
 * 2. it completed a libp2p connection with this node — the connection runs inside the
 *    private network, so completing it proves the peer holds the cluster key, and noise
 *    proves it holds the private key of its peer id; or
 * 3. a member vouched for it during anti-entropy sync (the sync protocol sends the
 *    member list alongside the version vector). This is what lets a replica accept
 *    envelopes relayed by gossip from an origin it never connected to directly.
 * Members are persisted in `<dataDir>/members.json` so a restarted node accepts gossip
 * from its cluster before it has reconnected to everybody. Envelopes whose origin is not
 * a member are rejected whole (`not_member`).
 *
 * What the cluster key protects: outsiders cannot open a connection at all (pnet wraps
 * the TCP stream in XSalsa20 keyed by the PSK before noise even starts), so they can
 * neither read gossip nor sync, nor publish, nor become members. Per-batch ed25519
 * signatures (envelope.ts) then make every op attributable: a member cannot forge ops
 * under another member's id, even when gossip relays them through third parties.
 *
 * What it does NOT protect: it is one shared secret, so anyone who holds it is trusted
 * fully — any key holder can join, write any op under its own id, and vouch for other
 * ids. A member's ops are not checked against an
 * authorisation policy (the API layer on the origin node did that). pnet encrypts but
 * noise is what authenticates peers; the PSK alone says "belongs to the cluster", not who.
 *
 * Retirement. An operator retires a member that is gone for good (a dead machine, a
 * decommissioned node): it stops counting for causal stability — one silent member would
 * otherwise block compaction on every node forever — and its peer id is refused from then
 * on: no connection (the host's connection gater), no gossip (`not_member`), no vouching it
 * back in. Retirements are a grow-only set exchanged in every sync round, so one operator
 * call reaches the whole cluster. The retired node's ops that some members already hold
 * still spread to the others through sync (sync does not filter by origin): they are
 * authentic, and dropping them on some nodes only would break convergence. A retired
 * peer id is retired for good; the machine rejoins with a fresh data dir (a new peer id)
 * and bootstraps from a snapshot.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { FormStateError } from '../errors.ts'

export const MEMBERS_FILE = 'members.json'

/** How a member became one. */
export type MemberSource = 'self' | 'connected' | 'vouched'

export interface Member {
  readonly id: string
  readonly via: MemberSource
  /** Who vouched (for `vouched`). */
  readonly by?: string
  readonly since: number
}

/** A member an operator retired (or that a member told us was retired). */
export interface Retirement {
  readonly id: string
  /** The node where the operator retired it, or the member that told us. */
  readonly by: string
  readonly at: number
}

/** Cap on members learnt by vouching from one sync exchange (a sanity bound, not security). */
export const MAX_VOUCHED_PER_EXCHANGE = 1024

export class Membership {
  private readonly members = new Map<string, Member>()
  private readonly retiredIds = new Map<string, Retirement>()
  private dirty = false
  private saving: Promise<void> | undefined
  private readonly listeners = new Set<(m: Member) => void>()
  private readonly retireListeners = new Set<(r: Retirement, wasMember: boolean) => void>()

  /**
   * @param self this node's peer id
   * @param dataDir where members.json lives; undefined keeps membership in memory
   */
  constructor (readonly self: string, private readonly dataDir?: string, private readonly now: () => number = Date.now) {
    this.members.set(self, { id: self, via: 'self', since: now() })
  }

  /** Load persisted members (no file: nothing to load). */
  async load (): Promise<void> {
    if (this.dataDir === undefined) return
    let text: string
    try {
      text = await readFile(join(this.dataDir, MEMBERS_FILE), 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw new FormStateError('storage_failure', 'cannot read members.json', { cause: err })
    }
    let list: unknown
    let retired: unknown
    try {
      ({ members: list, retired } = JSON.parse(text) as { members?: unknown, retired?: unknown })
    } catch (err) {
      throw new FormStateError('decode_invalid', 'members.json is not JSON', { cause: err })
    }
    if (!Array.isArray(list)) throw new FormStateError('decode_invalid', 'members.json has no members array')
    if (retired !== undefined && !Array.isArray(retired)) throw new FormStateError('decode_invalid', 'members.json: retired is not an array')
    for (const r of (retired ?? []) as Retirement[]) {
      if (typeof r?.id !== 'string' || r.id === this.self) continue
      this.retiredIds.set(r.id, { id: r.id, by: typeof r.by === 'string' ? r.by : '', at: Number(r.at) || 0 })
    }
    for (const m of list as Member[]) {
      if (typeof m?.id !== 'string' || m.id === this.self || this.retiredIds.has(m.id)) continue
      const via: MemberSource = m.via === 'vouched' ? 'vouched' : 'connected'
      this.members.set(m.id, { id: m.id, via, since: Number(m.since) || 0, ...(typeof m.by === 'string' ? { by: m.by } : {}) })
    }
  }

  has (id: string): boolean {
    return this.members.has(id)
  }

  list (): Member[] {
    return [...this.members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  ids (): string[] {
    return this.list().map((m) => m.id)
  }

  /** True when `id` was retired: never a member again. */
  isRetired (id: string): boolean {
    return this.retiredIds.has(id)
  }

  /** Retired peers, sorted by id. */
  retired (): Retirement[] {
    return [...this.retiredIds.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  /**
   * Retire `id` (an operator's decision, made on this node): it leaves the members and is
   * refused from now on. Idempotent: false when it was already retired. This node cannot
   * retire itself (409 `conflict`).
   */
  retire (id: string): boolean {
    if (id === this.self) throw new FormStateError('conflict', 'a node cannot retire itself; retire it from another member')
    return this.markRetired({ id, by: this.self, at: this.now() })
  }

  /**
   * Member `by` told us (in a sync exchange) that `ids` are retired. Ignored unless `by` is
   * a member; this node's own id is ignored (a retired node is refused by the others
   * anyway, and must not stop trusting itself). Returns the ids that were new.
   */
  learnRetired (by: string, ids: readonly string[]): string[] {
    if (!this.has(by)) return []
    const added: string[] = []
    for (const id of ids.slice(0, MAX_VOUCHED_PER_EXCHANGE)) {
      if (typeof id !== 'string' || id.length === 0 || id.length > 128 || id === this.self) continue
      if (this.markRetired({ id, by, at: this.now() })) added.push(id)
    }
    return added
  }

  private markRetired (r: Retirement): boolean {
    if (this.retiredIds.has(r.id)) return false
    this.retiredIds.set(r.id, r)
    const was = this.members.get(r.id)
    this.members.delete(r.id)
    this.changed()
    for (const l of this.retireListeners) l(r, was !== undefined)
    return true
  }

  /** Called with each retirement (and whether it was a member until then). Returns an unsubscribe. */
  onRetire (listener: (r: Retirement, wasMember: boolean) => void): () => void {
    this.retireListeners.add(listener)
    return () => this.retireListeners.delete(listener)
  }

  /** A peer completed a connection through the private network. Returns true when new. */
  connected (id: string): boolean {
    if (this.retiredIds.has(id)) return false
    const cur = this.members.get(id)
    if (cur?.via === 'connected' || cur?.via === 'self') return false
    // A vouched member that now connected directly is upgraded (stronger evidence).
    this.put({ id, via: 'connected', since: cur?.since ?? this.now() })
    return cur === undefined
  }

  /**
   * A member (`by`) vouches for `ids`. Ignored unless `by` is itself a member. Returns
   * the ids that were new.
   */
  vouch (by: string, ids: readonly string[]): string[] {
    if (!this.members.has(by)) return []
    const added: string[] = []
    for (const id of ids.slice(0, MAX_VOUCHED_PER_EXCHANGE)) {
      if (typeof id !== 'string' || id.length === 0 || id.length > 128 || this.members.has(id) || this.retiredIds.has(id)) continue
      this.put({ id, via: 'vouched', by, since: this.now() })
      added.push(id)
    }
    return added
  }

  /** Called with each member added or upgraded. Returns an unsubscribe. */
  onChange (listener: (m: Member) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private put (m: Member): void {
    this.members.set(m.id, m)
    this.changed()
    for (const l of this.listeners) l(m)
  }

  private changed (): void {
    this.dirty = true
    void this.save().catch(() => {}) // persisted again by the next change or flush()
  }

  /** Write members.json if it changed (atomic: write a temp file, then rename). */
  async save (): Promise<void> {
    if (this.dataDir === undefined) return
    while (this.saving !== undefined) await this.saving
    if (!this.dirty) return
    this.dirty = false
    const dir = this.dataDir
    const body = JSON.stringify({ members: this.list().filter((m) => m.via !== 'self'), retired: this.retired() }, null, 2)
    this.saving = (async () => {
      await mkdir(dir, { recursive: true })
      const tmp = join(dir, `${MEMBERS_FILE}.tmp-${process.pid}`)
      await writeFile(tmp, body)
      await rename(tmp, join(dir, MEMBERS_FILE))
    })().catch((err) => {
      this.dirty = true
      throw new FormStateError('storage_failure', 'cannot write members.json', { cause: err })
    }).finally(() => { this.saving = undefined })
    return this.saving
  }
}
