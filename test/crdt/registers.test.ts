import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { decodeWith, encodeWith, Writer } from '../../crdt/codec.ts'
import { CrdtError } from '../../crdt/errors.ts'
import { statusLatticeType } from '../../crdt/lattice.ts'
import { type Lww, lwwSet, lwwType } from '../../crdt/lww.ts'
import { checkValue, compareValues, decodeValue, encodeValue, MAX_VALUE_DEPTH, type Value, valueBytes, valueEquals } from '../../crdt/value-codec.ts'
import { hlcArb, valueArb } from './arbitraries.ts'
import { assertDecodeError, checkLaws, replicaArb } from './laws.ts'

const isCode = (code: string) => (e: unknown) => e instanceof CrdtError && e.code === code

const lwwDelta = fc.tuple(valueArb, hlcArb, replicaArb).map(([v, t, r]) => lwwSet(v, t, r))
const lwwState: fc.Arbitrary<Lww> = fc.array(lwwDelta, { maxLength: 4 }).map((ds) => ds.reduce((s, d) => lwwType.apply(s, d), lwwType.empty()))
checkLaws(lwwType, lwwState, lwwDelta, { lengthPrefixed: false })

const keyStatus = statusLatticeType('keystatus.v1', ['active', 'suspended', 'revoked'] as const)
const statusArb = fc.constantFrom('active', 'suspended', 'revoked' as const)
const latticeState = fc.array(statusArb, { maxLength: 3 }).map((xs) => xs.reduce((s, x) => keyStatus.apply(s, keyStatus.raise(s, x)), keyStatus.empty()))
checkLaws(keyStatus, latticeState, fc.tuple(latticeState, statusArb).map(([s, x]) => keyStatus.raise(s, x)), { lengthPrefixed: false })

test('value codec: decode(encode(v)) is v, and encoding is canonical', () => {
  fc.assert(fc.property(valueArb, (v) => {
    const b = valueBytes(v)
    const back = decodeWith(b, decodeValue)
    assert.ok(valueEquals(back, v))
    assert.deepEqual(valueBytes(back), b)
    assert.equal(compareValues(back, v), 0)
  }), { numRuns: 300 })
})

test('value codec: key order and -0 are canonical; integers are compact', () => {
  assert.deepEqual(valueBytes({ b: 1, a: 2 }), valueBytes({ a: 2, b: 1 }))
  assert.notDeepEqual(valueBytes(0), valueBytes(-0))
  assert.ok(Object.is(decodeWith(valueBytes(-0), decodeValue), -0))
  assert.equal(valueBytes(42).length, 2)
  assert.equal(valueBytes(1.5).length, 9)
  const proto = decodeWith(valueBytes(JSON.parse('{"__proto__": 1}')), decodeValue) as Record<string, Value>
  assert.equal(Object.getPrototypeOf(proto), Object.prototype, '__proto__ is a member, not a prototype')
  assert.deepEqual(Object.keys(proto), ['__proto__'])
})

test('value codec: non-values are invalid_delta', () => {
  const deep: Value[] = []
  let cur = deep
  for (let i = 0; i <= MAX_VALUE_DEPTH; i++) { const next: Value[] = []; cur.push(next); cur = next }
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  for (const bad of [undefined, Number.NaN, Infinity, () => 1, new Date(0), new Map(), { a: undefined }, Symbol('x'), 10n, deep, cyclic]) {
    assert.throws(() => checkValue(bad), isCode('invalid_delta'), String(bad))
  }
})

test('value codec: non-canonical or malicious bytes are refused with decode codes', () => {
  const codes = (c: string) => new Set([c])
  const dec = (b: Uint8Array) => decodeWith(b, decodeValue)
  assertDecodeError(() => dec(Uint8Array.of(9)), codes('decode_invalid')) // unknown tag
  assertDecodeError(() => dec(encodeWith((w) => w.u8(4).f64(3))), codes('decode_invalid')) // integer as f64
  assertDecodeError(() => dec(encodeWith((w) => w.u8(4).f64(Infinity))), codes('decode_invalid'))
  assertDecodeError(() => dec(encodeWith((w) => w.u8(8).uint(2).string('b').u8(0).string('a').u8(0))), codes('decode_invalid'))
  assertDecodeError(() => dec(encodeWith((w) => w.u8(8).uint(2).string('a').u8(0).string('a').u8(0))), codes('decode_invalid'))
  assertDecodeError(() => dec(encodeWith((w) => w.u8(7).uint(2 ** 40))), codes('decode_oversized'))
  assertDecodeError(() => dec(encodeWith((w) => w.u8(5).uint(2 ** 30))), codes('decode_oversized'))
  assertDecodeError(() => dec(new Uint8Array(10_000).fill(7).map((x, i) => (i % 2 ? 1 : x))), codes('decode_oversized')) // [[[[…]]]] nesting
  assertDecodeError(() => dec(Uint8Array.of(5, 2, 0xff, 0xfe)), codes('decode_invalid')) // bad UTF-8
  assertDecodeError(() => dec(Uint8Array.of(5, 3, 0x61)), codes('decode_truncated'))
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
    try {
      const v = dec(b)
      checkValue(v)
    } catch (e) {
      assert.ok(e instanceof CrdtError && e.code.startsWith('decode_'), String(e))
    }
  }), { numRuns: 500 })
  fc.assert(fc.property(valueArb, fc.nat(), (v, cut) => {
    const b = valueBytes(v)
    assertDecodeError(() => dec(b.subarray(0, cut % b.length)))
  }), { numRuns: 300 })
})

test('lww: a later timestamp wins regardless of arrival order', () => {
  const old = lwwSet('pro', { wall: 100, logical: 0 }, 'rb')
  const newer = lwwSet('free', { wall: 200, logical: 0 }, 'ra')
  const a = lwwType.apply(lwwType.apply(lwwType.empty(), old), newer)
  const b = lwwType.apply(lwwType.apply(lwwType.empty(), newer), old) // the stale event arrives late
  assert.equal(lwwType.value(a), 'free')
  assert.equal(lwwType.value(b), 'free')
})

test('lww: ties on time break by replica id, then by value bytes', () => {
  const t = { wall: 5, logical: 1 }
  const x = lwwSet('x', t, 'ra')
  const y = lwwSet('y', t, 'rb')
  assert.equal(lwwType.value(lwwType.apply(lwwType.apply(lwwType.empty(), y), x)), 'y')
  assert.equal(lwwType.value(lwwType.apply(lwwType.apply(lwwType.empty(), x), y)), 'y')
  // same (t, r), different values: the larger encoding wins on every replica
  const p = lwwSet({ plan: 'a' }, t, 'ra')
  const q = lwwSet({ plan: 'b' }, t, 'ra')
  const one = lwwType.apply(lwwType.apply(lwwType.empty(), p), q)
  const two = lwwType.apply(lwwType.apply(lwwType.empty(), q), p)
  assert.ok(lwwType.equals(one, two))
  assert.deepEqual(lwwType.value(one), { plan: 'b' })
})

test('lww: timestamps of every size keep their exact time, order and bytes (packed and wide stamps)', () => {
  // Walls around the packing limits (2^20 ms, 2^50) and logical counters around 2^10.
  const wallArb = fc.oneof(fc.constantFrom(0, 2 ** 20 - 1, 2 ** 20, 1_760_000_000_000, 2 ** 50 - 1, 2 ** 50, Number.MAX_SAFE_INTEGER), fc.nat({ max: Number.MAX_SAFE_INTEGER }))
  const logicalArb = fc.oneof(fc.constantFrom(0, 1, 1023, 1024, 2 ** 31), fc.nat())
  const tArb = fc.record({ wall: wallArb, logical: logicalArb })
  fc.assert(fc.property(tArb, tArb, replicaArb, (t1, t2, r) => {
    const a = lwwSet('a', t1, r)
    const b = lwwSet('b', t2, r)
    assert.deepEqual({ wall: a.t.wall, logical: a.t.logical, r: a.r }, { ...t1, r })
    const bytes = encodeWith((w) => lwwType.encodeState(w, a))
    const plain = new Writer().uint(t1.wall).uint(t1.logical).string(r)
    encodeValue(plain, 'a')
    assert.deepEqual(bytes, plain.finish(), 'the encoding is (wall, logical, replica, value)')
    const back = decodeWith(bytes, (x) => lwwType.decodeState(x))
    assert.ok(lwwType.equals(back, a))
    const order = t1.wall !== t2.wall ? t1.wall - t2.wall : t1.logical - t2.logical
    const winner = lwwType.value(lwwType.merge(lwwType.clone(a), b))
    assert.equal(winner, order > 0 ? 'a' : 'b') // equal times: 'b' wins on value bytes
  }), { numRuns: 300 })
})

test('lww: bad values and timestamps are invalid_delta', () => {
  assert.throws(() => lwwSet(Number.NaN, { wall: 1, logical: 0 }, 'ra'), isCode('invalid_delta'))
  assert.throws(() => lwwSet(1, { wall: -1, logical: 0 }, 'ra'), isCode('invalid_delta'))
  assert.throws(() => lwwSet(1, { wall: 1.5, logical: 0 }, 'ra'), isCode('invalid_delta'))
})

test('lattice: revoked wins over a concurrent active/suspend, unknown statuses refused', () => {
  let a = keyStatus.empty()
  let b = keyStatus.empty()
  const revoke = keyStatus.raise(a, 'revoked')
  a = keyStatus.apply(a, revoke)
  const suspend = keyStatus.raise(b, 'suspended')
  b = keyStatus.apply(b, suspend)
  a = keyStatus.apply(a, suspend)
  b = keyStatus.apply(b, revoke)
  assert.equal(keyStatus.value(a), 'revoked')
  assert.equal(keyStatus.value(b), 'revoked')
  assert.equal(keyStatus.raise(a, 'active'), a, 'raising to a lower status is a no-op')
  assert.throws(() => keyStatus.raise(a, 'deleted' as 'active'), isCode('invalid_delta'))
  assert.throws(() => statusLatticeType('x', ['a', 'a']), isCode('invalid_delta'))
  assertDecodeError(() => decodeWith(encodeWith((w) => w.uint(3)), (r) => keyStatus.decodeState(r)), new Set(['decode_invalid']))
})

test('codec: writer refuses non-integers, reader refuses overlong varints', () => {
  assert.throws(() => new Writer().uint(-1), isCode('invalid_delta'))
  assertDecodeError(() => decodeWith(new Uint8Array(9).fill(0x80), (r) => r.uint()), new Set(['decode_invalid']))
  assert.equal(decodeWith(encodeWith((w) => w.int(-123456789)), (r) => r.int()), -123456789)
  void encodeValue
})

test('codec: strings round-trip (ASCII fast path, multi-byte and long ones alike)', () => {
  fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ minLength: 30, maxLength: 80 })), (s) => {
    assert.equal(decodeWith(encodeWith((w) => w.string(s)), (r) => r.string()), s)
  }), { numRuns: 300 })
  assertDecodeError(() => decodeWith(Uint8Array.of(3, 0x61, 0xc3, 0x28), (r) => r.string()), new Set(['decode_invalid']))
})
