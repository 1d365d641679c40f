/**
 * Structural checks of an op (header, names, change list) and the codec's limits, shared
 * by the encoder and the decoder: a failed check is `invalid_op`.
 */
import { FormStateError } from '../errors.ts'
import type { Op } from './types.ts'

/** Limits checked on encode and decode. */
export const MAX_CHANGES = 1024
export const MAX_NAME = 1024
export const MAX_OPS = 100_000

/** Throws `invalid_op` with `msg`. */
export function bad (msg: string): never {
  throw new FormStateError('invalid_op', msg)
}

function checkName (what: string, s: unknown, max = MAX_NAME): void {
  if (typeof s !== 'string' || s.length === 0 || s.length > max) bad(`${what} must be a non-empty string of at most ${max} chars`)
  if (s.includes('\0')) bad(`${what} must not contain NUL`)
}

function checkUint (what: string, n: unknown, min = 0): void {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min) bad(`${what} must be an integer >= ${min}`)
}

/** Structural checks on an op's header and change list (not the deltas themselves). */
export function checkOpShape (op: Op): void {
  if (op === null || typeof op !== 'object') bad('op must be an object')
  checkName('origin', op.origin, 256)
  checkUint('seq', op.seq, 1)
  if (op.hlc === null || typeof op.hlc !== 'object') bad('hlc must be an object')
  checkUint('hlc.wall', op.hlc.wall)
  checkUint('hlc.logical', op.hlc.logical)
  checkUint('shard', op.shard)
  checkName('target', op.target)
  if (!Array.isArray(op.changes) || op.changes.length === 0 || op.changes.length > MAX_CHANGES) bad(`changes must hold 1..${MAX_CHANGES} entries`)
  for (const c of op.changes) {
    if (c === null || typeof c !== 'object') bad('change must be an object')
    checkName('change.field', c.field)
    checkName('change.kind', c.kind, 255)
  }
}
