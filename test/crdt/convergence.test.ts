// Convergence under a hostile network, in the style of yjs's test helper: 5 replicas make
// seeded random ops on several CRDT types; deltas travel (binary-encoded) over a simulated
// network that drops, duplicates, reorders and partitions. Then the network heals (every
// replica ships its full state to every other) and all replicas must be equal.
// Replay a failure with FORMSTATE_SEED=<seed>.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { awMapType } from '../../crdt/awmap.ts'
import { awsetAdd, awsetRemove, awsetType } from '../../crdt/awset.ts'
import { boundedDecrement, boundedIncrement, boundedRights, boundedTransfer, boundedType } from '../../crdt/bounded.ts'
import { decodeWith, encodeWith } from '../../crdt/codec.ts'
import { CrdtError } from '../../crdt/errors.ts'
import { gcounterIncrement, gcounterType } from '../../crdt/gcounter.ts'
import { gmapPut, gmapType } from '../../crdt/gmap.ts'
import { HlcClock } from '../../crdt/hlc.ts'
import { statusLatticeType } from '../../crdt/lattice.ts'
import { lwwSet, lwwType } from '../../crdt/lww.ts'
import { pnDecrementKey, pnGrant, pnIncrementKey, pncounterType } from '../../crdt/pncounter.ts'
import { recordType } from '../../crdt/record.ts'
import type { AnyCrdtType } from '../../crdt/types.ts'
import { rng } from '../support/seed.ts'

const status = statusLatticeType('conv.keystatus.v1', ['active', 'revoked'] as const)
const apiKey = recordType('conv.apikey.v1', { name: lwwType, status, uses: gcounterType })
const keyMap = awMapType('conv.apikeys.v1', apiKey)
const FIELDS: Record<string, AnyCrdtType> = {
  usage: gcounterType,
  credits: pncounterType,
  plan: lwwType,
  agents: awsetType,
  keys: keyMap,
  escrow: boundedType,
  history: gmapType,
  tier: status,
}
const NAMES = Object.keys(FIELDS)
const N = 5
const IDS = Array.from({ length: N }, (_, i) => `r${i}`)

type Replica = Record<string, unknown>
interface Msg { to: number; field: string; bytes: Uint8Array }

function runScenario (seed: number, steps: number): void {
  const rnd = rng(seed)
  const int = (n: number) => Math.floor(rnd() * n)
  const reps: Replica[] = IDS.map(() => Object.fromEntries(NAMES.map((f) => [f, FIELDS[f]!.empty()])))
  let now = 1_000
  const clocks = IDS.map(() => new HlcClock(() => now))
  let inflight: Msg[] = []
  let partition: number[] | undefined // group id per replica while partitioned
  const expect = { usage: 0, credits: 0 }
  const grants = new Set<string>()

  const apply = (i: number, field: string, delta: unknown) => {
    reps[i]![field] = FIELDS[field]!.apply(reps[i]![field], delta)
  }
  const send = (from: number, field: string, delta: unknown) => {
    const t = FIELDS[field]!
    const bytes = encodeWith((w) => t.encodeDelta(w, delta))
    for (let to = 0; to < N; to++) if (to !== from) inflight.push({ to, field, bytes })
  }
  const local = (i: number, field: string, delta: unknown) => {
    apply(i, field, delta)
    send(i, field, delta)
  }
  const op = (i: number) => {
    const s = reps[i]!
    const me = IDS[i]!
    switch (int(9)) {
      case 0: { const n = 1 + int(50); expect.usage += n; local(i, 'usage', gcounterIncrement(s.usage as never, me, n)); break }
      case 1: { // a grant may be delivered to several replicas (webhook retries): counts once
        const key = `cs_${int(6)}`
        const amount = 100 * (1 + Number(key.slice(3)))
        if (!grants.has(key)) { grants.add(key); expect.credits += amount }
        local(i, 'credits', pnGrant(key, amount))
        break
      }
      case 2: { // spend under the replica id, or an adjustment under its own key
        const n = 1 + int(20)
        const spend = rnd() < 0.5
        expect.credits += spend ? -n : n
        local(i, 'credits', spend ? pnDecrementKey(s.credits as never, me, n) : pnIncrementKey(s.credits as never, `adj_${me}`, n))
        break
      }
      case 3: local(i, 'plan', lwwSet(['free', 'pro', 'team'][int(3)]!, clocks[i]!.now(), me)); break
      case 4: { const el = `agent${int(4)}`; local(i, 'agents', rnd() < 0.6 ? awsetAdd(s.agents as never, me, el) : awsetRemove(s.agents as never, el)); break }
      case 5: {
        const id = `k${int(3)}`
        const base = keyMap.valueState(s.keys as never, id)
        const r = int(4)
        if (r === 3) { local(i, 'keys', keyMap.remove(s.keys as never, id)); break }
        const nested = r === 0 ? { name: lwwSet(`n${int(9)}`, clocks[i]!.now(), me) } : r === 1 ? { status: status.raise(base.status, 'revoked') } : { uses: gcounterIncrement(base.uses, me, 1 + int(3)) }
        local(i, 'keys', keyMap.put(s.keys as never, me, id, nested))
        break
      }
      case 6: {
        const e = s.escrow as never
        const r = int(3)
        const n = 1 + int(10)
        try {
          if (r === 0) local(i, 'escrow', boundedIncrement(e, me, n))
          else if (r === 1) local(i, 'escrow', boundedDecrement(e, me, n))
          else local(i, 'escrow', boundedTransfer(e, me, IDS[(i + 1 + int(N - 1)) % N]!, n))
        } catch (err) {
          assert.ok(err instanceof CrdtError && err.code === 'insufficient_rights' && boundedRights(e, me) < n, String(err))
        }
        break
      }
      case 7: local(i, 'history', gmapPut(`evt${int(8)}`, { by: me, n: int(3) })); break
      default: local(i, 'tier', status.raise(s.tier as number, rnd() < 0.2 ? 'revoked' : 'active'))
    }
    now += int(3)
  }
  const deliver = () => {
    if (inflight.length === 0) return
    const k = int(inflight.length) // random pick = reordering
    const m = inflight[k]!
    inflight[k] = inflight[inflight.length - 1]!
    inflight.pop()
    if (rnd() < 0.15) return // dropped
    if (rnd() < 0.1) inflight.push(m) // duplicated: delivered again later
    const t = FIELDS[m.field]!
    apply(m.to, m.field, decodeWith(m.bytes, (r) => t.decodeDelta(r)))
  }

  for (let step = 0; step < steps; step++) {
    const x = rnd()
    if (x < 0.03) {
      // partition into two random groups: in-flight messages across groups are lost
      partition = IDS.map(() => int(2))
    } else if (x < 0.05) partition = undefined
    if (rnd() < 0.5) {
      const i = int(N)
      const before = inflight.length
      op(i)
      if (partition !== undefined) {
        const g = partition[i]
        inflight = inflight.filter((m, k) => k < before || partition![m.to] === g)
      }
    } else deliver()
    const e = reps[int(N)]!.escrow as never
    assert.ok(boundedType.value(e) >= 0, 'escrow below its bound')
  }

  // heal: every replica ships its full state (binary) to every other
  for (const f of NAMES) {
    const t = FIELDS[f]!
    const states = reps.map((r) => encodeWith((w) => t.encodeState(w, r[f])))
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < N; j++) if (i !== j) reps[i]![f] = t.merge(reps[i]![f], decodeWith(states[j]!, (r) => t.decodeState(r)))
    }
  }
  for (const f of NAMES) {
    const t = FIELDS[f]!
    for (let i = 1; i < N; i++) {
      assert.ok(t.equals(reps[i]![f], reps[0]![f]), `seed ${seed}: ${f} differs between r0 and r${i}\n${JSON.stringify(t.inspect(reps[0]![f]))}\n${JSON.stringify(t.inspect(reps[i]![f]))}`)
      assert.deepEqual(t.value(reps[i]![f]), t.value(reps[0]![f]))
    }
  }
  assert.equal(gcounterType.value(reps[0]!.usage as never), expect.usage, 'every usage increment counted exactly once')
  assert.equal(pncounterType.value(reps[0]!.credits as never), expect.credits, 'grants counted once cluster-wide, spends all counted')
}

test('convergence: 5 replicas, lossy/duplicating/reordering/partitioned network, then heal', () => {
  // Tests may read env for seeds (common rules); everything else gets config passed in.
  const fixed = process.env.FORMSTATE_SEED
  const base = fixed !== undefined ? Number(fixed) : Math.floor(Math.random() * 2 ** 31)
  const runs = fixed !== undefined ? 1 : 12
  console.log(`convergence seed ${base} (replay: FORMSTATE_SEED=${base})`)
  for (let k = 0; k < runs; k++) runScenario(base + k, 1_500)
})
