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

/** The kernels on `memory` (shared: 64 KiB pages, at most 4 GiB). */
export const instantiateKernels = (memory: WebAssembly.Memory): Kernels =>
  new WebAssembly.Instance(kernelsModule(), { env: { memory } }).exports as unknown as Kernels
