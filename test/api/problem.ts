// Assertions on problem+json answers shared by the API tests.
import assert from 'node:assert/strict'
import type { Reply } from './devnet-helpers.ts'

/** Asserts `r` is a problem+json answer with `status` and `code` (and `field` when given), without a stack. */
export function assertProblem (r: Reply, status: number, code: string, field?: string): void {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status}: ${r.text}`)
  assert.match(r.type, /^application\/problem\+json/, `content type of ${r.text}`)
  assert.equal(r.body?.code, code, r.text)
  assert.equal(r.body?.status, status)
  assert.equal(typeof r.body?.request_id, 'string')
  if (field !== undefined) assert.equal(r.body?.field, field, r.text)
  assert.doesNotMatch(r.text, /\.ts:\d+|\bat [A-Za-z_.]+ \(/, 'no stack trace in the answer')
}
