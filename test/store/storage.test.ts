// One storage suite, run against every KvStore implementation (classic-level, memory-level, memory-kv).
import '../../src/polyfill.ts'
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { classicLevelKv, memoryLevelKv } from '../../src/store/level-kv.ts'
import { memoryKv } from '../../src/store/memory-kv.ts'
import { prefixEnd, prefixRange, utf8, type KvStore } from '../../src/store/storage.ts'

const td = new TextDecoder()
const s = (b: Uint8Array): string => td.decode(b)

async function collect (kv: KvStore, range: Parameters<KvStore['entries']>[0]): Promise<string[]> {
  const out: string[] = []
  for await (const [k, v] of kv.entries(range)) out.push(`${s(k)}=${s(v)}`)
  return out
}

const backends: Array<[string, () => { kv: KvStore; cleanup: () => void; reopen: () => KvStore }]> = [
  ['memory-level', () => {
    const kv = memoryLevelKv()
    return { kv, cleanup: () => {}, reopen: () => kv }
  }],
  ['memory-kv', () => {
    const kv = memoryKv()
    return { kv, cleanup: () => {}, reopen: () => kv }
  }],
  ['classic-level', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fs-kv-'))
    return { kv: classicLevelKv(dir), cleanup: () => rmSync(dir, { recursive: true, force: true }), reopen: () => classicLevelKv(dir) }
  }],
]

for (const [name, make] of backends) {
  describe(`KvStore: ${name}`, () => {
    let kv: KvStore
    let h: ReturnType<typeof make>
    before(async () => { h = make(); kv = h.kv; await kv.open() })
    after(async () => { await kv.close(); h.cleanup() })

    test('get of a missing key is undefined', async () => {
      assert.equal(await kv.get(utf8('nope')), undefined)
    })

    test('batch puts and deletes atomically, get sees them', async () => {
      await kv.batch([
        { type: 'put', key: utf8('a'), value: utf8('1') },
        { type: 'put', key: utf8('b'), value: utf8('2') },
      ], { sync: true })
      await kv.batch([{ type: 'del', key: utf8('a') }, { type: 'put', key: utf8('c'), value: utf8('3') }])
      assert.equal(await kv.get(utf8('a')), undefined)
      assert.equal(s((await kv.get(utf8('b')))!), '2')
      assert.equal(s((await kv.get(utf8('c')))!), '3')
      await kv.clear({})
    })

    test('iteration is ordered bytewise, honours bounds, limit and reverse', async () => {
      const keys = ['k/2', 'k/10', 'k/1', 'j', 'l', 'k/\u00ff', 'k/']
      await kv.batch(keys.map((k) => ({ type: 'put' as const, key: utf8(k), value: utf8(k.replace('k', 'K').replace('j', 'J').replace('l', 'L')) })))
      assert.deepEqual(await collect(kv, prefixRange(utf8('k/'))), ['k/=K/', 'k/1=K/1', 'k/10=K/10', 'k/2=K/2', 'k/\u00ff=K/\u00ff'])
      assert.deepEqual(await collect(kv, { gt: utf8('k/1'), lte: utf8('k/2') }), ['k/10=K/10', 'k/2=K/2'])
      assert.deepEqual(await collect(kv, { ...prefixRange(utf8('k/')), reverse: true, limit: 2 }), ['k/\u00ff=K/\u00ff', 'k/2=K/2'])
      assert.deepEqual(await collect(kv, { lt: utf8('k') }), ['j=J'])
      await kv.clear({})
    })

    test('chunks yields everything in bounded chunks', async () => {
      const n = 2500
      const writes = []
      for (let i = 0; i < n; i++) writes.push({ type: 'put' as const, key: utf8(`x/${String(i).padStart(5, '0')}`), value: utf8(String(i)) })
      await kv.batch(writes)
      let seen = 0
      let chunks = 0
      for await (const c of kv.chunks(prefixRange(utf8('x/')), 1000)) {
        assert.ok(c.length <= 1000)
        for (const [, v] of c) assert.equal(s(v), String(seen++))
        chunks++
      }
      assert.equal(seen, n)
      assert.equal(chunks, 3)
      let v = 0
      for await (const c of kv.valueChunks({ ...prefixRange(utf8('x/')), reverse: true }, 700)) {
        for (const value of c) assert.equal(s(value), String(n - 1 - v++))
      }
      assert.equal(v, n)
      await kv.clear({})
    })

    test('clear deletes exactly the range', async () => {
      await kv.batch(['a/1', 'a/2', 'b/1', 'b/2', 'c'].map((k) => ({ type: 'put' as const, key: utf8(k), value: utf8('v') })))
      await kv.clear(prefixRange(utf8('b/')))
      assert.deepEqual(await collect(kv, {}), ['a/1=v', 'a/2=v', 'c=v'])
      await kv.clear({ gt: utf8('a/1'), lt: utf8('c') })
      assert.deepEqual(await collect(kv, {}), ['a/1=v', 'c=v'])
      await kv.clear({})
      assert.deepEqual(await collect(kv, {}), [])
    })

    test('breaking out of an iteration closes it (a later close does not hang)', async () => {
      await kv.batch(['p/1', 'p/2', 'p/3'].map((k) => ({ type: 'put' as const, key: utf8(k), value: utf8('v') })))
      for await (const [k] of kv.entries(prefixRange(utf8('p/')))) { assert.equal(s(k), 'p/1'); break }
      await kv.clear({})
    })

    test('binary keys and values round-trip', async () => {
      const key = new Uint8Array([0, 255, 1, 0])
      const value = new Uint8Array([9, 0, 0, 255])
      await kv.batch([{ type: 'put', key, value }])
      assert.deepEqual([...(await kv.get(key))!], [...value])
      await kv.clear({})
    })

    test('every byte value orders bytewise, for keys that are views into a shared buffer', async () => {
      // Keys cut from one slab (as the log's are), written in a scrambled order.
      const slab = new Uint8Array(3 * 256 + 5)
      const writes = []
      for (let i = 0; i < 256; i++) {
        const b = (i * 167) & 0xff
        const key = slab.subarray(5 + 3 * i, 8 + 3 * i)
        key.set([0x7a, b, 0x80])
        writes.push({ type: 'put' as const, key, value: new Uint8Array([b]) })
      }
      await kv.batch(writes)
      const got: number[] = []
      for await (const [k, v] of kv.entries({ gte: new Uint8Array([0x7a]), lt: new Uint8Array([0x7b]) })) {
        assert.deepEqual([...k], [0x7a, v[0]!, 0x80])
        got.push(v[0]!)
      }
      assert.deepEqual(got, Array.from({ length: 256 }, (_, i) => i))
      assert.deepEqual([...(await kv.get(new Uint8Array([0x7a, 0x9f, 0x80])))!], [0x9f])
      await kv.clear({})
    })

    test('data survives close and reopen (persistent backends)', async () => {
      await kv.batch([{ type: 'put', key: utf8('keep'), value: utf8('me') }], { sync: true })
      if (!kv.persistent) return
      await kv.close()
      kv = h.reopen()
      await kv.open()
      assert.equal(s((await kv.get(utf8('keep')))!), 'me')
    })
  })
}

test('prefixEnd increments the last byte below 0xff', () => {
  assert.deepEqual([...prefixEnd(new Uint8Array([1, 2, 0xff]))!], [1, 3])
  assert.equal(prefixEnd(new Uint8Array([0xff, 0xff])), undefined)
})
