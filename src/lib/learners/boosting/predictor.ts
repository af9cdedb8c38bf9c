/**
 * Raw predictions of many rows at once: the rows binned once with the model's binning
 * (row-major, one byte a feature), each tree routed by a table of the bins each node sends
 * left, the rows taken in blocks that stay in cache while every tree runs over them.
 *
 * The routing is the same as on raw values (tree.ts): a value is at most a node's threshold
 * exactly when its bin is at most the threshold's bin (thresholds are the binning's own); a
 * missing value is in the missing bin and goes where the node sends missing values; a category
 * the training never saw goes right. A model whose thresholds are not all its binning's (none
 * that this learner writes) is predicted on raw values instead.
 */
import { binColumn, columnLength, type FeatureBinning, type FeatureColumn } from "./binning.js"
import { CATEGORICAL, type CompiledTree, compiledTree, LEAF, MISSING_ONLY, type Tree } from "./tree.js"

/**
 * A tree's nodes for routing by bins: node k sends a row with bin b of feature[k] to
 * child[2k + routes[k * binStride + b]] (routes: 1 left, 0 right); a leaf (leaf[k] = 1) is
 * its own child, on feature 0.
 */
export interface RoutedTree {
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

/** The routed form of a tree's compiled nodes and their tables of the bins that go left. */
export const routedTree = (c: CompiledTree, routes: Uint8Array): RoutedTree => {
  const nodes = c.split.length
  const leaf = new Uint8Array(nodes)
  const feature = new Int32Array(nodes)
  const child = new Int32Array(nodes * 2)
  for (let k = 0; k < nodes; k++) {
    const isLeaf = c.split[k] === LEAF
    leaf[k] = isLeaf ? 1 : 0
    feature[k] = isLeaf ? 0 : c.feature[k]!
    child[2 * k] = isLeaf ? k : c.right[k]!
    child[2 * k + 1] = isLeaf ? k : c.left[k]!
  }
  return { leaf, feature, child, routes, value: c.value }
}

/**
 * Adds a routed tree's output to out[from, to) for binned rows (row i's bins at i * features).
 * Four rows walk down together, each step without a branch (a node's route picks the child's
 * index; a leaf is its own child): the four lookups of a step do not wait on each other, as
 * the steps of one row's walk do.
 */
const addRoutedTree = (
  t: RoutedTree,
  binStride: number,
  binned: Uint8Array,
  features: number,
  from: number,
  to: number,
  out: Float64Array
): void => {
  const { feature, child, routes, leaf, value } = t
  let i = from
  for (let a0 = from * features; i + 4 <= to; i += 4, a0 += 4 * features) {
    const a1 = a0 + features
    const a2 = a1 + features
    const a3 = a2 + features
    let k0 = 0
    let k1 = 0
    let k2 = 0
    let k3 = 0
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
  for (let at = i * features; i < to; i++, at += features) {
    let k = 0
    while (leaf[k] === 0) k = child[2 * k + routes[k * binStride + binned[at + feature[k]!]!]!]!
    out[i] = out[i]! + value[k]!
  }
}

/** A tree's routing tables, or null when a numeric threshold is not one of its binning's. */
export const routeTree = (tree: Tree, binnings: ReadonlyArray<FeatureBinning>, maxBins: number): RoutedTree | null => {
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
  return routedTree(c, routes)
}

// a model never changes once fitted: its trees are routed once, kept while the model object lives
const routed = new WeakMap<RoutableModel, ReadonlyArray<RoutedTree> | null>()

const routesOf = (model: RoutableModel): ReadonlyArray<RoutedTree> | null => {
  if (!routed.has(model)) {
    const trees: Array<RoutedTree> = []
    for (const tree of model.trees) {
      const t = routeTree(tree, model.features, model.settings.max_bins)
      if (t === null) {
        routed.set(model, null)
        return null
      }
      trees.push(t)
    }
    routed.set(model, trees)
  }
  return routed.get(model)!
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

/** Rows taken together through every tree: their bins (BLOCK × features bytes) stay in cache. */
const BLOCK = 4096

/**
 * Adds every tree's output to out[0, rows) through the bins; false (nothing added) when the
 * model cannot be routed by bins.
 */
export const addBinnedPredictions = (model: RoutableModel, features: ReadonlyArray<FeatureColumn>, rows: number, out: Float64Array): boolean => {
  const trees = routesOf(model)
  if (trees === null) return false
  const p = features.length
  const maxBins = model.settings.max_bins
  const binned = new Uint8Array(rows * p)
  // a column may be longer than `rows`: its first `rows` are read
  const column = new Uint8Array(Math.max(rows, ...features.map(columnLength)))
  for (let j = 0; j < p; j++) {
    const f = features[j]!
    if (f.kind === "numeric") binColumn(f, model.features[j]!, maxBins, undefined, column)
    else if (!binCodes(f.codes, f.cardinality, rows, maxBins, column)) return false
    for (let i = 0, at = j; i < rows; i++, at += p) binned[at] = column[i]!
  }
  addRoutedTrees(trees, maxBins + 1, binned, p, out)
  return true
}

/** Adds the routed trees' outputs to `out` for its rows (binned, row-major), in blocks of rows. */
export const addRoutedTrees = (trees: ReadonlyArray<RoutedTree>, binStride: number, binned: Uint8Array, features: number, out: Float64Array): void => {
  const rows = out.length
  for (let from = 0; from < rows; from += BLOCK) {
    const to = Math.min(rows, from + BLOCK)
    for (const t of trees) addRoutedTree(t, binStride, binned, features, from, to, out)
  }
}
