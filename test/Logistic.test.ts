import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { fit, predict } from "../src/lib/Logistic.js"
import { confusionMatrix, f1Score } from "../src/lib/Stats.js"
import { FinalRun } from "./helpers.js"
import { referenceDir, referenceFiles, TestLayer } from "./layers.js"

const parse = (text: string) => text.trim().split("\n").slice(1).map((l) => l.split(","))
const ref = (rel: string) => parse(NodeFs.readFileSync(NodePath.join(referenceDir, rel), "utf8"))

// scikit-learn LogisticRegression(solver="liblinear", C=1.0, random_state=0) on practicedata
const SKLEARN = { coef: [-0.009747, 0.0000975, 0.029128], intercept: 0.454, predictions: [0, 1, 1, 1, 1], f1: 0.5714285714285715 }

const referenceData = () => {
  const rows = [...ref("practicedata/dataset1.csv"), ...ref("practicedata/dataset2.csv")]
  const unique = [...new Map(rows.map((r) => [r.join(","), r])).values()]
  const columns = [1, 2, 3].map((j) => unique.map((r) => Number(r[j])))
  const y = unique.map((r) => Number(r[4]))
  const test = ref("testdata/testdata.csv")
  return { rows, unique, columns, y, test }
}

/** liblinear's objective: 0.5·‖[b, w]‖² + C·Σ log(1 + exp(−yᵢ(b + w·xᵢ))), y in {−1, +1} */
const objective = (columns: ReadonlyArray<ReadonlyArray<number>>, y: ReadonlyArray<number>, w: ReadonlyArray<number>, b: number) => {
  let loss = 0
  for (let i = 0; i < y.length; i++) {
    const z = b + w.reduce((s, wj, j) => s + wj * columns[j]![i]!, 0)
    loss += Math.log1p(Math.exp(-(y[i] === 1 ? 1 : -1) * z))
  }
  return 0.5 * (b * b + w.reduce((s, v) => s + v * v, 0)) + loss
}

describe("logistic regression against the scikit-learn reference", () => {
  it("de-duplicates the 36 practice rows to 26", () => {
    const { rows, unique } = referenceData()
    assert.strictEqual(rows.length, 36)
    assert.strictEqual(unique.length, 26)
  })

  it("liblinear solver reproduces the predictions, F1 and confusion matrix", () => {
    const { columns, test, y } = referenceData()
    const m = fit(columns, y)
    const pred = test.map((r) => predict(m, [1, 2, 3].map((j) => Number(r[j]))))
    const actual = test.map((r) => Number(r[4]))
    assert.deepStrictEqual(pred, SKLEARN.predictions)
    assert.strictEqual(f1Score(actual, pred), SKLEARN.f1)
    assert.deepStrictEqual(confusionMatrix(actual, pred), [[0, 2], [1, 2]])
    assert.isTrue(m.converged)
  })

  it("liblinear solver lands on scikit-learn's coefficients (to liblinear's own tolerance)", () => {
    const { columns, y } = referenceData()
    const m = fit(columns, y)
    m.coefficients.forEach((c, j) => {
      assert.approximately(c, SKLEARN.coef[j]!, Math.abs(SKLEARN.coef[j]!) * 0.01 + 1e-7, `coefficient ${j}`)
    })
    assert.approximately(m.intercept, SKLEARN.intercept, 0.01)
    // liblinear stops at a loose tolerance; ours is the exact optimum of the same objective
    assert.isAtMost(objective(columns, y, m.coefficients, m.intercept), objective(columns, y, SKLEARN.coef, SKLEARN.intercept))
  })

  it("gradient-descent solver (ml-logistic-regression, standardised, with intercept) predicts the same", () => {
    const { columns, test, y } = referenceData()
    const m = fit(columns, y, { solver: "gradient-descent", C: 1, tolerance: 0, maxIterations: 3000, learningRate: 0.5 })
    const pred = test.map((r) => predict(m, [1, 2, 3].map((j) => Number(r[j]))))
    assert.deepStrictEqual(pred, SKLEARN.predictions)
  })

  it("a constant feature and a single class do not break the fit", () => {
    const m = fit([[1, 1, 1, 1], [1, 2, 3, 4]], [0, 0, 0, 0])
    assert.isTrue(m.scales.every((s) => s > 0))
    assert.strictEqual(predict(m, [1, 2]), 0)
  })

  it.effect("the pipeline (ingest → train → score) reproduces the reference F1", () =>
    Effect.gen(function*() {
      const result = yield* FinalRun
      assert.strictEqual(result.ingested.totalRows, 26)
      assert.strictEqual(result.ingested.rowsRead, 36)
      assert.strictEqual(result.score.f1, SKLEARN.f1)
      assert.deepStrictEqual(result.score.confusionMatrix, [[0, 2], [1, 2]])
    }).pipe(Effect.provide(TestLayer(referenceFiles()))))
})
