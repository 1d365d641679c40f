/**
 * Seeds for randomised tests: one environment variable, FORMSTATE_SEED, replays any of
 * them; every test prints the seed it used so a failure can be replayed exactly.
 */

/** FORMSTATE_SEED when set, else a random seed; printed with `label`. */
export function testSeed (label: string): number {
  const fixed = process.env.FORMSTATE_SEED
  const seed = fixed !== undefined && fixed !== '' ? Number(fixed) : Math.floor(Math.random() * 2 ** 31)
  console.log(`${label}: seed ${seed} (replay with FORMSTATE_SEED=${seed})`)
  return seed
}

/** Seeded PRNG (mulberry32): uniform in [0, 1). */
export function rng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
