import { assert, describe, it } from "@effect/vitest"
import { decideDrift } from "../src/lib/Drift.js"
import { confusionMatrix, f1Score, mean, median, quantile, std } from "../src/lib/Stats.js"

describe("statistics", () => {
  it("mean, median, sample std and numpy-style quantiles", () => {
    assert.strictEqual(mean([1, 2, 3, 4]), 2.5)
    assert.strictEqual(median([5, 1, 3]), 3)
    assert.strictEqual(median([4, 1, 3, 2]), 2.5)
    assert.approximately(std([2, 4, 4, 4, 5, 5, 7, 9]), 2.138089935299395, 1e-12)
    assert.strictEqual(quantile([1, 2, 3, 4, 5], 0.25), 2)
    assert.strictEqual(quantile([1, 2, 3, 4], 0.25), 1.75)
    assert.isNaN(mean([]))
  })

  it("F1 and the confusion matrix in scikit-learn's layout", () => {
    assert.deepStrictEqual(confusionMatrix([0, 0, 1, 1, 1], [0, 1, 1, 1, 0]), [[1, 1], [1, 2]])
    assert.strictEqual(f1Score([1, 0, 1], [1, 0, 1]), 1)
    assert.strictEqual(f1Score([0, 0], [0, 0]), 0)
    assert.strictEqual(f1Score([1, 1, 0, 0, 1], [0, 1, 1, 1, 1]), 0.5714285714285715)
  })
})

describe("drift tests", () => {
  const base = { minHistory: 3, history: [0.8, 0.82, 0.79, 0.81] }

  it("with nothing deployed, drift is declared", () => {
    const d = decideDrift({ ...base, test: "raw", newScore: 0.5, deployedScore: null })
    assert.isTrue(d.drifted)
    assert.include(d.reason, "no model is deployed")
  })

  it("raw: any drop below the deployed score is drift", () => {
    assert.isTrue(decideDrift({ ...base, test: "raw", newScore: 0.79, deployedScore: 0.8 }).drifted)
    assert.isFalse(decideDrift({ ...base, test: "raw", newScore: 0.8, deployedScore: 0.8 }).drifted)
  })

  it("parametric: below mean − 2·np.std of history, the population std (ddof 0) as in the reference", () => {
    // mean 0.805; ddof 0: std 0.01118 → threshold 0.78264; ddof 1: std 0.01291 → threshold 0.77918.
    // 0.78 lies between the two: the reference (np.std) declares drift, the sample std would not
    const between = decideDrift({ ...base, test: "parametric", newScore: 0.78, deployedScore: 0.8 })
    assert.isTrue(between.drifted)
    assert.approximately(between.threshold!, 0.805 - 2 * Math.sqrt(0.0005 / 4), 1e-12)
    assert.isAbove(0.78, 0.805 - 2 * std(base.history))
    assert.include(between.reason, "population std (ddof 0)")
    assert.include(between.reason, "0.0112")
    assert.isFalse(decideDrift({ ...base, test: "parametric", newScore: 0.79, deployedScore: 0.8 }).drifted)
    assert.isTrue(decideDrift({ ...base, test: "parametric", newScore: 0.7, deployedScore: 0.8 }).drifted)
  })

  it("non-parametric: below Q1 − 1.5·IQR of history", () => {
    const q1 = quantile(base.history, 0.25)
    const iqr = quantile(base.history, 0.75) - q1
    const d = decideDrift({ ...base, test: "nonparametric", newScore: q1 - 1.5 * iqr - 0.001, deployedScore: 0.8 })
    assert.isTrue(d.drifted)
    assert.approximately(d.threshold!, q1 - 1.5 * iqr, 1e-12)
    assert.isFalse(decideDrift({ ...base, test: "nonparametric", newScore: 0.78, deployedScore: 0.8 }).drifted)
  })

  it("falls back to the raw test, saying so, when history is short", () => {
    const d = decideDrift({ test: "parametric", minHistory: 5, history: [0.8], newScore: 0.79, deployedScore: 0.8 })
    assert.strictEqual(d.test, "raw")
    assert.isTrue(d.drifted)
    assert.include(d.reason, "needs 5 historical scores, have 1")
  })
})
