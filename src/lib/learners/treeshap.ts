/**
 * Exact path-dependent TreeSHAP (Lundberg, Erion & Lee 2018, Algorithm 2; the recursion of
 * the `shap` package's `tree_shap.h`) over the flat trees of a boosted model. A feature's
 * absent branch is weighted by the training covers; the "hot" child is the one the row goes
 * to (for categorical splits: whether its code is in the left set; missing values follow
 * `missingGoToLeft`). Per row: base + Σ contributions = the model's raw log-odds.
 */
import type { BoostedModel, FeatureColumn } from "./boosting/boosting.js"
import { compileTree, goesLeft, LEAF, type CompiledTree } from "./boosting/tree.js"

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

/** Adds one row's contributions of one tree to phi. `value(f)` is the row's raw value or code of feature f. */
const shapRow = (
  t: CompiledTree,
  value: (f: number) => number,
  categorical: Uint8Array,
  phi: Float64Array,
  p: PathBuffers
) => {
  const recurse = (node: number, at: number, depth: number, zero: number, one: number, feature: number): void => {
    // copy the parent's path (depth entries) to this level's slot
    const next = at + depth
    if (depth > 0) {
      p.feature.copyWithin(next, at, at + depth)
      p.zero.copyWithin(next, at, at + depth)
      p.one.copyWithin(next, at, at + depth)
      p.weight.copyWithin(next, at, at + depth)
    }
    const here = depth > 0 ? next : at
    extendPath(p, here, depth, zero, one, feature)
    if (t.split[node] === LEAF) {
      const v = t.value[node]!
      for (let i = 1; i <= depth; i++) {
        const w = unwoundPathSum(p, here, depth, i)
        const f = p.feature[here + i]!
        phi[f] = phi[f]! + w * (p.one[here + i]! - p.zero[here + i]!) * v
      }
      return
    }
    const f = t.feature[node]!
    const left = goesLeft(t, node, value(f), categorical[f] === 1)
    const hot = left ? t.left[node]! : t.right[node]!
    const cold = left ? t.right[node]! : t.left[node]!
    const cover = t.cover[node]!
    const hotZero = t.cover[hot]! / cover
    const coldZero = t.cover[cold]! / cover
    let incomingZero = 1
    let incomingOne = 1
    let d = depth
    let k = 0
    for (; k <= d; k++) if (p.feature[here + k] === f) break
    if (k !== d + 1) {
      incomingZero = p.zero[here + k]!
      incomingOne = p.one[here + k]!
      unwindPath(p, here, d, k)
      d -= 1
    }
    recurse(hot, here, d + 1, hotZero * incomingZero, incomingOne, f)
    recurse(cold, here, d + 1, coldZero * incomingZero, 0, f)
  }
  recurse(0, 0, 0, 1, 1, -1)
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
  const trees = model.trees.map(compileTree)
  const maxDepth = trees.reduce((a, t) => Math.max(a, treeDepth(t, 0)), 0)
  const slots = ((maxDepth + 2) * (maxDepth + 3)) / 2 + 2 * (maxDepth + 2)
  const p: PathBuffers = {
    feature: new Int32Array(slots), zero: new Float64Array(slots),
    one: new Float64Array(slots), weight: new Float64Array(slots)
  }
  const categorical = Uint8Array.from(features, (f) => (f.kind === "categorical" ? 1 : 0))
  const contributions = Array.from({ length: m }, () => new Float64Array(rows))
  const phi = new Float64Array(m)
  let row = 0
  const value = (f: number): number => {
    const col = features[f]!
    return col.kind === "numeric" ? col.values[row]! : col.codes[row]!
  }
  for (row = 0; row < rows; row++) {
    phi.fill(0)
    for (const t of trees) if (t.split[0] !== LEAF) shapRow(t, value, categorical, phi, p)
    for (let f = 0; f < m; f++) contributions[f]![row] = phi[f]!
  }
  let base = model.baseline
  for (const t of trees) base += expectedTreeValue(t)
  return { base, contributions }
}
