/** Binary search over ascending string arrays (entity keys, latin1 KV keys). */

/** Index of the first element of `keys` (ascending) that is not below `k`. */
export function lowerBound (keys: readonly string[], k: string): number {
  let lo = 0
  let hi = keys.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (keys[mid]! < k) lo = mid + 1
    else hi = mid
  }
  return lo
}
