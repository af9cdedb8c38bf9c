/**
 * The per-row work of a boosting iteration (the gradients with the root's histograms, a split's
 * partition and one child's histograms, the leaf updates): WebAssembly compiled from
 * `kernels.wat`, which says what each function does. The module is compiled once a process and
 * instantiated on the fit's shared memory by each thread that runs a chunk (chunks.ts): every
 * argument is a byte offset into that memory, or a count.
 */
import { kernelsWasm } from "./kernels.wasm.js"

export interface Kernels {
  readonly gradients: (
    y: number, inverseOdds: number, grad: number, hess: number, partition: number,
    binned: number, features: number, binStride: number, lo: number, hi: number, sums: number, out: number, counts: number
  ) => void
  /** returns the end of the left rows */
  readonly splitRows: (
    binned: number, features: number, grad: number, hess: number, feature: number, leftBins: number,
    partition: number, scratch: number, start: number, stop: number, histogramsOf: number, binStride: number, out: number
  ) => number
  readonly applyLeaves: (
    inverseOdds: number, partition: number, ranges: number, factors: number, leaves: number, chunk: number, chunks: number
  ) => void
  /** prediction: packed trees (predictor.ts) added to out[from, to) */
  readonly addTrees: (
    count: number, start: number, leaf: number, feature: number, child: number, routes: number, value: number,
    binStride: number, binned: number, features: number, from: number, to: number, out: number
  ) => void
}

let compiled: WebAssembly.Module | null = null

/** The kernels' module (it can be sent to a worker thread, which instantiates it on the same memory). */
export const kernelsModule = (): WebAssembly.Module => (compiled ??= new WebAssembly.Module(Buffer.from(kernelsWasm, "base64")))

/** The kernels on `memory` (from kernelsMemory). */
export const instantiateKernels = (memory: WebAssembly.Memory): Kernels =>
  new WebAssembly.Instance(kernelsModule(), { env: { memory } }).exports as unknown as Kernels

/** WebAssembly's memory: 64 KiB pages, at most 65,536 of them (4 GiB). */
const PAGE = 65_536
const MAX_PAGES = 65_536

/** A shared memory of `bytes` bytes for the kernels, zeroed; null over WebAssembly's 4 GiB. */
export const kernelsMemory = (bytes: number): WebAssembly.Memory | null => {
  const pages = Math.max(1, Math.ceil(bytes / PAGE))
  return pages > MAX_PAGES ? null : new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true })
}

/** Places arrays end to end in a kernels' memory: `take(bytes)` is the next one's byte offset (8-byte aligned); `bytes` the total so far. */
export const offsets = () => {
  let at = 0
  return {
    take: (bytes: number): number => {
      const here = at
      at += Math.ceil(bytes / 8) * 8
      return here
    },
    get bytes() {
      return at
    }
  }
}
