/**
 * Stripe webhooks: offline signature verification (the `stripe` package's HMAC check, no
 * API key, no network) and verification's error mapping. What an event means for us is
 * in stripe-intents.ts.
 */
import Stripe from 'stripe'
import { FormStateError } from '../errors.ts'

export type StripeEvent = Stripe.Event

/** Default tolerance between the signed timestamp and now (Stripe's own default). */
export const DEFAULT_TOLERANCE_S = 300

/**
 * Verify a webhook's `Stripe-Signature` header over the raw body with the endpoint's
 * signing secret (`whsec_…`) and parse the event.
 *
 * `rawBody` must be the exact bytes received (a re-serialised JSON body never verifies).
 * A missing/garbled header, a wrong secret, a tampered body or a timestamp further than
 * `toleranceS` before `nowMs` (default: the clock) is `bad_signature` (400: Stripe retries, and the dashboard shows
 * the failure). A signed body that is not a JSON event is `invalid_json`. No configured
 * secret is `internal`: that is our misconfiguration, not the sender's fault.
 */
export function verifyStripeWebhook (rawBody: Buffer | string, signatureHeader: string | undefined, secret: string, toleranceS = DEFAULT_TOLERANCE_S, nowMs?: number): StripeEvent {
  // Stripe treats 0 as "skip the replay check": never do that by accident.
  if (!(toleranceS > 0)) throw new FormStateError('internal', 'the webhook tolerance must be positive')
  if (typeof secret !== 'string' || secret.length === 0) throw new FormStateError('internal', 'no Stripe webhook secret is configured')
  if (typeof signatureHeader !== 'string' || signatureHeader.length === 0) {
    throw new FormStateError('bad_signature', 'missing Stripe-Signature header', { field: 'stripe-signature' })
  }
  let event: StripeEvent
  try {
    // receivedAt (ms) makes the tolerance check testable without a fake clock.
    event = Stripe.webhooks.constructEvent(rawBody, signatureHeader, secret, toleranceS, undefined, nowMs)
  } catch (err) {
    if (err instanceof Stripe.errors.StripeSignatureVerificationError) {
      throw new FormStateError('bad_signature', `Stripe signature verification failed: ${err.message.split('\n')[0]}`, { field: 'stripe-signature', cause: err })
    }
    if (err instanceof SyntaxError) throw new FormStateError('invalid_json', 'the signed webhook body is not JSON', { cause: err })
    throw new FormStateError('bad_signature', `Stripe signature verification failed: ${(err as Error).message}`, { field: 'stripe-signature', cause: err })
  }
  const e = event as unknown as Record<string, unknown>
  const data = e.data as Record<string, unknown> | undefined
  if (typeof e.id !== 'string' || typeof e.type !== 'string' || !Number.isSafeInteger(e.created) || data === null || typeof data !== 'object' || data.object === null || typeof data.object !== 'object') {
    throw new FormStateError('invalid_request', 'the signed webhook body is not a Stripe event (id, type, created, data.object)')
  }
  return event
}
