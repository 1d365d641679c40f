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
 * ids. Membership is grow-only here: there is no revocation short of rotating the key
 * on every node and deleting members.json. A member's ops are not checked against an
 * authorisation policy (the API layer on the origin node did that). pnet encrypts but
 * noise is what authenticates peers; the PSK alone says "belongs to the cluster", not who.
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

/** Cap on members learnt by vouching from one sync exchange (a sanity bound, not security). */
export const MAX_VOUCHED_PER_EXCHANGE = 1024

export class Membership {
  private readonly members = new Map<string, Member>()
  private dirty = false
  private saving: Promise<void> | undefined
  private readonly listeners = new Set<(m: Member) => void>()

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
    try {
      list = (JSON.parse(text) as { members?: unknown }).members
    } catch (err) {
      throw new FormStateError('decode_invalid', 'members.json is not JSON', { cause: err })
    }
    if (!Array.isArray(list)) throw new FormStateError('decode_invalid', 'members.json has no members array')
    for (const m of list as Member[]) {
      if (typeof m?.id !== 'string' || m.id === this.self) continue
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

  /** A peer completed a connection through the private network. Returns true when new. */
  connected (id: string): boolean {
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
      if (typeof id !== 'string' || id.length === 0 || id.length > 128 || this.members.has(id)) continue
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
    this.dirty = true
    for (const l of this.listeners) l(m)
    void this.save().catch(() => {}) // persisted again by the next change or flush()
  }

  /** Write members.json if it changed (atomic: write a temp file, then rename). */
  async save (): Promise<void> {
    if (this.dataDir === undefined) return
    while (this.saving !== undefined) await this.saving
    if (!this.dirty) return
    this.dirty = false
    const dir = this.dataDir
    const body = JSON.stringify({ members: this.list().filter((m) => m.via !== 'self') }, null, 2)
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
