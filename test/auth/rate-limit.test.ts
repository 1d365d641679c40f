// GCRA limiter with an injected clock: burst, refill, headers, eviction, bounded memory.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { GcraRateLimiter, rateLimitError, rateLimitHeaders } from '../../src/auth/rate-limit.ts'

const LIMIT = { ratePerSec: 10, burst: 5 } // one request per 100 ms, 5 at once

describe('GCRA limiter', () => {
  test('a burst is allowed, then refused; remaining counts down', () => {
    const rl = new GcraRateLimiter({ now: () => 0 })
    const remaining: number[] = []
    for (let i = 0; i < 5; i++) {
      const r = rl.check('k', LIMIT, 1, 1000)
      assert.equal(r.allowed, true)
      remaining.push(r.remaining)
    }
    assert.deepEqual(remaining, [4, 3, 2, 1, 0])
    const refused = rl.check('k', LIMIT, 1, 1000)
    assert.equal(refused.allowed, false)
    assert.equal(refused.remaining, 0)
    assert.equal(refused.retryAfterSeconds, 1) // 100 ms rounds up to a whole second
    // Refusals do not consume: still exactly one slot after 100 ms.
    for (let i = 0; i < 10; i++) rl.check('k', LIMIT, 1, 1000)
    assert.equal(rl.check('k', LIMIT, 1, 1100).allowed, true)
    assert.equal(rl.check('k', LIMIT, 1, 1100).allowed, false)
  })

  test('refills at the sustained rate', () => {
    const rl = new GcraRateLimiter()
    const t0 = 50_000
    for (let i = 0; i < 5; i++) rl.check('k', LIMIT, 1, t0)
    assert.equal(rl.check('k', LIMIT, 1, t0 + 99).allowed, false)
    assert.equal(rl.check('k', LIMIT, 1, t0 + 100).allowed, true)
    // After a full window the whole burst is back.
    const r = rl.check('k', LIMIT, 1, t0 + 10_000)
    assert.equal(r.allowed, true)
    assert.equal(r.remaining, 4)
    // Sustained: over 10 s at 10/s with requests every 10 ms, about 100 + burst pass.
    let allowed = 0
    const t1 = t0 + 20_000
    for (let t = t1; t < t1 + 10_000; t += 10) if (rl.check('s', LIMIT, 1, t).allowed) allowed++
    assert.ok(allowed >= 100 && allowed <= 106, `allowed ${allowed}`)
  })

  test('keys are independent; cost counts several units', () => {
    const rl = new GcraRateLimiter()
    assert.equal(rl.check('a', LIMIT, 5, 0).allowed, true)
    assert.equal(rl.check('a', LIMIT, 1, 0).allowed, false)
    assert.equal(rl.check('b', LIMIT, 1, 0).allowed, true)
    const partial = rl.check('c', LIMIT, 3, 0)
    assert.equal(partial.remaining, 2)
    const tooMuch = rl.check('c', LIMIT, 3, 0)
    assert.equal(tooMuch.allowed, false)
    assert.equal(tooMuch.remaining, 2)
    assert.throws(() => rl.check('c', LIMIT, 6, 0), RangeError)
    assert.throws(() => rl.check('c', { ratePerSec: 0, burst: 1 }), RangeError)
    assert.throws(() => rl.check('c', { ratePerSec: 1, burst: 0.5 }), RangeError)
  })

  test('slow rates: retry-after and reset in whole seconds', () => {
    const rl = new GcraRateLimiter()
    const perMinute = { ratePerSec: 1 / 60, burst: 2 }
    rl.check('m', perMinute, 1, 0)
    const second = rl.check('m', perMinute, 1, 0)
    assert.equal(second.resetSeconds, 120)
    const r = rl.check('m', perMinute, 1, 1000)
    assert.equal(r.allowed, false)
    assert.equal(r.retryAfterSeconds, 59)
    assert.equal(r.resetSeconds, 119)
  })

  test('headers: limit, remaining, reset; Retry-After and a 429 only on refusal', () => {
    const rl = new GcraRateLimiter()
    const ok = rl.check('h', { ratePerSec: 1, burst: 2 }, 1, 0)
    assert.deepEqual(rateLimitHeaders(ok), { 'X-RateLimit-Limit': '2', 'X-RateLimit-Remaining': '1', 'X-RateLimit-Reset': '1' })
    rl.check('h', { ratePerSec: 1, burst: 2 }, 1, 0)
    const no = rl.check('h', { ratePerSec: 1, burst: 2 }, 1, 0)
    assert.deepEqual(rateLimitHeaders(no), {
      'X-RateLimit-Limit': '2', 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': '2', 'Retry-After': '1',
    })
    const err = rateLimitError(no)
    assert.equal(err.code, 'rate_limited')
    assert.equal(err.status, 429)
    assert.equal(err.headers?.['Retry-After'], '1')
  })

  test('idle entries are evicted by the bounded sweep without changing any answer', () => {
    let now = 0
    const rl = new GcraRateLimiter({ now: () => now, sweepEvery: 8 })
    for (let i = 0; i < 1000; i++) rl.check(`k${i}`, LIMIT)
    assert.equal(rl.stats().size, 1000)
    now = 1000 // every TAT (<= 100 ms) is in the past: all idle
    for (let i = 0; i < 600; i++) rl.check('hot', LIMIT)
    assert.ok(rl.stats().size <= 2, `size ${rl.stats().size}`)
    assert.ok(rl.stats().evictedIdle >= 999)
    // An evicted key behaves like a fresh one, which is exactly what its state said.
    assert.equal(rl.check('k1', LIMIT).remaining, 4)
  })

  test('a live entry is never swept: eviction cannot grant extra requests', () => {
    let now = 0
    const rl = new GcraRateLimiter({ now: () => now, sweepEvery: 1, sweepBatch: 100 })
    for (let i = 0; i < 5; i++) rl.check('victim', LIMIT)
    for (let i = 0; i < 200; i++) rl.check(`other${i}`, LIMIT)
    assert.equal(rl.check('victim', LIMIT).allowed, false)
    now = 50
    assert.equal(rl.sweep(10_000), 0)
    assert.equal(rl.check('victim', LIMIT).allowed, false)
  })

  test('memory stays bounded with 100k distinct keys', () => {
    let now = 0
    const rl = new GcraRateLimiter({ now: () => now })
    let peak = 0
    // 100k distinct keys arriving at 100 per ms; each TAT lives 100 ms, so about
    // 10k are live at any moment and the sweep must keep up with the rest.
    for (let i = 0; i < 100_000; i++) {
      if (i % 100 === 0) now++
      rl.check(`flood:${i}`, LIMIT)
      peak = Math.max(peak, rl.stats().size)
    }
    assert.ok(peak < 30_000, `peak ${peak} entries`)
    assert.equal(rl.stats().evictedForced, 0)
  })

  test('the hard cap bounds memory even when every entry is live', () => {
    const rl = new GcraRateLimiter({ now: () => 0, maxKeys: 1000 })
    for (let i = 0; i < 100_000; i++) rl.check(`live:${i}`, { ratePerSec: 0.001, burst: 1 })
    assert.ok(rl.stats().size <= 1000)
    assert.equal(rl.stats().evictedForced, 99_000)
  })

  test('the background timer sweeps and does not hold the process open', async () => {
    let now = 0
    const rl = new GcraRateLimiter({ now: () => now, sweepIntervalMs: 5 })
    for (let i = 0; i < 50; i++) rl.check(`t${i}`, LIMIT)
    now = 10_000
    rl.start()
    await new Promise((resolve) => setTimeout(resolve, 30))
    rl.stop()
    assert.equal(rl.stats().size, 0)
  })
})
