/**
 * Exact path-dependent TreeSHAP (Lundberg, Erion & Lee 2018, Algorithm 2; the recursion of
 * the `shap` package's `tree_shap.h`) over the flat trees of a boosted model. A feature's
 * absent branch is weighted by the training covers; the "hot" child is the one the row goes
 * to (for categorical splits: whether its code is in the left set; missing values follow
 * `missingGoToLeft`). Per row: base + Σ contributions = the model's raw log-odds.
 */
import type { BoostedModel, FeatureColumn } from "./boosting/boosting.js"
import { compiledTree, goesLeft, LEAF, type CompiledTree } from "./boosting/tree.js"

interface PathBuffers {
  feature: Int32Array
  zero: Float64Array
  one: Float64Array
  weight: Float64Array
}

const extendPath = (p: PathBuffers, at: number, depth: number, zero: number, one: number, feature: number) => {
  p.feature[at + depth] = feature
  p.zero[at + depth] = zero
  p.one[at + depth] = one
  p.weight[at + depth] = depth === 0 ? 1 : 0
  for (let i = depth - 1; i >= 0; i--) {
    p.weight[at + i + 1] = p.weight[at + i + 1]! + (one * p.weight[at + i]! * (i + 1)) / (depth + 1)
    p.weight[at + i] = (zero * p.weight[at + i]! * (depth - i)) / (depth + 1)
  }
}

const unwindPath = (p: PathBuffers, at: number, depth: number, index: number) => {
  const one = p.one[at + index]!
  const zero = p.zero[at + index]!
  let nextOne = p.weight[at + depth]!
  for (let i = depth - 1; i >= 0; i--) {
    if (one !== 0) {
      const tmp = p.weight[at + i]!
      p.weight[at + i] = (nextOne * (depth + 1)) / ((i + 1) * one)
      nextOne = tmp - (p.weight[at + i]! * zero * (depth - i)) / (depth + 1)
    } else {
      p.weight[at + i] = (p.weight[at + i]! * (depth + 1)) / (zero * (depth - i))
    }
  }
  for (let i = index; i < depth; i++) {
    p.feature[at + i] = p.feature[at + i + 1]!
    p.zero[at + i] = p.zero[at + i + 1]!
    p.one[at + i] = p.one[at + i + 1]!
  }
}

const unwoundPathSum = (p: PathBuffers, at: number, depth: number, index: number): number => {
  const one = p.one[at + index]!
  const zero = p.zero[at + index]!
  let nextOne = p.weight[at + depth]!
  let total = 0
  for (let i = depth - 1; i >= 0; i--) {
    if (one !== 0) {
      const tmp = (nextOne * (depth + 1)) / ((i + 1) * one)
      total += tmp
      nextOne = p.weight[at + i]! - tmp * zero * ((depth - i) / (depth + 1))
    } else if (zero !== 0) {
      total += p.weight[at + i]! / zero / ((depth - i) / (depth + 1))
    }
  }
  return total
}

const treeDepth = (t: CompiledTree, node: number): number =>
  t.split[node] === LEAF ? 0 : 1 + Math.max(treeDepth(t, t.left[node]!), treeDepth(t, t.right[node]!))

/** Expected tree output under the cover weights (the tree's share of the base value). */
export const expectedTreeValue = (t: CompiledTree): number => {
  let s = 0
  for (let i = 0; i < t.split.length; i++) if (t.split[i] === LEAF) s += t.value[i]! * t.cover[i]!
  return s / t.cover[0]!
}

interface RowState {
  t: CompiledTree
  /** the row's raw value (numeric) or code (categorical) per feature */
  readonly x: Float64Array
  readonly categorical: Uint8Array
  readonly phi: Float64Array
  readonly p: PathBuffers
}

const recurse = (st: RowState, node: number, at: number, depth: number, zero: number, one: number, feature: number): void => {
  const { t, p } = st
  // this level's path lives after the parent's (depth entries copied)
  const here = at + depth
  if (depth > 0) {
    p.feature.copyWithin(here, at, here)
    p.zero.copyWithin(here, at, here)
    p.one.copyWithin(here, at, here)
    p.weight.copyWithin(here, at, here)
  }
  extendPath(p, here, depth, zero, one, feature)
  if (t.split[node] === LEAF) {
    const v = t.value[node]!
    const phi = st.phi
    for (let i = 1; i <= depth; i++) {
      const w = unwoundPathSum(p, here, depth, i)
      const f = p.feature[here + i]!
      phi[f] = phi[f]! + w * (p.one[here + i]! - p.zero[here + i]!) * v
    }
    return
  }
  const f = t.feature[node]!
  const left = goesLeft(t, node, st.x[f]!, st.categorical[f] === 1)
  const hot = left ? t.left[node]! : t.right[node]!
  const cold = left ? t.right[node]! : t.left[node]!
  const cover = t.cover[node]!
  let incomingZero = 1
  let incomingOne = 1
  let d = depth
  let k = 0
  for (; k <= d; k++) if (p.feature[here + k] === f) break
  if (k !== d + 1) {
    // the feature was split on above: undo that split so it is redone here
    incomingZero = p.zero[here + k]!
    incomingOne = p.one[here + k]!
    unwindPath(p, here, d, k)
    d -= 1
  }
  recurse(st, hot, here, d + 1, (t.cover[hot]! / cover) * incomingZero, incomingOne, f)
  recurse(st, cold, here, d + 1, (t.cover[cold]! / cover) * incomingZero, 0, f)
}

/**
 * SHAP values of the raw log-odds. `base` = baseline + Σ trees' cover-weighted expected outputs;
 * `contributions[f][i]` is feature f's contribution for row i.
 */
export const treeShap = (
  model: BoostedModel,
  features: ReadonlyArray<FeatureColumn>,
  rows: number
): { base: number; contributions: ReadonlyArray<Float64Array> } => {
  const m = model.features.length
  if (features.length !== m) throw new Error(`the model has ${m} features, got ${features.length}`)
  const trees = model.trees.map(compiledTree)
  const maxDepth = trees.reduce((a, t) => Math.max(a, treeDepth(t, 0)), 0)
  const slots = ((maxDepth + 2) * (maxDepth + 3)) / 2 + 2 * (maxDepth + 2)
  const p: PathBuffers = {
    feature: new Int32Array(slots), zero: new Float64Array(slots),
    one: new Float64Array(slots), weight: new Float64Array(slots)
  }
  const categorical = Uint8Array.from(features, (f) => (f.kind === "categorical" ? 1 : 0))
  const contributions = Array.from({ length: m }, () => new Float64Array(rows))
  let base = model.baseline
  for (const t of trees) base += expectedTreeValue(t)
  if (trees.length === 0) return { base, contributions }
  const st: RowState = { t: trees[0]!, x: new Float64Array(m), categorical, phi: new Float64Array(m), p }
  for (let row = 0; row < rows; row++) {
    for (let f = 0; f < m; f++) {
      const col = features[f]!
      st.x[f] = col.kind === "numeric" ? col.values[row]! : col.codes[row]!
    }
    st.phi.fill(0)
    for (const t of trees) {
      if (t.split[0] === LEAF) continue
      st.t = t
      recurse(st, 0, 0, 0, 1, 1, -1)
    }
    for (let f = 0; f < m; f++) contributions[f]![row] = st.phi[f]!
  }
  return { base, contributions }
}
