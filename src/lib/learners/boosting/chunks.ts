/**
 * The training rows in chunks, each chunk's per-row work (kernels.wat) on its own thread.
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
import { instantiateKernels, kernelsMemory, kernelsModule, offsets, type Kernels } from "./kernels.js"
import { log1pexp, lossTerms, meanOf } from "./loss.js"
import { addPackedTrees, type PackedTrees } from "./predictor.js"
import { awaitWorker, PARALLEL_ROWS, shared, startWorker } from "./threads.js"

const OP_GRADIENTS = 1
const OP_SPLIT = 2
const OP_LEAVES = 3
const OP_STOP = 4
const OP_VALIDATE = 5

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

/** Where the kernels' arrays are in the fit's memory: byte offsets (kernels.wat). */
interface Layout {
  readonly y: number
  readonly binned: number
  /** per row, exp(−raw prediction), f64 */
  readonly inverseOdds: number
  /** per row, f32 */
  readonly grad: number
  readonly hess: number
  /** the rows, u32: a node's rows are a range of it in each chunk */
  readonly partition: number
  readonly scratch: number
  /** per chunk: the histograms it builds */
  readonly hist: ReadonlyArray<number>
  /** per bin, 1 when a split sends it left */
  readonly leftBins: number
  /** per leaf and chunk, its rows [start, stop) in the partition (i32) */
  readonly leafRanges: number
  /** per leaf, exp(−its value) (f64) */
  readonly leafFactors: number
  /** per chunk, two f64 out (the gradient sums) */
  readonly sums: number
  readonly bytes: number
}

const layout = (n: number, features: number, histBytes: number, binStride: number, maxLeaves: number, count: number): Layout => {
  const o = offsets()
  return {
    inverseOdds: o.take(8 * n),
    grad: o.take(4 * n),
    hess: o.take(4 * n),
    partition: o.take(4 * n),
    scratch: o.take(4 * n),
    hist: Array.from({ length: count }, () => o.take(histBytes)),
    leafFactors: o.take(8 * maxLeaves),
    sums: o.take(8 * 2 * count),
    leafRanges: o.take(4 * 2 * count * maxLeaves),
    leftBins: o.take(binStride),
    y: o.take(n),
    binned: o.take(n * features),
    bytes: o.bytes
  }
}

/** Per chunk, its rows [lo, hi) of `rows`: all of them, or the first half and the second. */
const chunkBounds = (rows: number, count: number): Int32Array => {
  const bounds = shared((b) => new Int32Array(b), 4 * 2 * count)
  const half = count === 2 ? rows >> 1 : rows
  bounds.set(count === 2 ? [0, half, half, rows] : [0, rows])
  return bounds
}

/**
 * Early stopping's held-out rows, in as many chunks as the training rows: after each tree,
 * each chunk's thread adds the tree to its rows' raw predictions and computes their losses
 * (the sum is then taken in row order: the same loss on one thread or two).
 */
interface ValidationState {
  /** per chunk: its rows [lo, hi) */
  readonly bounds: Int32Array
  /** row-major, as the training rows' */
  readonly binned: Uint8Array
  readonly y: Uint8Array
  readonly raw: Float64Array
  /** per row, its loss */
  readonly terms: Float64Array
  /** the tree to add, packed (predictor.ts) */
  readonly tree: PackedTrees
}

/** What the chunk threads' functions are given besides their state (the worker builds it from their sources). */
interface Helpers {
  readonly addPackedTrees: typeof addPackedTrees
  readonly lossTerms: typeof lossTerms
  readonly log1pexp: typeof log1pexp
}

const validationState = (rows: number, features: number, count: number, maxNodes: number, binStride: number): ValidationState => {
  return {
    bounds: chunkBounds(rows, count),
    binned: shared((b) => new Uint8Array(b, 0, rows * features), rows * features),
    y: shared((b) => new Uint8Array(b, 0, rows), rows),
    raw: shared((b) => new Float64Array(b), 8 * rows),
    terms: shared((b) => new Float64Array(b), 8 * rows),
    tree: {
      count: 1,
      start: shared((b) => new Int32Array(b), 8),
      leaf: shared((b) => new Uint8Array(b, 0, maxNodes), maxNodes),
      feature: shared((b) => new Int32Array(b), 4 * maxNodes),
      child: shared((b) => new Int32Array(b), 8 * maxNodes),
      routes: shared((b) => new Uint8Array(b, 0, maxNodes * binStride), maxNodes * binStride),
      value: shared((b) => new Float64Array(b), 8 * maxNodes)
    }
  }
}

/** What a chunk's thread sees: shared memory only (the worker gets a structured clone of it). */
interface ChunkState {
  readonly chunks: number
  readonly ctrl: Int32Array
  /** the operation's arguments */
  readonly args: Float64Array
  /** per chunk: [start, stop) of the node being split, in the partition */
  readonly ranges: Int32Array
  /** per chunk: the end of a split's left rows */
  readonly results: Int32Array
  /** per chunk: its rows [lo, hi) */
  readonly bounds: Int32Array
  readonly features: number
  readonly binStride: number
  readonly at: Layout
  readonly validation: ValidationState | null
}

/** Runs the requested operation on one chunk. Self-contained: the worker runs it from its source. */
function runOperation(s: ChunkState, chunk: number, k: Kernels, h: Helpers): void {
  const a = s.at
  const op = s.ctrl[2]
  if (op === 1) {
    k.gradients(
      a.y, a.inverseOdds, a.grad, a.hess, a.partition, a.binned, s.features, s.binStride,
      s.bounds[chunk * 2]!, s.bounds[chunk * 2 + 1]!, a.sums + chunk * 16, a.hist[chunk]!, s.args[0]!
    )
  } else if (op === 2) {
    s.results[chunk] = k.splitRows(
      a.binned, s.features, a.grad, a.hess, s.args[0]!, a.leftBins, a.partition, a.scratch,
      s.ranges[chunk * 2]!, s.ranges[chunk * 2 + 1]!, s.args[1]!, s.binStride, a.hist[chunk]!
    )
  } else if (op === 3) {
    k.applyLeaves(a.inverseOdds, a.partition, a.leafRanges, a.leafFactors, s.args[0]!, chunk, s.chunks)
  } else if (op === 5) {
    const v = s.validation!
    const lo = v.bounds[chunk * 2]!
    const hi = v.bounds[chunk * 2 + 1]!
    h.addPackedTrees(v.tree, s.binStride, v.binned, s.features, lo, hi, v.raw)
    h.lossTerms(v.y, v.raw, lo, hi, v.terms, h.log1pexp)
  }
}

/** The worker's loop: wait for a request, run it on chunk 1, say it is done. Self-contained. */
function serveChunk(s: ChunkState, k: Kernels, h: Helpers, run: typeof runOperation): void {
  let seq = 0
  // the calling thread may have given up waiting for this thread to start, and run chunk 1 itself
  if (Atomics.compareExchange(s.ctrl, 4, 0, 1) !== 0) return
  for (;;) {
    Atomics.wait(s.ctrl, 0, seq)
    seq = Atomics.load(s.ctrl, 0)
    if (s.ctrl[2] === 4) return
    try {
      run(s, 1, k, h)
    } catch (e) {
      s.ctrl[3] = 1
      console.error(e)
    }
    Atomics.store(s.ctrl, 1, seq)
    Atomics.notify(s.ctrl, 1)
  }
}

const helpers: Helpers = { addPackedTrees, lossTerms, log1pexp }

/** The worker: the kernels' module instantiated on the fit's memory, then the loop above. */
const workerSource = () =>
  [
    ...Object.entries(helpers).map(([name, fn]) => `const ${name} = ${fn.toString()};`),
    `const run = ${runOperation.toString()};`,
    `const serve = ${serveChunk.toString()};`,
    `const { workerData } = require("node:worker_threads");`,
    `const kernels = new WebAssembly.Instance(workerData.module, { env: { memory: workerData.memory } }).exports;`,
    `serve(workerData.state, kernels, { ${Object.keys(helpers).join(", ")} }, run);`
  ].join("\n")

/** The chunk the histograms of a split's child are built for: the left, the right, or neither. */
export type HistogramsOf = "left" | "right" | "none"

export interface Chunks {
  readonly count: number
  /** whether a worker thread runs chunk 1 */
  readonly parallel: boolean
  /** per row, its target (0/1): the caller fills it before the first operation */
  readonly y: Uint8Array
  /** row-major, row i's bin of feature f at i * features + f: the caller fills it before the first operation */
  readonly binned: Uint8Array
  /** per row, exp(−raw prediction) */
  readonly inverseOdds: Float64Array
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
  /**
   * Early stopping's held-out rows (makeChunks' `validationRows`): their targets and binned
   * features, filled by the caller before the first operation, and their raw predictions.
   */
  readonly validation: { readonly y: Uint8Array; readonly binned: Uint8Array; readonly raw: Float64Array } | null
  /** A packed tree (one) added to the held-out rows' raw predictions: their mean loss after it. */
  readonly validate: (tree: PackedTrees) => number
  readonly close: () => void
}

/**
 * The `n` rows of a fit in chunks, in one WebAssembly memory their threads share (at most
 * 4 GiB: about 29 + `features` bytes a row). `features` bins a row, `binStride` histogram slots
 * a feature; `maxLeaves` bounds the leaves per tree; `threads` (the machine's cores unless given)
 * above 1 lets a worker run chunk 1; `validationRows` held-out rows are scored after each tree.
 */
export const makeChunks = (
  n: number,
  features: number,
  binStride: number,
  maxLeaves: number,
  threads: number = availableParallelism(),
  validationRows = 0
): Chunks => {
  const count = n >= PARALLEL_ROWS ? 2 : 1
  const histSize = features * binStride * 3
  const at = layout(n, features, 8 * histSize, binStride, maxLeaves, count)
  const memory = kernelsMemory(at.bytes)
  if (memory === null) {
    throw new Error(
      `gradient boosting: ${n} rows of ${features} features need ${(at.bytes / 2 ** 30).toFixed(1)} GiB of working memory, over WebAssembly's 4 GiB: sample the rows`
    )
  }
  const kernels = instantiateKernels(memory)
  const buffer = memory.buffer
  const bounds = chunkBounds(n, count)
  const s: ChunkState = {
    chunks: count,
    ctrl: shared((b) => new Int32Array(b), 4 * 5),
    args: shared((b) => new Float64Array(b), 8 * 8),
    ranges: shared((b) => new Int32Array(b), 4 * 2 * count),
    results: shared((b) => new Int32Array(b), 4 * count),
    bounds,
    features,
    binStride,
    at,
    validation: validationRows === 0 ? null : validationState(validationRows, features, count, 2 * maxLeaves - 1, binStride)
  }
  const hist = at.hist.map((offset) => new Float64Array(buffer, offset, histSize))
  const sums = new Float64Array(buffer, at.sums, 2 * count)
  const leftBins = new Uint8Array(buffer, at.leftBins, binStride)
  const leafRanges = new Int32Array(buffer, at.leafRanges, 2 * count * maxLeaves)
  const leafFactors = new Float64Array(buffer, at.leafFactors, maxLeaves)
  let worker: Worker | null = count === 2 && threads >= 2
    ? startWorker(workerSource(), { state: s, memory, module: kernelsModule() })
    : null
  let seq = 0
  /** Runs the operation in ctrl[OP] on every chunk. */
  const run = () => {
    if (worker === null) {
      for (let c = 0; c < count; c++) runOperation(s, c, kernels, helpers)
      return
    }
    seq++
    Atomics.store(s.ctrl, SEQ, seq)
    Atomics.notify(s.ctrl, SEQ)
    runOperation(s, 0, kernels, helpers)
    if (!awaitWorker(s.ctrl, DONE, seq, READY, OPERATION_TIMEOUT_MS, "the worker thread")) {
      // the worker never started: this thread runs chunk 1, from now on
      stop()
      runOperation(s, 1, kernels, helpers)
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
  /** out = the chunks' histograms summed, bin by bin (chunk 0's + chunk 1's). */
  const combine = (out: Float64Array) => {
    out.set(hist[0]!)
    if (count === 1) return
    const other = hist[1]!
    for (let k = 0; k < out.length; k++) out[k] = out[k]! + other[k]!
  }
  const lefts = new Int32Array(count)
  let rootCounts: Float64Array | null = null

  return {
    count,
    get parallel() {
      return worker !== null
    },
    y: new Uint8Array(buffer, at.y, n),
    binned: new Uint8Array(buffer, at.binned, n * features),
    inverseOdds: new Float64Array(buffer, at.inverseOdds, n),
    bounds,
    gradients: (out) => {
      // the root's counts are the same every tree: summed the first time only
      s.args[0] = rootCounts === null ? 1 : 0
      s.ctrl[OP] = OP_GRADIENTS
      run()
      combine(out)
      if (rootCounts === null) {
        rootCounts = new Float64Array(histSize / 3)
        for (let k = 0; k < rootCounts.length; k++) rootCounts[k] = out[k * 3 + 2]!
      } else for (let k = 0; k < rootCounts.length; k++) out[k * 3 + 2] = rootCounts[k]!
      let sumG = 0
      let sumH = 0
      for (let c = 0; c < count; c++) {
        sumG += sums[c * 2]!
        sumH += sums[c * 2 + 1]!
      }
      return { sumG, sumH }
    },
    split: (ranges, split, histogramsOf, out) => {
      s.ranges.set(ranges)
      s.args[0] = split.feature
      leftBins.set(split.leftBins)
      s.args[1] = histogramsOf === "left" ? 0 : histogramsOf === "right" ? 1 : -1
      s.ctrl[OP] = OP_SPLIT
      run()
      if (out !== null && histogramsOf !== "none") combine(out)
      for (let c = 0; c < count; c++) lefts[c] = s.results[c]!
      return lefts
    },
    applyLeaves: (ranges, values, leaves) => {
      leafRanges.set(ranges.subarray(0, leaves * count * 2))
      for (let k = 0; k < leaves; k++) leafFactors[k] = Math.exp(-values[k]!)
      s.args[0] = leaves
      s.ctrl[OP] = OP_LEAVES
      run()
    },
    validation: s.validation === null ? null : { y: s.validation.y, binned: s.validation.binned, raw: s.validation.raw },
    validate: (tree) => {
      const v = s.validation
      if (v === null) throw new Error("gradient boosting: no validation rows to score")
      const t = v.tree
      const nodes = tree.value.length
      if (tree.count !== 1 || nodes > t.value.length) throw new Error(`gradient boosting: a tree of ${nodes} nodes, over ${t.value.length}`)
      t.start.set(tree.start)
      t.leaf.set(tree.leaf)
      t.feature.set(tree.feature)
      t.child.set(tree.child)
      t.routes.set(tree.routes)
      t.value.set(tree.value)
      s.ctrl[OP] = OP_VALIDATE
      run()
      return meanOf(v.terms)
    },
    close: stop
  }
}
