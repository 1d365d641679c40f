/** Human-readable output of `formstate inspect` (status, diff, watch frames). */
import type { ReplicaStatus } from './inspect-client.ts'
import type { DiffReport, FieldDiff } from './inspect-diff.ts'
import type { WatchFrame } from './inspect-watch.ts'
import { table } from './keys.ts'

/** A long id shortened for tables: first 10 and last 6 characters. */
export function short (id: string): string {
  return id.length <= 20 ? id : `${id.slice(0, 10)}…${id.slice(-6)}`
}

function show (v: unknown): string {
  if (v === undefined) return '(absent)'
  const s = JSON.stringify(v)
  return s.length > 80 ? s.slice(0, 77) + '...' : s
}

const rate = (r: number | null): string => (r === null ? '-' : r >= 100 ? r.toFixed(0) : r.toFixed(1))
const vvText = (vv: Record<string, number>): string => Object.entries(vv).map(([o, s]) => `${short(o)}:${s}`).join(' ') || '(empty)'

/** A duration as its largest unit: 45 s, 12 min, 3 h, 2 d. */
export function ago (ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 120) return `${s} s`
  if (s < 7200) return `${Math.round(s / 60)} min`
  if (s < 172_800) return `${Math.round(s / 3600)} h`
  return `${Math.round(s / 86_400)} d`
}

/** `inspect status`. */
export function formatStatus (url: string, s: ReplicaStatus): string {
  const n = s.node
  const lines = [
    `node        ${url}`,
    `replica     ${n.replica_id} (${n.mode}, shard ${n.shard}${n.cluster !== null ? `, cluster ${n.cluster}` : ''})`,
    `peer id     ${n.peer_id ?? '-'}`,
    `replication ${s.replication}; queue reader ${s.queue_reader}`,
    `digest      ${s.digest ?? '(not computed)'}`,
    `op log      ${s.op_log.length} ops; compacted through ${vvText(s.op_log.compacted_vv)}`,
    `snapshot    ${s.last_snapshot === null ? 'none' : `${s.last_snapshot.entities} entities, ${s.last_snapshot.bytes} bytes, at ${new Date(s.last_snapshot.taken_at).toISOString()}`}`,
    `vector      ${vvText(s.version_vector)}`,
    `gaps        ${s.gaps.length === 0 ? 'none' : s.gaps.map((g) => `${short(g.origin)} missing ${g.first_missing} (buffered to ${g.highest_buffered})`).join('; ')}`,
  ]
  const rejected = Object.entries(s.rejected).filter(([, c]) => c > 0)
  lines.push(`rejected    ${rejected.length === 0 ? 'none' : rejected.map(([r, c]) => `${r} ${c}`).join(', ')}`)
  const g = s.gossip as Record<string, number> | null
  if (g !== null) lines.push(`gossip      out ${g.batchesOut} batches / ${g.opsOut} ops; in ${g.batchesIn} batches / ${g.opsIn} ops`)
  const sy = s.sync as Record<string, number> | null
  if (sy !== null) lines.push(`sync        ${sy.rounds} rounds (${sy.roundErrors} failed), ${sy.opsPulled} ops pulled, ${sy.snapshotsImported} snapshots imported`)
  lines.push('', `members (${s.members.length})`)
  // A member gone for a long time is one to retire (`formstate inspect retire`).
  const lastSeen = (m: ReplicaStatus['members'][number]): string =>
    m.connected ? 'now' : m.last_seen == null ? 'not since start' : `${new Date(m.last_seen).toISOString()} (${ago(s.time - m.last_seen)} ago)`
  lines.push(table(['id', 'via', 'connected', 'last seen'], s.members.map((m) => [m.id + (m.self ? ' (self)' : ''), m.via, m.connected ? 'yes' : 'no', lastSeen(m)])))
  const retired = s.retired ?? [] // absent from nodes older than retirement
  if (retired.length > 0) {
    lines.push('', `retired (${retired.length})`)
    lines.push(table(['id', 'by', 'at'], retired.map((r) => [r.id, short(r.by), new Date(r.at).toISOString()])))
  }
  lines.push('', `peers (${s.peers.length})`)
  if (s.peers.length > 0) {
    lines.push(table(['id', 'lag ops', 'lag ms', 'their lag', 'rounds', 'errors', 'last error'],
      s.peers.map((p) => [short(p.id), String(p.lag_ops), String(p.lag_ms), String(p.peer_lag_ops), String(p.rounds), String(p.errors), p.last_error ?? ''])))
  }
  return lines.join('\n')
}

function fieldLines (f: FieldDiff): string[] {
  if (f.only !== undefined) return [`    ${f.field} (${f.kind}): only on ${f.only.toUpperCase()}, value ${show(f.only === 'a' ? f.valueA : f.valueB)}`]
  // Scalar values say it all at a glance; a structured value's differences are the entries.
  const scalar = (v: unknown): boolean => v === null || typeof v !== 'object'
  const out = [scalar(f.valueA) && scalar(f.valueB)
    ? `    ${f.field} (${f.kind}): value ${show(f.valueA)} on A, ${show(f.valueB)} on B`
    : `    ${f.field} (${f.kind}):`]
  for (const e of f.entries) out.push(`      ${e.path}: ${show(e.a)} vs ${show(e.b)}`)
  return out
}

/** `inspect diff`. */
export function formatDiff (r: DiffReport): string {
  const lines = [
    `A ${r.a.url}  replica ${r.a.replica}  digest ${r.a.digest}`,
    `B ${r.b.url}  replica ${r.b.replica}  digest ${r.b.digest}`,
  ]
  if (r.equal) {
    lines.push('replicas are equal')
    return lines.join('\n')
  }
  lines.push(`replicas differ: ${r.entitiesA} entities on A, ${r.entitiesB} on B; ${r.differ.length} differ, ${r.onlyA.length} only on A, ${r.onlyB.length} only on B`)
  const accounts = (ts: string[]): string => ts.filter((t) => t.startsWith('acct/')).length.toString()
  lines.push(`accounts: ${accounts(r.differ)} differ, ${accounts(r.onlyA)} only on A, ${accounts(r.onlyB)} only on B`)
  for (const d of r.details) {
    const name = d.account !== undefined ? `account ${d.account}` : d.target
    lines.push('', d.only !== undefined ? `${name}: only on ${d.only.toUpperCase()}` : `${name}: ${d.fields.length} field(s) differ`)
    if (d.only === undefined) for (const f of d.fields) lines.push(...fieldLines(f))
  }
  if (r.truncated) lines.push('', `… ${r.differ.length + r.onlyA.length + r.onlyB.length - r.details.length} more differing entities not shown (--max N)`)
  return lines.join('\n')
}

/** One `inspect watch` frame. */
export function formatFrame (f: WatchFrame): string {
  const lines = [
    `#${f.frame} ${new Date(f.time).toISOString()}  ${f.replica}  replication ${f.replication}, reader ${f.reader}`,
    `ops ${f.opsTotal} applied (${rate(f.opsPerSec)}/s), log ${f.logLength}, gaps ${f.gaps}, rejected ${f.rejectedTotal} (${rate(f.rejectedPerSec)}/s)`,
    table(['origin', 'seq', 'ops/s'], f.origins.map((o) => [short(o.origin), String(o.seq), rate(o.perSec)])),
  ]
  if (f.peers.length > 0) lines.push(table(['peer', 'connected', 'lag ops', 'lag ms', 'errors'], f.peers.map((p) => [short(p.id), p.connected ? 'yes' : 'no', String(p.lagOps), String(p.lagMs), String(p.errors)])))
  return lines.join('\n') + '\n'
}
