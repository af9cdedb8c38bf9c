/**
 * The two learners behind one interface: gradient-boosted trees through the whole pipeline,
 * explanations that add up to each row's log-odds for either kind, learner "auto", and a
 * rollback that crosses kinds.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Snapshots } from "../src/data/Snapshots.js"
import { DEFAULT_DATASET } from "../src/domain/Dataset.js"
import { ApiServer } from "../src/http/Server.js"
import { fullProcess } from "../src/programs/FullProcess.js"
import { writeBulkData } from "../src/programs/GenerateData.js"
import { withGeneratedCategories } from "../src/programs/GenerateRich.js"
import { Deployer } from "../src/services/Deployer.js"
import { Model } from "../src/services/Model.js"
import { Scorer } from "../src/services/Scorer.js"
import { Tracking } from "../src/services/Tracking.js"
import { readText, TestLayer } from "./layers.js"

const IN = "/t/data/sourcedata"
const dataset = withGeneratedCategories(DEFAULT_DATASET, 3, ["yes", "no"])
const seeded = Effect.gen(function*() {
  yield* writeBulkData(IN, 3000, 1, 21, dataset)
  yield* writeBulkData("/t/data/testdata", 600, 1, 22, dataset)
})
const logit = (p: number) => Math.log(p / (1 - p))

const server = (config: Record<string, unknown>) =>
  ApiServer(1 << 20).pipe(
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provideMerge(TestLayer({}, { dataset, ...config }))
  )

const predict = (body: unknown, explain: boolean) =>
  Effect.flatMap(HttpClient.HttpClient, (client) =>
    client.execute(HttpClientRequest.post(`/prediction${explain ? "?explain=true" : ""}`).pipe(HttpClientRequest.bodyUnsafeJson(body)))).pipe(
    Effect.flatMap((r) => Effect.map(r.json, (b) => ({ status: r.status, body: b as {
      probabilities: Array<number>; predictions: Array<number>; labels: Array<string>; warnings: Array<string>
      explanations?: Array<{ base: number; contributions: Record<string, number> }>
    } })))
  )

const rows = [
  { lastmonth_activity: 80, lastyear_activity: 20, number_of_employees: 30, state: "CA", plan: "basic", channel: "web" },
  { lastmonth_activity: 10, lastyear_activity: null, number_of_employees: 200, state: "XX", plan: null, channel: "store" },
  { lastmonth_activity: 55, lastyear_activity: 190, number_of_employees: null, state: "NM", plan: "premium", channel: "app" }
]

/** base + Σ contributions = log(p / (1 − p)) for every row, to 1e-9 */
const assertAdditive = (r: { probabilities: Array<number>; explanations?: Array<{ base: number; contributions: Record<string, number> }> }) => {
  assert.strictEqual(r.explanations!.length, r.probabilities.length)
  r.explanations!.forEach((e, i) => {
    assert.deepStrictEqual(Object.keys(e.contributions), dataset.feature_columns)
    const sum = e.base + Object.values(e.contributions).reduce((a, b) => a + b, 0)
    assert.closeTo(sum, logit(r.probabilities[i]!), 1e-9)
  })
}

describe("Gradient-boosted trees through the pipeline", () => {
  it.effect("fullprocess trains, scores and deploys trees; /prediction?explain=true adds TreeSHAP explanations that add up to the log-odds", () =>
    Effect.gen(function*() {
      yield* seeded
      const summary = yield* fullProcess()
      assert.strictEqual(summary.outcome, "redeployed")
      const live = yield* Effect.flatMap(Deployer, (d) => d.current())
      assert.strictEqual(live.model.format, "drs-gradient-boosting/1")
      const saved = JSON.parse(yield* readText("/t/data/models/trainedmodel.json")) as { format: string; booster: { trees: Array<unknown>; early_stopping: { enabled: boolean } } }
      assert.strictEqual(saved.format, "drs-gradient-boosting/1")
      assert.isAbove(saved.booster.trees.length, 5)
      // 3,000 rows: early stopping "auto" is off below 10,000
      assert.isFalse(saved.booster.early_stopping.enabled)
      const plain = yield* predict({ rows }, false)
      assert.strictEqual(plain.status, 200)
      assert.strictEqual(plain.body.explanations, undefined)
      assert.deepStrictEqual(plain.body.warnings, [`state: the category "XX" (1 row) was not seen in training; encoded as unknown`])
      const explained = yield* predict({ rows }, true)
      assert.deepStrictEqual(explained.body.probabilities, plain.body.probabilities)
      assertAdditive(explained.body)
      // the scoring carries the global importance: every feature, some of them used
      const score = yield* Effect.flatMap(Scorer, (s) => Effect.flatMap(s.testData(), (t) => Effect.succeed(s.evaluate(live.model, t, "test", true))))
      assert.deepStrictEqual(score.importance!.map((f) => f.feature), dataset.feature_columns)
      assert.isTrue(score.importance!.some((f) => f.importance > 0.05))
    }).pipe(Effect.provide(server({ learner: "gradient-boosting" }))), 120_000)

  it.effect("trees fitted with early stopping are calibrated on its validation rows (held out of every tree), with no twin fit", () =>
    Effect.gen(function*() {
      yield* writeBulkData(IN, 20_000, 1, 23, dataset)
      yield* writeBulkData("/t/data/testdata", 600, 1, 22, dataset)
      assert.strictEqual((yield* fullProcess()).outcome, "redeployed")
      const live = yield* Effect.flatMap(Deployer, (d) => d.current())
      assert.strictEqual(live.model.format, "drs-gradient-boosting/1")
      if (live.model.format !== "drs-gradient-boosting/1") return
      const stopping = (live.model.booster as { early_stopping: { enabled: boolean; validation_rows: number } }).early_stopping
      assert.isTrue(stopping.enabled)
      assert.strictEqual(stopping.validation_rows, 2000)
      // a twin would have held out a fifth of the rows (4,000)
      assert.strictEqual(live.model.calibration?.method, "isotonic")
      assert.strictEqual(live.model.calibration?.rows, 2000)
    }).pipe(Effect.provide(server({ learner: "gradient-boosting" }))), 120_000)

  it.effect("logistic regression explains each row too: coefficient × deviation from the training mean, a category's columns summed", () =>
    Effect.gen(function*() {
      yield* seeded
      yield* fullProcess()
      const r = yield* predict({ rows }, true)
      assert.strictEqual(r.status, 200)
      assertAdditive(r.body)
      // the base: the log-odds of a row whose every encoded column is at its training mean
      const live = yield* Effect.flatMap(Deployer, (d) => d.current())
      assert.strictEqual(live.model.format, "drs-logistic-regression/2")
      if (live.model.format === "drs-logistic-regression/2") assert.closeTo(r.body.explanations![0]!.base, live.model.interceptStd, 1e-15)
    }).pipe(Effect.provide(server({}))), 120_000)
})

describe("learner auto and rollbacks across kinds", () => {
  it.effect("auto trains both on the training data less a validation split, keeps the better F1 there and records both; a rollback may cross kinds", () =>
    Effect.gen(function*() {
      yield* seeded
      yield* fullProcess()
      const deployer = yield* Deployer
      const first = yield* deployer.current()
      const selection = first.model.selection!
      assert.deepStrictEqual(selection.candidates.map((c) => c.learner), ["logistic-regression", "gradient-boosting"])
      const best = selection.candidates[1]!.f1 > selection.candidates[0]!.f1 ? "gradient-boosting" : "logistic-regression"
      assert.strictEqual(selection.chosen, best)
      assert.strictEqual(first.model.format, best === "gradient-boosting" ? "drs-gradient-boosting/1" : "drs-logistic-regression/2")
      // a fifth of the 3,000 training rows, stratified
      assert.closeTo(selection.validationRows, 600, 2)
      // CBPE's calibration comes from the kept candidate on those rows (Platt: fewer than 1,000)
      assert.strictEqual(first.model.calibration?.method, "platt")
      // the other kind, deployed by hand, then rolled back
      const other = best === "gradient-boosting" ? "logistic-regression" : "gradient-boosting"
      const snapshot = (yield* Effect.flatMap(Tracking, (t) => t.currentSnapshot()))!
      const model = yield* Model
      const frame = yield* Effect.flatMap(Snapshots, (s) => s.frameOf(snapshot))
      const m = yield* model.train(frame, snapshot.hash, other)
      yield* model.save(m)
      yield* Effect.flatMap(Scorer, (s) => s.scoreTestData(m))
      yield* deployer.deploy()
      assert.strictEqual((yield* deployer.current()).model.format, m.format)
      const back = yield* deployer.rollback(undefined, "back to the first kind")
      assert.strictEqual(back.releaseId, first.releaseId)
      const live = yield* deployer.current()
      assert.strictEqual(live.model.format, first.model.format)
      const r = yield* predict({ rows }, true)
      assert.strictEqual(r.status, 200)
      assertAdditive(r.body)
    }).pipe(Effect.provide(server({ learner: "auto" }))), 180_000)
})
