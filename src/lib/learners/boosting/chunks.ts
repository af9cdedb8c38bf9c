/**
 * The training rows in chunks, each chunk's per-row work (kernels.ts) on its own thread.
 *
 * Below PARALLEL_ROWS rows there is one chunk, and every sum is taken in row order, as
 * scikit-learn takes it. From PARALLEL_ROWS on there are two: the first half of the rows
 * and the second. A node's rows are then a range of the partition in each chunk, its
 * histograms the sum of the chunks' (chunk 0's + chunk 1's, bin by bin), and the results are
 * the same on any machine: the number of chunks depends on the rows alone, never on the cores.
 * With a second core, a worker thread runs chunk 1 while the calling thread runs chunk 0,
 * on shared memory; without one (or if the worker cannot start), the calling thread runs both.
 * The calling thread waits synchronously (Atomics.wait): the fit stays a plain function.
 */
import { availableParallelism } from "node:os"
import type { Worker } from "node:worker_threads"
import * as kernels from "./kernels.js"
import { awaitWorker, PARALLEL_ROWS, shared, startWorker } from "./threads.js"

const OP_GRADIENTS = 1
const OP_SPLIT = 2
const OP_LEAVES = 3
const OP_STOP = 4

/**
 * ctrl: [0] the request's sequence number, [1] the last one done, [2] the operation,
 * [3] 1 after a failure, [4] the worker's claim (threads.ts).
 */
const SEQ = 0
const DONE = 1
const OP = 2
const FAILED = 3
const READY = 4

/** How long a running worker may take over one operation before the fit fails. */
const OPERATION_TIMEOUT_MS = 120_000

/** What a chunk's thread sees: shared memory only (the worker gets a structured clone of it). */
interface ChunkState {
  readonly chunks: number
  readonly ctrl: Int32Array
  /** the operation's arguments */
  readonly args: Float64Array
  /** per chunk: [start, stop) of the node being split, in the partition */
  readonly ranges: Int32Array
  /** per chunk: two numbers out (gradient sums; the end of a split's left rows) */
  readonly results: Float64Array
  /** per chunk: its rows [lo, hi) */
  readonly bounds: Int32Array
  readonly y: Uint8Array
  /** per row, exp(−raw prediction) */
  readonly inverseOdds: Float64Array
  readonly grad: Float32Array
  readonly hess: Float32Array
  readonly partition: Uint32Array
  readonly scratch: Uint32Array
  /** row-major: row i's bin of feature f at i * features + f */
  readonly binned: Uint8Array
  readonly features: number
  readonly binStride: number
  /** per chunk: the histograms it builds (chunk 0's is replaced per call by the caller's) */
  readonly hist: Array<Float64Array>
  readonly leftBins: Uint8Array
  readonly leafRanges: Int32Array
  /** per leaf, exp(−its value) */
  readonly leafFactors: Float64Array
}

type Kernels = typeof kernels

/** Runs the requested operation on one chunk. Self-contained: the worker runs it from its source. */
function runOperation(s: ChunkState, chunk: number, k: Kernels): void {
  const lo = s.bounds[chunk * 2]!
  const hi = s.bounds[chunk * 2 + 1]!
  const op = s.ctrl[2]
  if (op === 1) {
    k.gradients(s.y, s.inverseOdds, s.grad, s.hess, s.partition, s.binned, s.features, s.binStride, lo, hi, s.results, chunk * 2, s.hist[chunk]!)
  } else if (op === 2) {
    const start = s.ranges[chunk * 2]!
    const stop = s.ranges[chunk * 2 + 1]!
    const histogramsOf = s.args[1]!
    s.results[chunk * 2] = k.splitRows(
      s.binned, s.features, s.grad, s.hess, s.args[0]!, s.leftBins, s.partition, s.scratch, start, stop,
      histogramsOf, s.binStride, s.hist[chunk]!
    )
  } else if (op === 3) {
    k.applyLeaves(s.inverseOdds, s.partition, s.leafRanges, s.leafFactors, s.args[0]!, chunk, s.chunks)
  }
}

/** The worker's loop: wait for a request, run it on chunk 1, say it is done. Self-contained. */
function serveChunk(s: ChunkState, k: Kernels, run: typeof runOperation): void {
  let seq = 0
  // the calling thread may have given up waiting for this thread to start, and run chunk 1 itself
  if (Atomics.compareExchange(s.ctrl, 4, 0, 1) !== 0) return
  for (;;) {
    Atomics.wait(s.ctrl, 0, seq)
    seq = Atomics.load(s.ctrl, 0)
    if (s.ctrl[2] === 4) return
    try {
      run(s, 1, k)
    } catch (e) {
      s.ctrl[3] = 1
      console.error(e)
    }
    Atomics.store(s.ctrl, 1, seq)
    Atomics.notify(s.ctrl, 1)
  }
}

const workerSource = () =>
  [
    ...Object.entries(kernels).map(([name, fn]) => `const ${name} = ${fn.toString()};`),
    `const run = ${runOperation.toString()};`,
    `const serve = ${serveChunk.toString()};`,
    `const { workerData } = require("node:worker_threads");`,
    `serve(workerData, { ${Object.keys(kernels).join(", ")} }, run);`
  ].join("\n")

/** The chunk the histograms of a split's child are built for: the left, the right, or neither. */
export type HistogramsOf = "left" | "right" | "none"

export interface Chunks {
  readonly count: number
  /** whether a worker thread runs chunk 1 */
  readonly parallel: boolean
  /** per row, exp(−raw prediction) */
  readonly inverseOdds: Float64Array
  readonly partition: Uint32Array
  /** per chunk: its rows [lo, hi) */
  readonly bounds: Int32Array
  /** Gradients and hessians at the raw predictions, every row back in the root: their sums, and the root's histograms in `out`. */
  readonly gradients: (out: Float64Array) => { readonly sumG: number; readonly sumH: number }
  /**
   * Partition a node's rows (per chunk, partition[ranges[2c], ranges[2c + 1])) at a split
   * (the bins marked in `leftBins` go left); the histograms of one child in `out`. Returns, per chunk, the end of the left rows.
   */
  readonly split: (
    ranges: Int32Array,
    split: { readonly feature: number; readonly leftBins: Uint8Array },
    histogramsOf: HistogramsOf,
    out: Float64Array | null
  ) => Int32Array
  /** Leaf k's value added to its rows (per chunk, ranges[(k * count + c) * 2 ...]). */
  readonly applyLeaves: (ranges: Int32Array, values: Float64Array, leaves: number) => void
  readonly close: () => void
}

/**
 * The rows of a fit in chunks, with the buffers their threads share. The targets `y` and the
 * binned features (row-major, `features` bins a row) must be in shared memory (sharedBytes); `maxLeaves` bounds the leaves per
 * tree; `threads` (the machine's cores unless given) above 1 lets a worker run chunk 1.
 */
export const makeChunks = (
  y: Uint8Array,
  binned: Uint8Array,
  features: number,
  binStride: number,
  maxLeaves: number,
  threads: number = availableParallelism()
): Chunks => {
  const n = y.length
  const count = n >= PARALLEL_ROWS ? 2 : 1
  const histSize = features * binStride * 3
  const bounds = new Int32Array(shared((b) => new Int32Array(b), 4 * 2 * count))
  const half = count === 2 ? n >> 1 : n
  bounds.set(count === 2 ? [0, half, half, n] : [0, n])
  const s: ChunkState = {
    chunks: count,
    ctrl: shared((b) => new Int32Array(b), 4 * 5),
    args: shared((b) => new Float64Array(b), 8 * 8),
    ranges: shared((b) => new Int32Array(b), 4 * 2 * count),
    results: shared((b) => new Float64Array(b), 8 * 2 * count),
    bounds,
    y,
    inverseOdds: shared((b) => new Float64Array(b), 8 * n),
    grad: shared((b) => new Float32Array(b), 4 * n),
    hess: shared((b) => new Float32Array(b), 4 * n),
    partition: shared((b) => new Uint32Array(b), 4 * n),
    scratch: shared((b) => new Uint32Array(b), 4 * n),
    binned,
    features,
    binStride,
    hist: Array.from({ length: count }, () => shared((b) => new Float64Array(b), 8 * histSize)),
    leftBins: shared((b) => new Uint8Array(b), binStride),
    leafRanges: shared((b) => new Int32Array(b), 4 * 2 * count * maxLeaves),
    leafFactors: shared((b) => new Float64Array(b), 8 * maxLeaves)
  }
  let worker: Worker | null = count === 2 && threads >= 2 ? startWorker(workerSource(), s) : null
  let seq = 0
  const chunk1Hist = count === 2 ? s.hist[1]! : null
  /** Runs the operation in ctrl[OP] on every chunk; chunk 0's histograms go to `out`. */
  const run = (out: Float64Array | null) => {
    if (out !== null) s.hist[0] = out
    if (worker === null) {
      for (let c = 0; c < count; c++) runOperation(s, c, kernels)
      return
    }
    seq++
    Atomics.store(s.ctrl, SEQ, seq)
    Atomics.notify(s.ctrl, SEQ)
    runOperation(s, 0, kernels)
    if (!awaitWorker(s.ctrl, DONE, seq, READY, OPERATION_TIMEOUT_MS, "the worker thread")) {
      // the worker never started: this thread runs chunk 1, from now on
      stop()
      runOperation(s, 1, kernels)
      return
    }
    if (s.ctrl[FAILED] === 1) throw new Error("gradient boosting: the worker thread failed (see the error above)")
  }
  const stop = () => {
    if (worker === null) return
    s.ctrl[OP] = OP_STOP
    Atomics.store(s.ctrl, SEQ, ++seq)
    Atomics.notify(s.ctrl, SEQ)
    void worker.terminate()
    worker = null
  }
  /** out += chunk 1's histograms (out holds chunk 0's). */
  const combine = (out: Float64Array) => {
    if (chunk1Hist === null) return
    for (let k = 0; k < out.length; k++) out[k] = out[k]! + chunk1Hist[k]!
  }
  const lefts = new Int32Array(count)

  return {
    count,
    get parallel() {
      return worker !== null
    },
    inverseOdds: s.inverseOdds,
    partition: s.partition,
    bounds,
    gradients: (out) => {
      s.ctrl[OP] = OP_GRADIENTS
      run(out)
      combine(out)
      let sumG = 0
      let sumH = 0
      for (let c = 0; c < count; c++) {
        sumG += s.results[c * 2]!
        sumH += s.results[c * 2 + 1]!
      }
      return { sumG, sumH }
    },
    split: (ranges, split, histogramsOf, out) => {
      s.ranges.set(ranges)
      s.args[0] = split.feature
      s.leftBins.set(split.leftBins)
      s.args[1] = histogramsOf === "left" ? 0 : histogramsOf === "right" ? 1 : -1
      s.ctrl[OP] = OP_SPLIT
      run(out)
      if (out !== null && histogramsOf !== "none") combine(out)
      for (let c = 0; c < count; c++) lefts[c] = s.results[c * 2]!
      return lefts
    },
    applyLeaves: (ranges, values, leaves) => {
      s.leafRanges.set(ranges.subarray(0, leaves * count * 2))
      for (let k = 0; k < leaves; k++) s.leafFactors[k] = Math.exp(-values[k]!)
      s.args[0] = leaves
      s.ctrl[OP] = OP_LEAVES
      run(null)
    },
    close: stop
  }
}
