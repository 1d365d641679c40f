/** Mapping of crdt/ errors onto FormStateError, so callers above the store see one type. */
import { CrdtError } from '../../crdt/errors.ts'
import { FormStateError, type ErrorCode } from '../errors.ts'

/**
 * Wrap any error from decoding or applying a delta: CrdtError codes map to the
 * FormStateError code of the same name; FormStateErrors pass through; anything else
 * (a TypeError from a malformed in-memory delta) becomes `fallback`.
 */
export function toFormStateError (err: unknown, fallback: ErrorCode, context: string): FormStateError {
  if (err instanceof FormStateError) return err
  if (err instanceof CrdtError) return new FormStateError(err.code, `${context}: ${err.message}`, { cause: err })
  return new FormStateError(fallback, `${context}: ${(err as Error)?.message ?? String(err)}`, { cause: err })
}
