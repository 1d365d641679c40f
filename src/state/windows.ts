/**
 * Time windows for usage and consumption counters: minute, hour and day buckets, each
 * kept for a retention period. A bucket is `floor(ms / size)`, the same on every node, so
 * two nodes counting in the same window increment the same bucket. `slot` is the
 * resolution's slot in a windowed counter (crdt/wcounter.ts): wire format, never reorder.
 */
export const RESOLUTIONS = {
  minute: { code: 'm', slot: 0, sizeMs: 60_000, retention: 120 }, // two hours of minutes
  hour: { code: 'h', slot: 1, sizeMs: 3_600_000, retention: 24 * 7 }, // a week of hours
  day: { code: 'd', slot: 2, sizeMs: 86_400_000, retention: 90 }, // ninety days
} as const

export type Resolution = keyof typeof RESOLUTIONS
export const RESOLUTION_NAMES = Object.keys(RESOLUTIONS) as Resolution[]

const BY_CODE = new Map(RESOLUTION_NAMES.map((r) => [RESOLUTIONS[r].code as string, r]))

export function bucketOf (res: Resolution, ms: number): number {
  return Math.floor(ms / RESOLUTIONS[res].sizeMs)
}

export function bucketStart (res: Resolution, bucket: number): number {
  return bucket * RESOLUTIONS[res].sizeMs
}

export function resolutionOfCode (code: string): Resolution | undefined {
  return BY_CODE.get(code)
}

/** True while a bucket is inside its retention period at time `now`. */
export function retained (res: Resolution, bucket: number, now: number): boolean {
  return bucket > bucketOf(res, now) - RESOLUTIONS[res].retention
}

/**
 * The oldest bucket retained at time `now` (the horizon of a windowed counter): buckets
 * below it are dropped. Matches {@link retained}.
 */
export function horizonOf (res: Resolution, now: number): number {
  return Math.max(0, bucketOf(res, now) - RESOLUTIONS[res].retention + 1)
}
