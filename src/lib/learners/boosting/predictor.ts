/**
 * Raw predictions of many rows at once: the rows binned once with the model's binning
 * (row-major, one byte a feature), each tree routed by a table of the bins each node sends
 * left, the rows taken in blocks that stay in cache while every tree runs over them. From
 * WASM_ROWS rows on, in WebAssembly (kernels.wat's addTrees, about twice as fast as the same walk in
 * JavaScript, which predicts smaller batches); from PARALLEL_ROWS rows on, a one-shot worker
 * thread predicts the second half of the rows on the same memory while the calling thread
 * predicts the first (each row's sum is the same).
 *
 * The routing is the same as on raw values (tree.ts): a value is at most a node's threshold
 * exactly when its bin is at most the threshold's bin (thresholds are the binning's own); a
 * missing value is in the missing bin and goes where the node sends missing values; a category
 * the training never saw goes right. A model whose thresholds are not all its binning's (none
 * that this learner writes) is predicted on raw values instead.
 */
import { availableParallelism } from "node:os"
import { binColumn, columnLength, type FeatureBinning, type FeatureColumn } from "./binning.js"
import { instantiateKernels, kernelsMemory, kernelsModule, offsets, type Kernels } from "./kernels.js"
import { awaitWorker, PARALLEL_ROWS, shared, startWorker } from "./threads.js"
import { CATEGORICAL, compiledTree, LEAF, MISSING_ONLY, type Tree } from "./tree.js"

/**
 * Trees packed for routing by bins, their nodes end to end (tree t's root is node start[t]):
 * node k sends a row with bin b of feature[k] to node child[2k + routes[k * binStride + b]]
 * (routes: 1 left, 0 right); a leaf (leaf[k] = 1) is its own child, on feature 0.
 */
export interface PackedTrees {
  readonly count: number
  readonly start: Int32Array
  readonly leaf: Uint8Array
  readonly feature: Int32Array
  readonly child: Int32Array
  readonly routes: Uint8Array
  readonly value: Float64Array
}

/** What the routing needs of a model. */
export interface RoutableModel {
  readonly features: ReadonlyArray<FeatureBinning>
  readonly trees: ReadonlyArray<Tree>
  readonly settings: { readonly max_bins: number }
}

/** A tree's table of the bins each node sends left (binStride flags a node). */
export type Routes = Uint8Array

/** Trees and their routes packed. */
export const packTrees = (trees: ReadonlyArray<Tree>, routes: ReadonlyArray<Routes>, binStride: number): PackedTrees => {
  const start = new Int32Array(trees.length + 1)
  trees.forEach((t, i) => {
    start[i + 1] = start[i]! + t.split.length
  })
  const nodes = start[trees.length]!
  const memory = <A>(make: (b: ArrayBuffer) => A, bytes: number) => make(new ArrayBuffer(bytes))
  const packed: PackedTrees = {
    count: trees.length,
    start: memory((b) => new Int32Array(b), 4 * (trees.length + 1)),
    leaf: memory((b) => new Uint8Array(b, 0, nodes), nodes),
    feature: memory((b) => new Int32Array(b, 0, nodes), 4 * nodes),
    child: memory((b) => new Int32Array(b, 0, 2 * nodes), 8 * nodes),
    routes: memory((b) => new Uint8Array(b, 0, nodes * binStride), nodes * binStride),
    value: memory((b) => new Float64Array(b, 0, nodes), 8 * nodes)
  }
  packed.start.set(start)
  trees.forEach((tree, t) => {
    const c = compiledTree(tree)
    const o = start[t]!
    packed.routes.set(routes[t]!, o * binStride)
    for (let k = 0; k < c.split.length; k++) {
      const isLeaf = c.split[k] === LEAF
      packed.leaf[o + k] = isLeaf ? 1 : 0
      packed.feature[o + k] = isLeaf ? 0 : c.feature[k]!
      packed.child[2 * (o + k)] = o + (isLeaf ? k : c.right[k]!)
      packed.child[2 * (o + k) + 1] = o + (isLeaf ? k : c.left[k]!)
      packed.value[o + k] = c.value[k]!
    }
  })
  return packed
}

/**
 * Adds the packed trees' outputs to out[from, to) for binned rows (row i's bins at
 * i * features), in blocks of 4096 rows that stay in cache while every tree runs over them.
 * Four rows walk down together, each step without a branch (a node's route picks the child's
 * index; a leaf is its own child): the four lookups of a step do not wait on each other, as the
 * steps of one row's walk do. Self-contained: a worker thread runs it from its source text.
 */
export function addPackedTrees(
  trees: PackedTrees,
  binStride: number,
  binned: Uint8Array,
  features: number,
  from: number,
  to: number,
  out: Float64Array
): void {
  const { count, start, leaf, feature, child, routes, value } = trees
  for (let block = from; block < to; block += 4096) {
    const end = Math.min(to, block + 4096)
    for (let t = 0; t < count; t++) {
      const root = start[t]!
      let i = block
      for (let a0 = block * features; i + 4 <= end; i += 4, a0 += 4 * features) {
        const a1 = a0 + features
        const a2 = a1 + features
        const a3 = a2 + features
        let k0 = root
        let k1 = root
        let k2 = root
        let k3 = root
        while ((leaf[k0]! & leaf[k1]! & leaf[k2]! & leaf[k3]!) === 0) {
          k0 = child[2 * k0 + routes[k0 * binStride + binned[a0 + feature[k0]!]!]!]!
          k1 = child[2 * k1 + routes[k1 * binStride + binned[a1 + feature[k1]!]!]!]!
          k2 = child[2 * k2 + routes[k2 * binStride + binned[a2 + feature[k2]!]!]!]!
          k3 = child[2 * k3 + routes[k3 * binStride + binned[a3 + feature[k3]!]!]!]!
        }
        out[i] = out[i]! + value[k0]!
        out[i + 1] = out[i + 1]! + value[k1]!
        out[i + 2] = out[i + 2]! + value[k2]!
        out[i + 3] = out[i + 3]! + value[k3]!
      }
      for (let at = i * features; i < end; i++, at += features) {
        let k = root
        while (leaf[k] === 0) k = child[2 * k + routes[k * binStride + binned[at + feature[k]!]!]!]!
        out[i] = out[i]! + value[k]!
      }
    }
  }
}

/** A tree's routing tables, or null when a numeric threshold is not one of its binning's. */
export const routeTree = (tree: Tree, binnings: ReadonlyArray<FeatureBinning>, maxBins: number): Routes | null => {
  const c = compiledTree(tree)
  const binStride = maxBins + 1
  const nodes = c.split.length
  const routes = new Uint8Array(nodes * binStride)
  for (let k = 0; k < nodes; k++) {
    const kind = c.split[k]!
    if (kind === LEAF) continue
    const at = k * binStride
    const binning = binnings[c.feature[k]!]!
    if (kind === CATEGORICAL) {
      for (const code of tree.leftCategories[k]!) if (code >= 0 && code < maxBins) routes[at + code] = 1
    } else {
      if (binning.kind !== "numeric") return null
      const thresholds = binning.thresholds
      // the bins at most the threshold's: all present values for a split of present vs missing
      let last = thresholds.length
      if (kind !== MISSING_ONLY) {
        last = thresholds.indexOf(c.threshold[k]!)
        if (last < 0) return null
      }
      routes.fill(1, at, at + last + 1)
    }
    routes[at + maxBins] = c.missingLeft[k]!
  }
  return routes
}

// a model never changes once fitted: its trees are packed once, kept while
// the model object lives
const packed = new WeakMap<RoutableModel, PackedTrees | null>()

const packedOf = (model: RoutableModel): PackedTrees | null => {
  if (!packed.has(model)) {
    const routes: Array<Routes> = []
    for (const tree of model.trees) {
      const r = routeTree(tree, model.features, model.settings.max_bins)
      if (r === null) break
      routes.push(r)
    }
    packed.set(model, routes.length < model.trees.length ? null : packTrees(model.trees, routes, model.settings.max_bins + 1))
  }
  return packed.get(model)!
}

/**
 * Category codes as bins: a missing one (−1) in the missing bin; one the training never saw
 * (≥ cardinality) goes right at every node, as on raw values, so in bin `cardinality`, which
 * no node sends left. False when there is no such bin (cardinality = maxBins) and it is needed.
 */
const binCodes = (codes: Int32Array, cardinality: number, rows: number, maxBins: number, out: Uint8Array): boolean => {
  for (let i = 0; i < rows; i++) {
    const c = codes[i]!
    if (c >= 0 && c < cardinality) out[i] = c
    else if (c < 0) out[i] = maxBins
    else if (cardinality < maxBins) out[i] = cardinality
    else return false
  }
  return true
}

/** How long a started one-shot worker may take over its half. */
const RUN_TIMEOUT_MS = 300_000

/** From this many rows on, a batch is predicted in WebAssembly (kernels.wat's addTrees); below, in JavaScript. */
export const WASM_ROWS = 4096

/**
 * kernels.addTrees over rows [from, to) in slices of 16,384 rows (args: its arguments but the
 * rows). V8 replaces a WebAssembly function's first, quickly compiled code by optimised code
 * only between calls, never during one: one call over half a million rows ran its first code
 * throughout, 3 to 5 times slower. Self-contained: the one-shot worker runs it from its source.
 */
function addSliced(k: Pick<Kernels, "addTrees">, args: ReadonlyArray<number>, from: number, to: number): void {
  for (let a = from; a < to; a += 16_384) {
    k.addTrees(args[0]!, args[1]!, args[2]!, args[3]!, args[4]!, args[5]!, args[6]!, args[7]!, args[8]!, args[9]!, a, Math.min(to, a + 16_384), args[10]!)
  }
}

/** The one-shot worker: the kernels instantiated on the batch's memory, its half of the rows. */
const workerSource = () =>
  [
    `const addSliced = ${addSliced.toString()};`,
    `const { workerData: d } = require("node:worker_threads");`,
    // ctrl[0]: this thread's claim (threads.ts); ctrl[1]: 1 when done
    `if (Atomics.compareExchange(d.ctrl, 0, 0, 1) === 0) {`,
    `  const k = new WebAssembly.Instance(d.module, { env: { memory: d.memory } }).exports;`,
    `  addSliced(k, d.args, d.from, d.to);`,
    `  Atomics.store(d.ctrl, 1, 1); Atomics.notify(d.ctrl, 1);`,
    `}`
  ].join("\n")

/**
 * The trees' raw predictions for rows [0, rows) in WebAssembly: the packed trees, the binned
 * rows and their sums in one memory of their own; from PARALLEL_ROWS rows on, with a second
 * core, a one-shot worker thread adds the trees to the second half of the rows. Null when the
 * batch does not fit in WebAssembly's 4 GiB.
 */
const addInWasm = (trees: PackedTrees, binStride: number, features: number, rows: number, fill: (binned: Uint8Array) => boolean, baseline: number): Float64Array | null => {
  const nodes = trees.value.length
  const place = offsets()
  const o = {
    value: place.take(8 * nodes), out: place.take(8 * rows), start: place.take(4 * (trees.count + 1)),
    feature: place.take(4 * nodes), child: place.take(8 * nodes), leaf: place.take(nodes),
    routes: place.take(nodes * binStride), binned: place.take(rows * features)
  }
  const memory = kernelsMemory(place.bytes)
  if (memory === null) return null
  const buffer = memory.buffer
  if (!fill(new Uint8Array(buffer, o.binned, rows * features))) return null
  new Float64Array(buffer, o.value, nodes).set(trees.value)
  new Int32Array(buffer, o.start, trees.count + 1).set(trees.start)
  new Int32Array(buffer, o.feature, nodes).set(trees.feature)
  new Int32Array(buffer, o.child, 2 * nodes).set(trees.child)
  new Uint8Array(buffer, o.leaf, nodes).set(trees.leaf)
  new Uint8Array(buffer, o.routes, nodes * binStride).set(trees.routes)
  const out = new Float64Array(buffer, o.out, rows)
  out.fill(baseline)
  const kernels = instantiateKernels(memory)
  const args = [trees.count, o.start, o.leaf, o.feature, o.child, o.routes, o.value, binStride, o.binned, features, o.out]
  const half = rows >> 1
  const ctrl = shared((b) => new Int32Array(b), 8)
  const worker = rows >= PARALLEL_ROWS && availableParallelism() >= 2
    ? startWorker(workerSource(), { ctrl, module: kernelsModule(), memory, args, from: half, to: rows })
    : null
  if (worker === null) addSliced(kernels, args, 0, rows)
  else {
    try {
      addSliced(kernels, args, 0, half)
      // the worker never started: this thread does the second half
      if (!awaitWorker(ctrl, 1, 1, 0, RUN_TIMEOUT_MS, "the prediction thread")) addSliced(kernels, args, half, rows)
    } finally {
      void worker.terminate()
    }
  }
  // the callers' array in memory of its own
  return out.slice()
}

/**
 * The trees' raw predictions for rows [0, rows), through the bins, starting from `baseline`;
 * null when the model cannot be routed by bins.
 */
export const predictBinned = (model: RoutableModel & { readonly baseline: number }, features: ReadonlyArray<FeatureColumn>, rows: number): Float64Array | null => {
  const trees = packedOf(model)
  if (trees === null) return null
  const p = features.length
  const maxBins = model.settings.max_bins
  const fill = (binned: Uint8Array) => {
    // a column may be longer than `rows`: its first `rows` are read
    const column = new Uint8Array(Math.max(rows, ...features.map(columnLength)))
    for (let j = 0; j < p; j++) {
      const f = features[j]!
      if (f.kind === "numeric") binColumn(f, model.features[j]!, maxBins, undefined, column)
      else if (!binCodes(f.codes, f.cardinality, rows, maxBins, column)) return false
      for (let i = 0, at = j; i < rows; i++, at += p) binned[at] = column[i]!
    }
    return true
  }
  if (rows >= WASM_ROWS) return addInWasm(trees, maxBins + 1, p, rows, fill, model.baseline)
  const binned = new Uint8Array(rows * p)
  if (!fill(binned)) return null
  const out = new Float64Array(rows).fill(model.baseline)
  addPackedTrees(trees, maxBins + 1, binned, p, 0, rows, out)
  return out
}
