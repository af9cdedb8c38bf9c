import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { DuckDb, lit } from "../src/data/DuckDb.js"
import { PredictionLog, predictionLogDir, predictionLogGlob } from "../src/data/PredictionLog.js"
import { DEFAULT_DATASET } from "../src/domain/Dataset.js"
import { withGeneratedCategories } from "../src/programs/GenerateRich.js"
import { writeBulkData } from "../src/programs/GenerateData.js"
import { AppConfig } from "../src/services/AppConfig.js"
import { ApiServer } from "../src/http/Server.js"
import { calibrateAll } from "../src/lib/Calibration.js"
import { estimate } from "../src/lib/drift/Cbpe.js"
import { classificationReport, rocAuc } from "../src/lib/Metrics.js"
import { fullProcess } from "../src/programs/FullProcess.js"
import { prng } from "../src/programs/GenerateData.js"
import { judgeWindows, monitorProgram } from "../src/programs/Monitor.js"
import { Deployer } from "../src/services/Deployer.js"
import { FileStore } from "../src/services/FileStore.js"
import type { ModelArtifact } from "../src/domain/Schemas.js"
import { predictFrame } from "../src/services/Model.js"

/** Predictions of numeric feature columns (the simulated data has no categories). */
const predictColumns = (m: ModelArtifact, features: ReadonlyArray<Float64Array>, rows: number) =>
  predictFrame(m, { rows, featureNames: m.features, features, levels: features.map(() => null) })
import { Monitor } from "../src/services/Monitor.js"
import { Tracking } from "../src/services/Tracking.js"
import { TestLayer } from "./layers.js"

/**
 * Simulated customers whose truth is known: three features, and P(exited = 1 | x) a logistic
 * function of them, the same in every window (covariate shift moves only the features).
 */
const simulate = (n: number, seed: number, shift: readonly [number, number, number] = [0, 0, 0], prefix = `s${seed}`) => {
  const rand = prng(seed)
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())
  const x = [new Float64Array(n), new Float64Array(n), new Float64Array(n)]
  const y = new Float64Array(n)
  const ids: Array<string> = []
  for (let i = 0; i < n; i++) {
    const a = 100 + 40 * (normal() + shift[0])
    const b = 50 + 20 * (normal() + shift[1])
    const c = 10 + 5 * (normal() + shift[2])
    const logit = -0.5 + 1.6 * ((a - 100) / 40) - 1.1 * ((b - 50) / 20) + 0.4 * ((c - 10) / 5)
    x[0]![i] = a
    x[1]![i] = b
    x[2]![i] = c
    y[i] = rand() < 1 / (1 + Math.exp(-logit)) ? 1 : 0
    ids.push(`${prefix}-${i}`)
  }
  return { x, y, ids, n }
}

const toCsv = (d: ReturnType<typeof simulate>) =>
  ["corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited",
    ...d.ids.map((id, i) => `${id},${d.x[0]![i]},${d.x[1]![i]},${d.x[2]![i]},${d.y[i]}`)].join("\n") + "\n"

const labelsCsv = (d: ReturnType<typeof simulate>, keep: (i: number) => boolean = () => true) =>
  ["corporation,exited", ...d.ids.flatMap((id, i) => (keep(i) ? [`${id},${d.y[i]}`] : []))].join("\n") + "\n"

const DAY = 86_400_000
const T0 = Date.UTC(2026, 0, 5)

const training = simulate(20_000, 1)
const files = {
  "/t/data/sourcedata/train.csv": toCsv(training),
  "/t/data/testdata/test.csv": toCsv(simulate(3_000, 2))
}

/** Serve a window's rows through the live model into the prediction log, 500 rows a request. */
const serve = (d: ReturnType<typeof simulate>, day: number) =>
  Effect.gen(function*() {
    const live = yield* Effect.flatMap(Deployer, (x) => x.current())
    const log = yield* PredictionLog
    for (let off = 0, k = 0; off < d.n; off += 500, k++) {
      const end = Math.min(d.n, off + 500)
      const features = d.x.map((col) => col.slice(off, end))
      const p = predictColumns(live.model, features, end - off)
      yield* log.record({
        requestId: `day${day}-req${k}`, at: T0 + day * DAY + k * 1000, releaseId: live.releaseId, rows: end - off,
        features, probabilities: p.probabilities, predictions: p.predictions, ids: d.ids.slice(off, end)
      })
    }
    return live
  })

describe("Monitor", () => {
  it.effect("CBPE under covariate shift: on windows of 5,000 rows the estimated F1 is within 0.03 of the realised F1; realised metrics, drift and labels", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      const monitor = yield* Monitor
      const first = yield* fullProcess()
      assert.strictEqual(first.outcome, "redeployed")
      const live = yield* Effect.flatMap(Deployer, (x) => x.current())
      // calibrated on the held-out fifth of the 20,000 training rows: isotonic
      assert.strictEqual(live.model.calibration?.method, "isotonic")
      assert.strictEqual(live.model.calibration?.rows, 4000)

      // day 0: no shift; day 1: the deciding feature moves up; day 2: down and another moves; day 3: only a feature the truth hardly uses
      const shifts: ReadonlyArray<readonly [number, number, number]> = [[0, 0, 0], [0.8, 0, 0], [-0.7, 0.6, 0], [0, 0, 1.5]]
      const windows = shifts.map((s, day) => simulate(5_000, 10 + day, s, `d${day}`))
      for (const [day, d] of windows.entries()) yield* serve(d, day)
      yield* Effect.flatMap(PredictionLog, (l) => l.flush)

      // labels arrive later: all of days 0-2, half of day 3; and a bad file
      yield* store.writeAtomic("/t/data/labels/early.csv", windows.slice(0, 3).map((d) => labelsCsv(d)).join("").replace(/\ncorporation,exited\n/g, "\n"))
      yield* store.writeAtomic("/t/data/labels/late.csv", labelsCsv(windows[3]!, (i) => i % 2 === 0))
      yield* store.writeAtomic("/t/data/labels/broken.csv", "corporation,exited\nd0-1,1\nd0-2,yes\n")

      const result = yield* monitorProgram(null)
      assert.deepStrictEqual(result.labelFiles, [{ name: "early.csv", rows: 15_000 }, { name: "late.csv", rows: 2_500 }])
      assert.deepStrictEqual(result.rejectedLabelFiles, [{ name: "broken.csv", error: `broken.csv: line 3, column "exited": "yes" is not a 0/1 label` }])
      assert.isTrue(yield* store.exists("/t/data/quarantine"))
      assert.isFalse(yield* store.exists("/t/data/labels/broken.csv"))
      assert.deepStrictEqual(result.calibration, { [live.releaseId]: "isotonic" })
      assert.strictEqual(result.loggedRows, 20_000)

      const { windows: got } = yield* monitor.latest()
      assert.deepStrictEqual(got.map((w) => [w.start, w.end, w.releaseId, w.rows, w.labelled]), windows.map((_, day) => [
        new Date(T0 + day * DAY).toISOString(), new Date(T0 + (day + 1) * DAY).toISOString(), live.releaseId, 5000, day === 3 ? 2500 : 5000
      ]))
      const report: Array<string> = []
      for (const [day, d] of windows.entries()) {
        const w = got[day]!
        const p = predictColumns(live.model, d.x, d.n)
        const labelled = Array.from({ length: d.n }, (_, i) => i).filter((i) => day !== 3 || i % 2 === 0)
        const actual = labelled.map((i) => d.y[i]!)
        const predicted = labelled.map((i) => p.predictions[i]!)
        // realised: exactly scikit-learn's figures on the labelled rows
        const cr = classificationReport(actual, predicted, [0, 1])
        assert.closeTo(w.realised!.f1, cr.perClass["1"]!.f1, 1e-12)
        assert.closeTo(w.realised!.precision, cr.perClass["1"]!.precision, 1e-12)
        assert.closeTo(w.realised!.recall, cr.perClass["1"]!.recall, 1e-12)
        // ROC AUC over probability bins 1/20,000 wide: within 1e-3 of the exact figure
        assert.closeTo(w.realised!.rocAuc!, rocAuc(actual, labelled.map((i) => p.probabilities[i]!))!, 1e-3)
        // estimated: the binned scan agrees with the pure CBPE on the calibrated probabilities of every row
        const pure = estimate(calibrateAll(live.model.calibration, p.probabilities), p.predictions)
        assert.closeTo(w.estimated.f1, pure.f1, 1e-4)
        assert.closeTo(w.estimated.precision, pure.precision, 1e-4)
        assert.closeTo(w.estimated.recall, pure.recall, 1e-4)
        assert.closeTo(w.estimated.rocAuc!, pure.rocAuc!, 1e-3)
        // and it is right: within 0.03 of the F1 realised on the whole window's true labels
        const truth = classificationReport(Array.from(d.y), Array.from(p.predictions), [0, 1]).perClass["1"]!.f1
        report.push(`day ${day}: estimated F1 ${w.estimated.f1.toFixed(4)}, realised ${truth.toFixed(4)}, |Δ| ${Math.abs(w.estimated.f1 - truth).toFixed(4)}; est. AUC ${w.estimated.rocAuc!.toFixed(4)} vs ${w.realised!.rocAuc!.toFixed(4)}`)
        assert.isBelow(Math.abs(w.estimated.f1 - truth), 0.03, report.at(-1))
        assert.isBelow(Math.abs(w.estimated.rocAuc! - w.realised!.rocAuc!), 0.03, report.at(-1))
      }
      console.log(report.join("\n"))
      // the shift really moved the F1: the check is not trivially passed by constant windows
      assert.isAbove(Math.max(...got.map((w) => w.realised!.f1)) - Math.min(...got.map((w) => w.realised!.f1)), 0.05)

      // drift per window: nothing on day 0; the shifted features (and the predictions) on the others
      const flagged = got.map((w) => w.drift.filter((d) => d.flagged).map((d) => d.feature))
      assert.deepStrictEqual(got[0]!.drift.map((d) => [d.feature, d.kind]), [
        ["lastmonth_activity", "numeric"], ["lastyear_activity", "numeric"], ["number_of_employees", "numeric"], ["prediction", "prediction"]
      ])
      assert.deepStrictEqual(flagged[0], [])
      assert.deepStrictEqual(flagged[1], ["lastmonth_activity", "prediction"])
      assert.deepStrictEqual(flagged[2], ["lastmonth_activity", "lastyear_activity", "prediction"])
      assert.includeMembers(flagged[3]!, ["number_of_employees"])
      assert.strictEqual(got[0]!.drift[0]!.currentRows, 5000)

      // a second run takes in nothing again
      const again = yield* monitorProgram(null)
      assert.deepStrictEqual([again.labelFiles, again.rejectedLabelFiles], [[], []])
      const same = (yield* monitor.latest()).windows
      // the same windows (DuckDB's parallel sums may differ in the last bits)
      assert.deepStrictEqual(same.map((w) => [w.start, w.rows, w.labelled, w.realised, w.drift]), got.map((w) => [w.start, w.rows, w.labelled, w.realised, w.drift]))
      same.forEach((w, k) => assert.closeTo(w.estimated.f1, got[k]!.estimated.f1, 1e-12))
      const rejected = yield* Effect.flatMap(Tracking, (t) => t.rejectedFiles())
      assert.deepStrictEqual(rejected.map((r) => r.fileName), ["broken.csv"])
    }).pipe(Effect.provide(TestLayer(files, { prediction_log_max_rows: 100_000, monitor_window: "1d" }))), 120_000)

  it.effect("an older model without calibration: CBPE uses the raw probabilities and says so", () =>
    Effect.gen(function*() {
      yield* fullProcess()
      const live = yield* Effect.flatMap(Deployer, (x) => x.current())
      assert.isUndefined(live.model.calibration)
      const d = simulate(300, 5)
      yield* serve(d, 0)
      yield* Effect.flatMap(PredictionLog, (l) => l.flush)
      const r = yield* monitorProgram(null)
      assert.deepStrictEqual(r.calibration, { [live.releaseId]: "none (raw probabilities)" })
      const w = (yield* Effect.flatMap(Monitor, (m) => m.latest())).windows[0]!
      const p = predictColumns(live.model, d.x, d.n)
      assert.closeTo(w.estimated.f1, estimate(p.probabilities, p.predictions).f1, 1e-12)
      assert.isNull(w.realised)
    }).pipe(Effect.provide(TestLayer({
      // 60 training rows: 12 held out, too few to calibrate
      "/t/data/sourcedata/train.csv": toCsv(simulate(60, 3)),
      "/t/data/testdata/test.csv": toCsv(simulate(100, 4))
    }))), 60_000)
})

describe("drift_trigger \"estimated\" and the monitoring alerts", () => {
  it.effect("an estimated F1 below the live test F1 − tolerance retrains in fullprocess; estimated-drop and serving-drift are raised once per window", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      const tracking = yield* Tracking
      yield* fullProcess()
      const release1 = (yield* Effect.flatMap(Deployer, (x) => x.current())).releaseId
      const liveF1 = (yield* Effect.flatMap(Deployer, (x) => x.current())).f1!
      // served traffic moved where the model does worse (the day-2 shift above: F1 about 0.53)
      yield* serve(simulate(5_000, 20, [-0.7, 0.6, 0], "m"), 0)
      yield* Effect.flatMap(PredictionLog, (l) => l.flush)
      const first = yield* monitorProgram(null)
      assert.deepStrictEqual(first.alerts, ["estimated-drop", "serving-drift"])
      const second = yield* monitorProgram(null)
      assert.deepStrictEqual(second.alerts, [], "the same window is not announced twice")
      const delivered = (yield* tracking.alertDeliveries()).map((a) => a.event)
      assert.deepStrictEqual(delivered, ["deployed", "estimated-drop", "serving-drift"])

      // new training data arrives: the drift check reads the served windows
      yield* store.writeAtomic("/t/data/sourcedata/more.csv", toCsv(simulate(2_000, 21, [0, 0, 0], "more")))
      const run = yield* fullProcess()
      assert.strictEqual(run.outcome, "redeployed")
      assert.include(run.drift!.reason, `estimated drift (drift_trigger "estimated")`)
      assert.include(run.drift!.reason, `threshold: live test F1 ${liveF1.toFixed(4)} − 0.05`)
      assert.notStrictEqual((yield* Effect.flatMap(Deployer, (x) => x.current())).releaseId, release1)
    }).pipe(Effect.provide(TestLayer({
      "/t/data/sourcedata/train.csv": toCsv(simulate(5_000, 1)),
      "/t/data/testdata/test.csv": toCsv(simulate(2_000, 2))
    }, { drift_trigger: "estimated", deploy_gate: "always", alert_webhook_url: "http://127.0.0.1:9/", alert_retries: 0, alert_timeout_ms: 1000 }))), 60_000)

  it.effect("with nothing served, drift_trigger \"estimated\" makes no decision", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      yield* fullProcess()
      yield* store.writeAtomic("/t/data/sourcedata/more.csv", toCsv(simulate(500, 22, [0, 0, 0], "more")))
      const run = yield* fullProcess()
      assert.strictEqual(run.outcome, "no-decision")
      assert.include(run.drift!.reason, "no served rows of release")
    }).pipe(Effect.provide(TestLayer({
      "/t/data/sourcedata/train.csv": toCsv(simulate(1_000, 1)),
      "/t/data/testdata/test.csv": toCsv(simulate(500, 2))
    }, { drift_trigger: "estimated" }))), 60_000)
})

describe("judgeWindows", () => {
  const w = (start: string, releaseId: string, estimated: number, realised: number | null, flagged: ReadonlyArray<string> = []) => ({
    start, end: start, releaseId, rows: 100, labelled: realised === null ? 0 : 50,
    realised: realised === null ? null : { f1: realised, precision: 0, recall: 0, rocAuc: null },
    estimated: { f1: estimated, precision: 0, recall: 0, rocAuc: null },
    drift: ["a", "b", "prediction"].map((feature) => ({
      feature, kind: feature === "prediction" ? "prediction" as const : "numeric" as const, psi: 0, ksStatistic: 0, ksPValue: 1,
      missingRateReference: 0, missingRateCurrent: 0, meanReference: 0, meanCurrent: 0, currentRows: 100, flagged: flagged.includes(feature), reasons: []
    }))
  })
  it("judges the live release's newest window: estimated and realised F1 against its test F1 − tolerance, and the flagged inputs", () => {
    const windows = [w("2026-01-01T00:00:00.000Z", "r1", 0.5, 0.5), w("2026-01-02T00:00:00.000Z", "r1", 0.76, 0.70, ["b"]), w("2026-01-03T00:00:00.000Z", "r0", 0.1, 0.1)]
    const v = judgeWindows(windows, "r1", 0.8, 0.05)
    assert.strictEqual(v.window?.start, "2026-01-02T00:00:00.000Z")
    assert.closeTo(v.threshold!, 0.75, 1e-12)
    assert.deepStrictEqual([v.estimatedDrop, v.realisedDrop, v.servingDrift], [false, true, ["b"]])
    assert.include(v.reason, "realised F1 0.7000 on 50 labelled row(s) < 0.7500")
    const unlabelled = judgeWindows([w("2026-01-02T00:00:00.000Z", "r1", 0.7, null)], "r1", 0.8, 0.05)
    assert.deepStrictEqual([unlabelled.estimatedDrop, unlabelled.realisedDrop], [true, false])
    assert.include(unlabelled.reason, "no labels yet")
    assert.isNull(judgeWindows(windows, "r2", 0.8, 0.05).window)
  })
})

const TOKEN = "s3cret-token"

describe("Monitoring over HTTP", () => {
  const server = ApiServer(1 << 20).pipe(
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provideMerge(TestLayer({
      "/t/data/sourcedata/train.csv": toCsv(simulate(2000, 7)),
      "/t/data/testdata/test.csv": toCsv(simulate(300, 8))
    }, { api_token: TOKEN, monitor_window: "30d" }))
  )
  const send = (request: HttpClientRequest.HttpClientRequest) =>
    Effect.gen(function*() {
      const res = yield* (yield* HttpClient.HttpClient).execute(request)
      const text = yield* res.text
      return { status: res.status, text, body: () => JSON.parse(text) }
    })

  it.effect("/prediction rows (JSON and CSV, with ids) are logged; POST /labels needs the token; GET /monitoring has the documented shape", () =>
    Effect.gen(function*() {
      yield* fullProcess()
      const d = simulate(40, 9)
      const rows = d.ids.slice(0, 20).map((id, i) => ({ corporation: id, lastmonth_activity: d.x[0]![i], lastyear_activity: d.x[1]![i], number_of_employees: d.x[2]![i] }))
      const a = yield* send(HttpClientRequest.post("/prediction").pipe(HttpClientRequest.bodyUnsafeJson({ rows })))
      assert.strictEqual(a.status, 200, a.text)
      const csvDoc = ["corporation,lastmonth_activity,lastyear_activity,number_of_employees",
        ...d.ids.slice(20).map((id, k) => `${id},${d.x[0]![20 + k]},${d.x[1]![20 + k]},${d.x[2]![20 + k]}`)].join("\n")
      const b = yield* send(HttpClientRequest.post("/prediction").pipe(HttpClientRequest.bodyText(csvDoc, "text/csv")))
      assert.strictEqual(b.status, 200, b.text)
      yield* Effect.flatMap(PredictionLog, (l) => l.flush)

      const labels = labelsCsv(d, (i) => i < 30)
      const denied = yield* send(HttpClientRequest.post("/labels").pipe(HttpClientRequest.bodyText(labels, "text/csv")))
      assert.strictEqual(denied.status, 401)
      const auth = { authorization: `Bearer ${TOKEN}` }
      const bad = yield* send(HttpClientRequest.post("/labels").pipe(HttpClientRequest.bodyUnsafeJson({ csv: "corporation\nx\n" }), HttpClientRequest.setHeaders(auth)))
      assert.strictEqual(bad.status, 400)
      assert.include(bad.body().message, "missing column(s) exited")
      const ok = yield* send(HttpClientRequest.post("/labels").pipe(HttpClientRequest.bodyText(labels, "text/csv"), HttpClientRequest.setHeaders(auth)))
      assert.deepStrictEqual([ok.status, ok.body()], [200, { rows: 30, duplicate: false }])
      const twice = yield* send(HttpClientRequest.post("/labels").pipe(HttpClientRequest.bodyText(labels, "text/csv"), HttpClientRequest.setHeaders(auth)))
      assert.deepStrictEqual(twice.body(), { rows: 0, duplicate: true })

      assert.deepStrictEqual((yield* send(HttpClientRequest.get("/monitoring"))).body(), { windows: [] })
      assert.include((yield* send(HttpClientRequest.get("/"))).text, `id="production-empty"`)
      yield* monitorProgram(null)
      // the dashboard's Production section: the chart, the window's volume, labels, F1s and drift
      const page = (yield* send(HttpClientRequest.get("/"))).text
      const section = page.slice(page.indexOf(`<section id="production">`), page.indexOf("</section>", page.indexOf(`<section id="production">`)))
      assert.include(section, `<svg id="production-chart"`)
      assert.include(section, `class="estimated"`)
      assert.include(section, `class="realised"`)
      assert.include(section, `class="threshold"`)
      assert.match(section, /<\/span> 40<\/td><td>30<\/td>/)
      const m = (yield* send(HttpClientRequest.get("/monitoring"))).body()
      assert.deepStrictEqual(Object.keys(m), ["windows"])
      assert.lengthOf(m.windows, 1)
      const w = m.windows[0]
      assert.deepStrictEqual(Object.keys(w), ["start", "end", "releaseId", "rows", "labelled", "realised", "estimated", "drift"])
      assert.deepStrictEqual([w.rows, w.labelled], [40, 30])
      assert.deepStrictEqual(Object.keys(w.realised), ["f1", "precision", "recall", "rocAuc"])
      assert.deepStrictEqual(Object.keys(w.estimated), ["f1", "precision", "recall", "rocAuc"])
      assert.strictEqual(w.releaseId, (yield* Effect.flatMap(Deployer, (x) => x.current())).releaseId)
      assert.strictEqual(new Date(w.end).getTime() - new Date(w.start).getTime(), 30 * DAY)
      assert.lengthOf(w.drift, 4)
    }).pipe(Effect.provide(server)), 60_000)
})

describe("Monitoring served categories", () => {
  const dataset = withGeneratedCategories(DEFAULT_DATASET, 2, ["yes", "no"])
  const server = ApiServer(1 << 20).pipe(
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provideMerge(TestLayer({}, { dataset, monitor_window: "30d" }))
  )
  it.effect("a categorical feature is logged as the text received, and its drift on served traffic is PSI and chi-square, new categories named", () =>
    Effect.gen(function*() {
      yield* writeBulkData("/t/data/sourcedata", 2000, 1, 31, dataset)
      yield* writeBulkData("/t/data/testdata", 300, 1, 32, dataset)
      yield* fullProcess()
      // served: every state is one the training never had, the plans as usual
      const rows = Array.from({ length: 200 }, (_, i) => ({
        corporation: `c${i}`, lastmonth_activity: i % 100, lastyear_activity: (i * 7) % 200, number_of_employees: 1 + (i % 300),
        state: i % 4 === 0 ? "ZZ" : "YY", plan: ["basic", "plus", "premium"][i % 3]!
      }))
      const client = yield* HttpClient.HttpClient
      const r = yield* client.execute(HttpClientRequest.post("/prediction").pipe(HttpClientRequest.bodyUnsafeJson({ rows })))
      assert.strictEqual(r.status, 200)
      yield* Effect.flatMap(PredictionLog, (l) => l.flush)
      const config = yield* AppConfig
      const store = yield* FileStore
      const logged = yield* Effect.flatMap(DuckDb, (d) => d.rows(
        `SELECT "f:state" AS state, count(*) AS n FROM read_parquet(${lit(store.localPath(predictionLogGlob(predictionLogDir(config))))}) GROUP BY 1 ORDER BY 1`))
      assert.deepStrictEqual(logged.map((x) => [x.state, Number(x.n)]), [["YY", 150], ["ZZ", 50]])
      yield* monitorProgram(null)
      const m = yield* Effect.flatMap(Monitor, (x) => x.latest())
      assert.lengthOf(m.windows, 1)
      const state = m.windows[0]!.drift.find((d) => d.feature === "state")!
      assert.strictEqual(state.kind, "categorical")
      assert.isTrue(state.flagged)
      assert.isAbove(state.psi!, 1)
      assert.isBelow(state.chiSquarePValue!, 1e-6)
      assert.deepStrictEqual(state.newCategories, [{ category: "YY", share: 0.75 }, { category: "ZZ", share: 0.25 }])
      const plan = m.windows[0]!.drift.find((d) => d.feature === "plan")!
      assert.strictEqual(plan.kind, "categorical")
      assert.deepStrictEqual(plan.newCategories, [])
    }).pipe(Effect.provide(server)), 120_000)
})
