/**
 * Product combinator: `recordType(kind, { field: type, … })`. The state is an object of
 * sub-states, a delta a partial object of sub-deltas; every law holds field by field.
 * Fields are encoded by position in declaration order, so a record's field list is part
 * of its kind: append fields only under a new kind tag.
 */
import type { Reader, Writer } from './codec.ts'
import { CrdtError } from './errors.ts'
import type { AnyCrdtType, CrdtType } from './types.ts'

export type FieldTypes = Record<string, AnyCrdtType>
type StateOf<T> = T extends CrdtType<infer S, any, any> ? S : never
type DeltaOf<T> = T extends CrdtType<any, infer D, any> ? D : never
type ValueOf<T> = T extends CrdtType<any, any, infer V> ? V : never

export type RecordState<F extends FieldTypes> = { [K in keyof F]: StateOf<F[K]> }
export type RecordDelta<F extends FieldTypes> = { [K in keyof F]?: DeltaOf<F[K]> }
export type RecordValue<F extends FieldTypes> = { [K in keyof F]: ValueOf<F[K]> }

export interface RecordType<F extends FieldTypes> extends CrdtType<RecordState<F>, RecordDelta<F>, RecordValue<F>> {
  readonly fields: Readonly<F>
}

const RESERVED = new Set(['__proto__', 'constructor', 'prototype'])

/** A record type over `fields` (at least one; names must not be `__proto__` and the like). */
export function recordType<F extends FieldTypes> (kind: string, fields: F): RecordType<F> {
  const names = Object.keys(fields) as Array<keyof F & string>
  if (names.length === 0 || names.some((n) => RESERVED.has(n))) throw new CrdtError('invalid_delta', `record ${kind}: bad field list`)
  const types = names.map((n) => fields[n]!)
  type S = RecordState<F>
  type D = RecordDelta<F>
  // Every record object starts as a copy of this template so that all its fields live
  // in-object: `{}` plus n assignments keeps only 4 in-object and moves the rest to a
  // separate property array (+40 bytes per record state past 4 fields, held per entity).
  // A spread copy of a JSON.parse'd object has exactly n in-object fields.
  const template = JSON.parse(JSON.stringify(Object.fromEntries(names.map((n) => [n, null])))) as Record<string, unknown>
  const build = (fn: (t: AnyCrdtType, name: keyof F & string) => unknown): any => {
    const o: Record<string, unknown> = { ...template }
    for (let i = 0; i < names.length; i++) o[names[i]!] = fn(types[i]!, names[i]!)
    return o
  }
  const read = (r: Reader): S => build((t) => t.decodeState(r))
  return {
    kind,
    fields,
    empty: () => build((t) => t.empty()),
    clone: (s) => build((t, n) => t.clone(s[n])),
    merge (a, b) {
      for (let i = 0; i < names.length; i++) {
        const n = names[i]!
        a[n] = types[i]!.merge(a[n], b[n])
      }
      return a
    },
    apply (s, d) {
      for (let i = 0; i < names.length; i++) {
        const n = names[i]!
        if (d[n] !== undefined) s[n] = types[i]!.apply(s[n], d[n])
      }
      return s
    },
    deltaState: (d: D) => build((t, n) => (d[n] !== undefined ? t.deltaState(d[n]) : t.empty())),
    value: (s) => build((t, n) => t.value(s[n])),
    equals (a, b) {
      for (let i = 0; i < names.length; i++) if (!types[i]!.equals(a[names[i]!], b[names[i]!])) return false
      return true
    },
    encodeState (w: Writer, s) {
      for (let i = 0; i < names.length; i++) types[i]!.encodeState(w, s[names[i]!])
    },
    decodeState: read,
    encodeDelta (w: Writer, d) {
      let count = 0
      for (const n of names) if (d[n] !== undefined) count++
      w.uint(count)
      for (let i = 0; i < names.length; i++) {
        const sub = d[names[i]!]
        if (sub !== undefined) { w.uint(i); types[i]!.encodeDelta(w, sub) }
      }
    },
    decodeDelta (r: Reader) {
      const count = r.count(names.length)
      const d: Record<string, unknown> = {}
      let prev = -1
      for (let k = 0; k < count; k++) {
        const i = r.uint()
        if (i <= prev || i >= names.length) throw new CrdtError('decode_invalid', `bad field index ${i} in ${kind}`)
        d[names[i]!] = types[i]!.decodeDelta(r)
        prev = i
      }
      return d as D
    },
    inspect: (s) => build((t, n) => t.inspect(s[n])),
  }
}
