/**
 * Real customer tables: text categories, text labels, pandas' missing-value strings, columns
 * in another order and columns nobody declared; the one-hot logistic regression against
 * scikit-learn's pipeline (figures pinned by scripts/parity/lr_onehot.py); categorical
 * drift and summaries; /prediction with categories.
 */
import { HttpClient, HttpClientRequest, OpenApi } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { Snapshots } from "../src/data/Snapshots.js"
import { DatasetSchema, DEFAULT_DATASET } from "../src/domain/Dataset.js"
import { makeApi } from "../src/http/Api.js"
import { ApiServer } from "../src/http/Server.js"
import { categoricalDrift, chiSquareHomogeneity, chiSquareSf } from "../src/lib/CategoricalDrift.js"
import { rocAuc } from "../src/lib/Metrics.js"
import { f1Score } from "../src/lib/Stats.js"
import { fullProcess } from "../src/programs/FullProcess.js"
import { writeBulkData } from "../src/programs/GenerateData.js"
import { withGeneratedCategories } from "../src/programs/GenerateRich.js"
import { AppConfig, loadConfig } from "../src/services/AppConfig.js"
import { Diagnostics } from "../src/services/Diagnostics.js"
import { FileStore } from "../src/services/FileStore.js"
import { Ingestion } from "../src/services/Ingestion.js"
import { Model } from "../src/services/Model.js"
import { Scorer } from "../src/services/Scorer.js"
import { readText, TestLayer } from "./layers.js"

const IN = "/t/data/sourcedata"
const churn = DatasetSchema.make({
  id_column: "corporation",
  feature_columns: ["lastmonth_activity", "lastyear_activity", "number_of_employees", "state", "plan"],
  categorical_columns: ["state", "plan"],
  target_column: "exited",
  positive_label: "yes",
  negative_label: "no"
})
/** columns in another order than declared, and one nobody declared */
const exported = [
  "state,notes,exited,corporation,plan,lastmonth_activity,lastyear_activity,number_of_employees",
  "NM,call back,yes,a,basic,1,10,NA",
  "CA,,no,b,premium,2,20,5",
  "#N/A,x,no,c,<NA>,3,n/a,6",
  "NM,call back,yes,a,basic,1,10,NA",
  "TX,\"a, b\",yes,d,plus,-NaN,40,7"
].join("\n") + "\n"

const lines = (text: string) => text.trimEnd().split("\n").slice(1).sort()

describe("Real customer tables", () => {
  it.effect("ingest as exported: text categories and labels, pandas' NA strings, columns by name in any order, an undeclared column dropped and named", () =>
    Effect.gen(function*() {
      const r = yield* Effect.flatMap(Ingestion, (i) => i.ingest())
      assert.deepStrictEqual(r.rejected, [])
      assert.strictEqual(r.rowsRead, 5)
      assert.strictEqual(r.totalRows, 4)
      assert.deepStrictEqual(r.ignoredColumns, [{ file: "churn.csv", columns: ["notes"] }])
      const final = yield* readText("/t/data/ingesteddata/finaldata.csv")
      // the declared columns in declared order, the labels as the files write them, missing values empty
      assert.strictEqual(final.split("\n")[0], "corporation,lastmonth_activity,lastyear_activity,number_of_employees,state,plan,exited")
      assert.deepStrictEqual(lines(final), ["a,1.0,10.0,,NM,basic,yes", "b,2.0,20.0,5.0,CA,premium,no", "c,3.0,,6.0,,,no", "d,,40.0,7.0,TX,plus,yes"])
      const frame = yield* Effect.flatMap(Snapshots, (s) => s.frameOf(r.snapshot!))
      assert.deepStrictEqual(frame.levels, [null, null, null, ["CA", "NM", "TX"], ["basic", "plus", "premium"]])
      assert.deepStrictEqual([...frame.target].sort(), [0, 0, 1, 1])
    }).pipe(Effect.provide(TestLayer({ [`${IN}/churn.csv`]: exported }, { dataset: churn }))))

  it.effect("a label other than the two declared rejects the file, naming its file, line and column", () =>
    Effect.gen(function*() {
      const r = yield* Effect.flatMap(Ingestion, (i) => i.ingest())
      assert.strictEqual(r.rejected.length, 1)
      assert.include(r.rejected[0]!.error, "bad.csv")
      assert.include(r.rejected[0]!.error, "line 3")
      assert.include(r.rejected[0]!.error, "exited")
      assert.include(r.rejected[0]!.error, `"maybe" is not a class label (expected no or yes)`)
    }).pipe(Effect.provide(TestLayer({ [`${IN}/bad.csv`]: exported.replace("CA,,no", "CA,,maybe") }, { dataset: churn }))))

  it.effect(`extra_columns: "reject" rejects a file with an undeclared column; a missing declared column is always rejected`, () =>
    Effect.gen(function*() {
      const r = yield* Effect.flatMap(Ingestion, (i) => i.ingest())
      const byName = new Map(r.rejected.map((x) => [x.name, x.error]))
      assert.include(byName.get("extra.csv"), "unexpected column(s) notes")
      assert.include(byName.get("short.csv"), "missing column(s) plan")
    }).pipe(Effect.provide(TestLayer({
      [`${IN}/extra.csv`]: exported,
      [`${IN}/short.csv`]: exported.replace(/,plan,/, ",other,")
    }, { dataset: DatasetSchema.make({ ...churn, extra_columns: "reject" }) }))))

  it.effect("summary statistics of a categorical feature: count, distinct categories, the most frequent with their shares, the missing rate", () =>
    Effect.gen(function*() {
      yield* Effect.flatMap(Ingestion, (i) => i.ingest())
      const stats = yield* Effect.flatMap(Diagnostics, (d) => d.summaryStats())
      const state = stats.find((s) => s.column === "state")!
      assert.strictEqual(state.kind, "categorical")
      assert.strictEqual(state.count, 3)
      assert.strictEqual(state.distinct, 3)
      assert.strictEqual(state.missingRate, 0.25)
      assert.deepStrictEqual(state.top, [{ category: "CA", count: 1, share: 0.25 }, { category: "NM", count: 1, share: 0.25 }, { category: "TX", count: 1, share: 0.25 }])
      assert.strictEqual(state.mean, null)
      const numeric = stats.find((s) => s.column === "lastyear_activity")!
      assert.strictEqual(numeric.kind, undefined)
      assert.closeTo(numeric.mean!, 70 / 3, 1e-12)
    }).pipe(Effect.provide(TestLayer({ [`${IN}/churn.csv`]: exported }, { dataset: churn }))))

  it.effect("the config checks the schema: categorical columns are features, and the two labels differ", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      const base = { input_folder_path: "a", output_folder_path: "b", test_data_path: "c", output_model_path: "d", prod_deployment_path: "e" }
      yield* store.writeAtomic("/t/c1.json", JSON.stringify({ ...base, dataset: { feature_columns: ["x"], categorical_columns: ["y"], target_column: "t" } }))
      yield* store.writeAtomic("/t/c2.json", JSON.stringify({ ...base, dataset: { feature_columns: ["x"], target_column: "t", positive_label: "y", negative_label: "y" } }))
      const e1 = yield* Effect.flip(loadConfig("/t/c1.json"))
      assert.include(e1.message, "dataset.categorical_columns names y, which is not in dataset.feature_columns")
      const e2 = yield* Effect.flip(loadConfig("/t/c2.json"))
      assert.include(e2.message, "must differ")
    }).pipe(Effect.provide(FileStore.layerTemp())))
})

/** scikit-learn's pipeline on the same generated data (scripts/parity/lr_onehot.py) */
const pinned = JSON.parse(NodeFs.readFileSync(NodePath.join(import.meta.dirname, "fixtures/parity-lr-onehot.json"), "utf8")) as {
  f1: number; rocAuc: number; predictions: string; trainRows: number; testRows: number
}
const generated = withGeneratedCategories(DEFAULT_DATASET, 5, ["yes", "no"])

describe("One-hot logistic regression against scikit-learn's pipeline", () => {
  it.effect("held-out F1 within 0.02, ROC AUC within 0.005, at least 99% of predictions equal", () =>
    Effect.gen(function*() {
      // the data the parity script generates: generate-data --categorical 5, seeds 11 and 12
      yield* writeBulkData(IN, 8000, 1, 11, generated)
      yield* writeBulkData("/t/data/testdata", 3000, 1, 12, generated)
      const ingested = yield* Effect.flatMap(Ingestion, (i) => i.ingest())
      assert.strictEqual(ingested.totalRows, pinned.trainRows)
      const snapshots = yield* Snapshots
      const model = yield* Model
      const m = yield* model.train(yield* snapshots.frameOf(ingested.snapshot!), ingested.dataHash!)
      assert.strictEqual(m.format, "drs-logistic-regression/2")
      assert.deepStrictEqual(m.encoding!.filter((e) => e.kind === "categorical").map((e) => e.name), ["state", "plan", "channel", "international_plan", "home"])
      // 3 numeric columns and one column per category seen in training
      const cats = m.encoding!.reduce((n, e) => n + (e.kind === "categorical" ? e.categories.length : 0), 0)
      assert.strictEqual(m.format === "drs-logistic-regression/2" ? m.columns!.length : -1, 3 + cats)
      const test = yield* Effect.flatMap(Scorer, (s) => s.testData())
      assert.strictEqual(test.rows, pinned.testRows)
      // the test rows in file order (the pinned predictions' order)
      const p = model.predict(m, test)
      const f1 = f1Score(test.target, p.predictions)
      const auc = rocAuc(test.target, p.probabilities)!
      let same = 0
      for (let i = 0; i < test.rows; i++) if (String(p.predictions[i]) === pinned.predictions[i]) same++
      assert.isAtMost(Math.abs(f1 - pinned.f1), 0.02, `F1 ${f1} against scikit-learn's ${pinned.f1}`)
      assert.isAtMost(Math.abs(auc - pinned.rocAuc), 0.005, `ROC AUC ${auc} against scikit-learn's ${pinned.rocAuc}`)
      assert.isAtLeast(same / test.rows, 0.99, `${same} of ${test.rows} predictions equal`)
    }).pipe(Effect.provide(TestLayer({}, { dataset: generated }))), 60_000)
})

describe("Categorical data drift", () => {
  it("chi-square of homogeneity and its p-value as scipy's chi2_contingency(correction=False) gives them", () => {
    // scipy 1.10.1: chi2_contingency([[120,30,50,0,3],[90,60,40,5,10]], correction=False)
    const r = chiSquareHomogeneity([120, 30, 50, 0, 3], [90, 60, 40, 5, 10])!
    assert.closeTo(r.statistic, 24.156832714324004, 1e-10)
    assert.strictEqual(r.dof, 4)
    assert.closeTo(r.pValue / 7.429602610881876e-05, 1, 1e-9)
    // scipy.stats.chi2.sf
    assert.closeTo(chiSquareSf(3.5, 1), 0.0613688291394023, 1e-13)
    assert.closeTo(chiSquareSf(250, 40) / 3.4695368870539687e-32, 1, 1e-9)
    assert.closeTo(chiSquareSf(0.01, 7), 0.999999999243059, 1e-13)
  })

  it("PSI over the categories with missing and unseen as categories of their own; new categories named with their share", () => {
    const codes = (xs: ReadonlyArray<number | null>) => Float64Array.from(xs, (x) => x ?? Number.NaN)
    const reference = { codes: codes([0, 0, 1, 1, null]), levels: ["a", "b"] }
    // the current sample has its own levels: "b" is index 0 here, "c" and "d" are new
    const current = { codes: codes([0, 0, 1, 2, null, null, null, 2]), levels: ["b", "c", "d"] }
    const d = categoricalDrift("plan", reference, current, { psiThreshold: 0.25, ksAlpha: 0.01 })
    // shares: a 0.4 → ε, b 0.4 → 0.25, missing 0.2 → 0.375, unseen ε → 0.375
    const term = (c: number, r: number) => (c - r) * Math.log(c / r)
    assert.closeTo(d.psi!, term(1e-4, 0.4) + term(0.25, 0.4) + term(0.375, 0.2) + term(0.375, 1e-4), 1e-12)
    assert.isTrue(d.flagged)
    assert.deepStrictEqual(d.newCategories, [{ category: "d", share: 0.25 }, { category: "c", share: 0.125 }])
    assert.strictEqual(d.missingRateCurrent, 0.375)
    const same = categoricalDrift("plan", reference, { codes: codes([1, 1, 0, 0, null]), levels: ["b", "a"] })
    assert.closeTo(same.psi!, 0, 1e-15)
    assert.strictEqual(same.chiSquarePValue, 1)
    assert.isFalse(same.flagged)
  })
})

type OpenApiDoc = { components: { schemas: Record<string, { properties: Record<string, unknown> }> } }

describe("The OpenAPI document of a schema with categories", () => {
  it("types a categorical feature as text (or a number taken as text), with the live model's categories as examples, not an enum", () => {
    const doc = OpenApi.fromApi(makeApi(churn, new Map([["state", ["CA", "NM", "TX"]]]))) as unknown as OpenApiDoc
    const state = JSON.stringify(doc.components.schemas.PredictionRow!.properties.state)
    assert.include(state, `"type":"string"`)
    assert.include(state, `"examples":["CA","NM","TX"]`)
    assert.notInclude(state, "enum")
    assert.include(JSON.stringify(doc.components.schemas.PredictionRow!.properties.lastmonth_activity), `"type":"number"`)
  })
})

const TOKEN = "tok"
const server = (files: Record<string, string>) =>
  ApiServer(1 << 20).pipe(
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provideMerge(TestLayer(files, { dataset: churn, api_token: TOKEN }))
  )

describe("/prediction with categories", () => {
  const test = exported.replace(/,#N\/A,x,no/, ",CA,x,no")
  it.effect("takes text categories in JSON and CSV, answers labels, and names an unseen category in warnings", () =>
    Effect.gen(function*() {
      yield* fullProcess()
      const client = yield* HttpClient.HttpClient
      const post = (body: unknown) => client.execute(HttpClientRequest.post("/prediction").pipe(HttpClientRequest.bodyUnsafeJson(body))).pipe(
        Effect.flatMap((r) => Effect.map(r.json, (b) => ({ status: r.status, body: b as Record<string, Array<unknown>> })))
      )
      const rows = [
        { lastmonth_activity: 1, lastyear_activity: 10, number_of_employees: null, state: "NM", plan: "basic" },
        { lastmonth_activity: 2, lastyear_activity: 20, number_of_employees: 5, state: "ZZ", plan: null }
      ]
      const r = yield* post({ rows })
      assert.strictEqual(r.status, 200, JSON.stringify(r.body))
      assert.strictEqual(r.body.predictions!.length, 2)
      assert.deepStrictEqual(r.body.labels, r.body.predictions!.map((p) => (p === 1 ? "yes" : "no")))
      assert.deepStrictEqual(r.body.warnings, [`state: the category "ZZ" (1 row) was not seen in training; encoded as unknown`])
      const csvText = "plan,state,lastmonth_activity,lastyear_activity,number_of_employees\nbasic,NM,1,10,NA\n,ZZ,2,20,5\n"
      const c = yield* post({ csv: csvText })
      assert.strictEqual(c.status, 200)
      assert.deepStrictEqual(c.body.probabilities, r.body.probabilities)
      assert.deepStrictEqual(c.body.warnings, r.body.warnings)
      const bad = yield* post({ rows: [{ ...rows[0], lastmonth_activity: "many" }] })
      assert.strictEqual(bad.status, 400)
      // the served OpenAPI document types a categorical feature as text
      const doc = (yield* (yield* client.execute(HttpClientRequest.get("/openapi.json"))).json) as OpenApiDoc
      assert.include(JSON.stringify(doc.components.schemas.PredictionRow!.properties.state), `"type":"string"`)
    }).pipe(Effect.provide(server({ [`${IN}/churn.csv`]: exported, "/t/data/testdata/test.csv": test }))), 60_000)
})
