/**
 * crdt/ is dependency-free, so it has its own error type; src/ maps its codes onto
 * FormStateError codes of the same name.
 */
export type CrdtErrorCode =
  | 'decode_truncated' // the input ended before the value did
  | 'decode_invalid' // a tag, length or value that no encoder produces
  | 'decode_oversized' // a length or count beyond the decoder's limits
  | 'invalid_delta' // a delta that cannot belong to this type
  | 'insufficient_rights' // bounded counter: a decrement beyond the replica's rights

export class CrdtError extends Error {
  readonly code: CrdtErrorCode
  constructor (code: CrdtErrorCode, message: string) {
    super(message)
    this.name = 'CrdtError'
    this.code = code
  }
}
