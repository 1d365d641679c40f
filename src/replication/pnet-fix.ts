/**
 * Work-around for a memory leak that crashes a node: xsalsa20@1.2.0 (the stream cipher
 * of @libp2p/pnet, i.e. of every cluster connection) keeps, per cipher instance, a
 * Uint8Array view of one shared WebAssembly memory. When one instance grows that memory
 * (any chunk over ~640 KB: a sync frame, a snapshot chunk), every other instance's view
 * is detached (length 0), so each of them "grows" the memory again by its whole working
 * size on its next chunk. With two or more connections the memory climbs to the module's
 * 1000-page maximum within a few hundred chunks and the process dies with
 * `RangeError: WebAssembly.Memory.grow(): Maximum memory size exceeded` (seen in
 * bench:cluster after a 100k-account snapshot; reproduced in test/cluster/pnet-fix.test.ts).
 *
 * The fix refreshes a detached view before each update. Imported for its side effect by
 * host.ts; idempotent.
 */
import { createRequire } from 'node:module'

interface WasmXor { _memory?: Uint8Array }
interface XSalsa20Instance { _xor: WasmXor | null, update (input: Uint8Array, output?: Uint8Array): Uint8Array, finalize (): void }
interface XSalsa20Ctor {
  new (nonce: Uint8Array, key: Uint8Array): XSalsa20Instance
  prototype: XSalsa20Instance & { __formStateFixed?: boolean }
}

/** The xsalsa20 module exactly as @libp2p/pnet loads it (same CommonJS cache entry). */
function loadXSalsa20 (): XSalsa20Ctor {
  const fromPnet = createRequire(createRequire(import.meta.url).resolve('@libp2p/pnet'))
  return fromPnet('xsalsa20') as XSalsa20Ctor
}

/** Patches xsalsa20's update so a detached memory view is replaced by a live one. */
export function fixXSalsa20 (XSalsa20: XSalsa20Ctor = loadXSalsa20()): void {
  const proto = XSalsa20.prototype
  if (proto.__formStateFixed === true) return
  const update = proto.update
  const zeros24 = new Uint8Array(24)
  const zeros32 = new Uint8Array(32)
  proto.update = function (this: XSalsa20Instance, input: Uint8Array, output?: Uint8Array): Uint8Array {
    const w = this._xor
    if (w?._memory !== undefined && w._memory.byteLength === 0) {
      // A fresh instance's view is of the current buffer; finalize returns its slot.
      const probe = new XSalsa20(zeros24, zeros32)
      const live = probe._xor?._memory
      probe.finalize()
      if (live !== undefined) w._memory = new Uint8Array(live.buffer)
    }
    return update.call(this, input, output)
  }
  proto.__formStateFixed = true
}

fixXSalsa20()
