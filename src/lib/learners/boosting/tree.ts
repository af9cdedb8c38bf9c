/**
 * A fitted tree as flat, JSON-safe arrays (scikit-learn's `TreePredictor` nodes), in
 * depth-first pre-order (node, left subtree, right subtree), root at 0.
 *
 * Routing of a row at an internal node (as scikit-learn's `_predictor.pyx` on raw values):
 * - missing value (NaN, categorical code -1) → left iff `missingGoToLeft`;
 * - `split` 1 (numeric): x <= threshold → left;
 * - `split` 2 (categorical): code in `leftCategories` → left, any other code → right;
 * - `split` 3 (numeric, "split on nans": scikit-learn's threshold = +inf): present values → left.
 */
import type { FeatureColumn } from "./binning.js"

export const LEAF = 0
export const NUMERIC = 1
export const CATEGORICAL = 2
export const MISSING_ONLY = 3

export interface Tree {
  /** 0 leaf, 1 numeric, 2 categorical, 3 numeric split of present vs missing values */
  readonly split: ReadonlyArray<number>
  /** split feature, -1 at leaves */
  readonly feature: ReadonlyArray<number>
  /** numeric split threshold on raw values (x <= threshold goes left); 0 otherwise */
  readonly threshold: ReadonlyArray<number>
  readonly missingGoToLeft: ReadonlyArray<boolean>
  /** categorical splits: the category codes that go left (sorted); [] otherwise */
  readonly leftCategories: ReadonlyArray<ReadonlyArray<number>>
  /** child indices, -1 at leaves */
  readonly left: ReadonlyArray<number>
  readonly right: ReadonlyArray<number>
  /** leaf value (learning rate applied); 0 at internal nodes */
  readonly value: ReadonlyArray<number>
  /** training rows that reached the node (the cover TreeSHAP weighs with) */
  readonly cover: ReadonlyArray<number>
  /** split gain at internal nodes; 0 at leaves */
  readonly gain: ReadonlyArray<number>
}

/** A tree in typed arrays for the hot loops (prediction, TreeSHAP). */
export interface CompiledTree {
  readonly split: Uint8Array
  readonly feature: Int32Array
  readonly threshold: Float64Array
  readonly missingLeft: Uint8Array
  /** per node, offset into `categoryBits` (256 flags per categorical node), -1 otherwise */
  readonly categoryOffset: Int32Array
  readonly categoryBits: Uint8Array
  readonly left: Int32Array
  readonly right: Int32Array
  readonly value: Float64Array
  readonly cover: Float64Array
}

// a tree never changes once fitted: compiled once, kept while the tree object lives (a served
// model predicts on every request)
const compiled = new WeakMap<Tree, CompiledTree>()

/** The tree in typed arrays, compiled once per tree object. */
export const compiledTree = (tree: Tree): CompiledTree => {
  let c = compiled.get(tree)
  if (c === undefined) compiled.set(tree, c = compileTree(tree))
  return c
}

export const compileTree = (tree: Tree): CompiledTree => {
  const n = tree.split.length
  let categorical = 0
  for (let i = 0; i < n; i++) if (tree.split[i] === CATEGORICAL) categorical++
  const categoryBits = new Uint8Array(categorical * 256)
  const categoryOffset = new Int32Array(n).fill(-1)
  let next = 0
  for (let i = 0; i < n; i++) {
    if (tree.split[i] !== CATEGORICAL) continue
    categoryOffset[i] = next
    for (const c of tree.leftCategories[i]!) categoryBits[next + c] = 1
    next += 256
  }
  return {
    split: Uint8Array.from(tree.split),
    feature: Int32Array.from(tree.feature),
    threshold: Float64Array.from(tree.threshold),
    missingLeft: Uint8Array.from(tree.missingGoToLeft, (b) => (b ? 1 : 0)),
    categoryOffset,
    categoryBits,
    left: Int32Array.from(tree.left),
    right: Int32Array.from(tree.right),
    value: Float64Array.from(tree.value),
    cover: Float64Array.from(tree.cover)
  }
}

/** Does a row's value at an internal node go left? `x` is the raw value or the category code. */
export const goesLeft = (t: CompiledTree, node: number, x: number, categorical: boolean): boolean => {
  const split = t.split[node]!
  if (categorical) {
    if (x < 0 || x !== x) return t.missingLeft[node] === 1
    const offset = t.categoryOffset[node]!
    return x < 256 && t.categoryBits[offset + x] === 1
  }
  if (x !== x) return t.missingLeft[node] === 1
  return split === MISSING_ONLY || x <= t.threshold[node]!
}

/** Adds the tree's output to `out` for every row. */
export const addTreePredictions = (
  t: CompiledTree,
  features: ReadonlyArray<FeatureColumn>,
  rows: number,
  out: Float64Array,
  rowIndex?: Uint32Array
): void => {
  const numeric: Array<Float64Array | null> = features.map((f) => (f.kind === "numeric" ? f.values : null))
  const codes: Array<Int32Array | null> = features.map((f) => (f.kind === "categorical" ? f.codes : null))
  const { split, feature, threshold, missingLeft, categoryOffset, categoryBits, left, right, value } = t
  for (let i = 0; i < rows; i++) {
    const r = rowIndex === undefined ? i : rowIndex[i]!
    let node = 0
    let s = split[0]!
    while (s !== LEAF) {
      const f = feature[node]!
      const col = numeric[f]
      let goLeft: boolean
      if (col !== null && col !== undefined) {
        const x = col[r]!
        goLeft = x !== x ? missingLeft[node] === 1 : s === MISSING_ONLY || x <= threshold[node]!
      } else {
        const c = codes[f]![r]!
        goLeft = c < 0 ? missingLeft[node] === 1 : c < 256 && categoryBits[categoryOffset[node]! + c] === 1
      }
      node = goLeft ? left[node]! : right[node]!
      s = split[node]!
    }
    out[i] = out[i]! + value[node]!
  }
}
