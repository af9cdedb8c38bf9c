import { describe, expect, it } from "vitest"
import { compileTree, goesLeft, type CompiledTree } from "../src/lib/learners/boosting/tree.js"
import {
  defaultBoostingSettings,
  fitBoosting,
  predictRaw,
  treeShap,
  type BoostedModel,
  type FeatureColumn
} from "../src/lib/learners/boosting/index.js"
import { syntheticData } from "./support/boostingData.js"

/** The path-dependent value function: features in S follow the row, the others are averaged by cover. */
const conditional = (t: CompiledTree, node: number, row: (f: number) => number, cat: ReadonlyArray<boolean>, S: number): number => {
  if (t.split[node] === 0) return t.value[node]!
  const f = t.feature[node]!
  const l = t.left[node]!
  const r = t.right[node]!
  if (S & (1 << f)) return conditional(t, goesLeft(t, node, row(f), cat[f]!) ? l : r, row, cat, S)
  return (t.cover[l]! * conditional(t, l, row, cat, S) + t.cover[r]! * conditional(t, r, row, cat, S)) / t.cover[node]!
}

/** Shapley values by enumerating every subset (M ≤ 6 features). */
const bruteForce = (model: BoostedModel, features: ReadonlyArray<FeatureColumn>, i: number) => {
  const M = features.length
  const trees = model.trees.map(compileTree)
  const cat = features.map((f) => f.kind === "categorical")
  const row = (f: number) => {
    const c = features[f]!
    return c.kind === "numeric" ? c.values[i]! : c.codes[i]!
  }
  const v = (S: number) => trees.reduce((s, t) => s + conditional(t, 0, row, cat, S), model.baseline)
  const fact = (k: number): number => (k <= 1 ? 1 : k * fact(k - 1))
  const phi = new Array<number>(M).fill(0)
  for (let f = 0; f < M; f++) {
    for (let S = 0; S < 1 << M; S++) {
      if (S & (1 << f)) continue
      let size = 0
      for (let k = 0; k < M; k++) if (S & (1 << k)) size++
      phi[f] = phi[f]! + ((fact(size) * fact(M - size - 1)) / fact(M)) * (v(S | (1 << f)) - v(S))
    }
  }
  return { base: v(0), phi }
}

describe("TreeSHAP (path-dependent)", () => {
  const data = syntheticData(600, 11)
  // 6 features: numeric with missing values (x1, x4), numeric, and two categorical (c2 with missing codes)
  const features = [0, 1, 3, 4, 5, 7].map((j) => data.features[j]!)

  it("equals brute-force Shapley values over all subsets, to 1e-9", () => {
    const model = fitBoosting(features, data.target, {
      ...defaultBoostingSettings, max_iter: 4, max_leaf_nodes: 12, min_samples_leaf: 8, early_stopping: false
    })
    // the trees split on categorical features and reuse features along paths
    expect(model.trees.some((t) => t.split.includes(2))).toBe(true)
    const shap = treeShap(model, features, 80)
    let checkedMissing = 0
    for (let i = 0; i < 80; i++) {
      const exact = bruteForce(model, features, i)
      if (i === 0) expect(Math.abs(shap.base - exact.base)).toBeLessThan(1e-9)
      exact.phi.forEach((p, f) => expect(Math.abs(shap.contributions[f]![i]! - p)).toBeLessThan(1e-9))
      const x1 = features[1]!
      if (x1.kind === "numeric" && Number.isNaN(x1.values[i]!)) checkedMissing++
    }
    expect(checkedMissing).toBeGreaterThan(0)
  })

  it("depth-limited trees with a single feature repeated along the path agree too", () => {
    const model = fitBoosting([features[0]!, features[4]!], data.target, {
      ...defaultBoostingSettings, max_iter: 3, max_leaf_nodes: null, max_depth: 4, min_samples_leaf: 5, early_stopping: false
    })
    const shap = treeShap(model, [features[0]!, features[4]!], 40)
    for (let i = 0; i < 40; i++) {
      const exact = bruteForce(model, [features[0]!, features[4]!], i)
      exact.phi.forEach((p, f) => expect(Math.abs(shap.contributions[f]![i]! - p)).toBeLessThan(1e-9))
    }
  })

  it("base + Σ contributions = raw log-odds on a 100-tree model with all 8 features", () => {
    const big = syntheticData(6000, 1)
    const model = fitBoosting(big.features, big.target, defaultBoostingSettings)
    const rows = 1000
    const shap = treeShap(model, big.features, rows)
    const raw = predictRaw(model, big.features, rows)
    expect(shap.contributions.length).toBe(8)
    let maxErr = 0
    for (let i = 0; i < rows; i++) {
      let s = shap.base
      for (const c of shap.contributions) s += c[i]!
      maxErr = Math.max(maxErr, Math.abs(s - raw[i]!))
    }
    expect(maxErr).toBeLessThan(1e-9)
    // a feature that carries no signal (x4) gets small contributions next to x0's
    const meanAbs = (c: Float64Array) => c.reduce((a, v) => a + Math.abs(v), 0) / c.length
    expect(meanAbs(shap.contributions[4]!)).toBeLessThan(meanAbs(shap.contributions[0]!) / 3)
  })
})
