/**
 * Per-replica retention horizons, shared by the horizon-bounded types (wcounter.ts,
 * hmap.ts). Each replica's horizon is its own max register; the *shared* horizon, which
 * drops every replica's data, is the second highest of them, so that no single replica
 * (say one whose clock runs hours or days ahead) can push it alone; a replica's own data
 * goes at max(its own horizon, the shared one). See wcounter.ts for why that rule.
 */

/**
 * The replica a key belongs to: `key` itself, or for a *copy* `name@replica` (an entry
 * several replicas may post for one event under a shared name, e.g. an idempotency key,
 * so that it counts once) the part after the last `@`. Replica ids never contain `@`.
 */
export function ownerOf (key: string): string {
  const at = key.lastIndexOf('@')
  return at < 0 ? key : key.slice(at + 1)
}

/** The name a key stands for: `name` for a copy `name@replica`, else the key itself. */
export function nameOf (key: string): string {
  const at = key.lastIndexOf('@')
  return at < 0 ? key : key.slice(0, at)
}

/**
 * The horizon one replica alone cannot push: the second highest of the per-replica
 * horizons `hs` (ties count twice), 0 when fewer than two. Monotone in every entry.
 */
export function sharedHorizon (hs: readonly number[]): number {
  let top = 0
  let second = 0
  for (const h of hs) {
    if (h > top) { second = top; top = h } else if (h > second) second = h
  }
  return second
}

/**
 * Merges two key-sorted runs of `[replica, horizon]` pairs, `a[x..xe)` and `b[y..ye)`, into
 * `keys` / `hs` (appended, key order), taking the max horizon of a replica in both.
 */
export function mergeHorizonPairs (a: readonly unknown[], x: number, xe: number, b: readonly unknown[], y: number, ye: number, keys: string[], hs: number[]): void {
  while (x < xe || y < ye) {
    const c = x >= xe ? 1 : y >= ye ? -1 : a[x] === b[y] ? 0 : (a[x] as string) < (b[y] as string) ? -1 : 1
    if (c < 0) { keys.push(a[x] as string); hs.push(a[x + 1] as number); x += 2 } else if (c > 0) { keys.push(b[y] as string); hs.push(b[y + 1] as number); y += 2 } else {
      keys.push(a[x] as string)
      hs.push(Math.max(a[x + 1] as number, b[y + 1] as number))
      x += 2
      y += 2
    }
  }
}
