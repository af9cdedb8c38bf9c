/** Classification metrics against scikit-learn's numbers, and the classification report of the reference model end to end. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { classificationReport, logLoss, rocAuc } from "../src/lib/Metrics.js"
import { fullProcess } from "../src/programs/FullProcess.js"
import { Deployer } from "../src/services/Deployer.js"
import { Scorer } from "../src/services/Scorer.js"
import { Tracking } from "../src/services/Tracking.js"
import { referenceFiles, TestLayer } from "./layers.js"

/** scikit-learn's classification_report for the reference: class 0 all zero, class 1 0.5 / 2/3 / 0.5714…, accuracy 0.4 */
const assertReferenceReport = (r: ReturnType<typeof classificationReport>) => {
  assert.deepStrictEqual(r.perClass["0"], { precision: 0, recall: 0, f1: 0, support: 2 })
  assert.strictEqual(r.perClass["1"]!.precision, 0.5)
  assert.strictEqual(r.perClass["1"]!.recall, 2 / 3)
  assert.strictEqual(r.perClass["1"]!.f1, 0.5714285714285715)
  assert.strictEqual(r.perClass["1"]!.support, 3)
  assert.strictEqual(r.accuracy, 0.4)
  assert.deepStrictEqual([r.macroAvg.precision, r.macroAvg.recall].map((x) => x.toFixed(4)), ["0.2500", "0.3333"])
  assert.strictEqual(r.macroAvg.f1.toFixed(4), "0.2857")
  assert.deepStrictEqual([r.weightedAvg.precision, r.weightedAvg.recall, r.weightedAvg.f1].map((x) => x.toFixed(4)), ["0.3000", "0.4000", "0.3429"])
  assert.strictEqual(r.macroAvg.support, 5)
  assert.strictEqual(r.weightedAvg.support, 5)
}

describe("classification metrics", () => {
  it("matches scikit-learn's classification report on a case with a class never predicted right", () => {
    // testdata's labels are [0,1,1,1,0]; the model predicts [1,1,1,1,1]: class 0 is never predicted
    const r = classificationReport([0, 1, 1, 1, 0], [1, 1, 1, 1, 1])
    assert.deepStrictEqual(r.perClass["0"], { precision: 0, recall: 0, f1: 0, support: 2 })
    assert.strictEqual(r.perClass["1"]!.precision, 0.6)
    assert.strictEqual(r.accuracy, 0.6)
  })

  it("ROC AUC counts tied scores half and is null with one class; log loss clips", () => {
    assert.strictEqual(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 0.75)
    assert.strictEqual(rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]), 0.5)
    assert.strictEqual(rocAuc([1, 1], [0.2, 0.9]), null)
    // sklearn.metrics.log_loss([0, 1], [0.2, 0.7]) = 0.2899092476264711
    assert.approximately(logLoss([0, 1], [0.2, 0.7]), 0.2899092476264711, 1e-15)
    assert.isTrue(Number.isFinite(logLoss([1, 0], [0, 1])))
  })
})

describe("the classification report of the reference model (parity with scikit-learn)", () => {
  it.effect("is in the scoring result, the model version's record and the score of the live release", () =>
    Effect.gen(function*() {
      yield* fullProcess()
      const live = yield* Effect.flatMap(Deployer, (d) => d.current())
      const scorer = yield* Scorer
      const result = scorer.evaluate(live.model, yield* scorer.testData(), "testdata")
      assert.strictEqual(result.f1, 0.5714285714285715)
      assert.deepStrictEqual(result.confusionMatrix, [[0, 2], [1, 2]])
      assertReferenceReport(result.classificationReport)
      assert.isNotNull(result.rocAuc)
      assert.isTrue(result.logLoss > 0)
      const version = (yield* Effect.flatMap(Tracking, (t) => t.modelVersions()))[0]!
      assert.strictEqual(version.roc_auc, result.rocAuc)
      assert.strictEqual(version.log_loss, result.logLoss)
      assertReferenceReport(JSON.parse(version.classification_report!))
    }).pipe(Effect.provide(TestLayer(referenceFiles()))))
})
