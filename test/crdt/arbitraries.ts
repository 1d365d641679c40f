// fast-check generators shared by the crdt tests.
import fc from 'fast-check'
import type { Hlc } from '../../crdt/hlc.ts'
import type { Value } from '../../crdt/value-codec.ts'

/** JSON-like values including bytes, -0 and awkward keys. */
export const valueArb: fc.Arbitrary<Value> = fc.letrec<{ v: Value }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ maxLength: 6 }),
    fc.uint8Array({ maxLength: 6 }),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom('__proto__', 'constructor')), tie('v'), { maxKeys: 3, noNullPrototype: true }),
  ),
})).v

/** Timestamps from a small range, so ties on (t, r) happen. */
export const hlcArb: fc.Arbitrary<Hlc> = fc.record({ wall: fc.integer({ min: 0, max: 3 }), logical: fc.integer({ min: 0, max: 2 }) })
