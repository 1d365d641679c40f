/**
 * A simulated link for convergence tests: ops are sent into flight and delivered late, out of
 * order and sometimes twice (a delivered op stays in flight with probability 0.3), then
 * everything left is delivered in random order on heal. Driven by the test's seeded PRNG.
 */
import type { Op, ReplicaStore } from '../../src/store/types.ts'

export class LossyLink {
  private readonly inFlight: Array<{ to: ReplicaStore, op: Op }> = []

  constructor (private readonly rand: () => number) {}

  send (to: ReplicaStore, op: Op): void {
    this.inFlight.push({ to, op })
  }

  /** With probability 0.4, deliver one random op in flight (and keep it for a duplicate 30% of the time). */
  async maybeDeliver (): Promise<void> {
    if (this.rand() >= 0.4 || this.inFlight.length === 0) return
    const k = Math.floor(this.rand() * this.inFlight.length)
    const m = this.inFlight[k]!
    await m.to.applyRemote([m.op])
    if (this.rand() < 0.7) this.inFlight.splice(k, 1)
  }

  /** Deliver everything still in flight, in random order. */
  async heal (): Promise<void> {
    const rest = this.inFlight.splice(0)
    rest.sort(() => this.rand() - 0.5)
    for (const m of rest) await m.to.applyRemote([m.op])
  }
}
