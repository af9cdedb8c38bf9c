/**
 * The figures of the drift check, the scoring and the diagnostics, pinned on fixed generated
 * data: every decision and number must stay exactly what it was before the fullprocess
 * speed-up (the inline snapshots were recorded with the code before it). Ties, missing
 * values, negative zero, exact and asymptotic KS, and a run through fullprocess on both paths.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { featureDrift } from "../src/lib/DataDrift.js"
import { classificationReport, logLoss, rocAuc } from "../src/lib/Metrics.js"
import { confusionMatrix } from "../src/lib/Stats.js"
import { generateCsv, prng } from "../src/programs/GenerateData.js"
import { fullProcess } from "../src/programs/FullProcess.js"
import { reportPaths } from "../src/programs/Steps.js"
import { Deployer } from "../src/services/Deployer.js"
import { FileStore } from "../src/services/FileStore.js"
import { Scorer } from "../src/services/Scorer.js"
import { Tracking } from "../src/services/Tracking.js"
import { csv, ruled, TestLayer } from "./layers.js"

/** Every number in full (JSON keeps a double's shortest round-trip form; -0 and NaN spelled out). */
const pin = (x: unknown) =>
  JSON.stringify(x, (_k, v) => (typeof v === "number" ? (Object.is(v, -0) ? "-0" : Number.isNaN(v) ? "NaN" : v) : v))

const column = (n: number, seed: number, f: (r: () => number) => number) => {
  const rand = prng(seed)
  return Float64Array.from({ length: n }, () => f(rand))
}

describe("pinned data-drift figures", () => {
  it("whole numbers with many ties, large samples (asymptotic KS)", () => {
    const ref = column(40_000, 1, (r) => Math.round(r() * 700))
    const cur = column(120_000, 2, (r) => Math.round(r() * 690 + 12))
    expect(pin(featureDrift("ties", ref, cur))).toMatchInlineSnapshot(`"{"feature":"ties","psi":0.003337998190698967,"ksStatistic":0.017141666666666666,"ksPValue":4.4088935304160936e-8,"ksMethod":"asymptotic","missingRateReference":0,"missingRateCurrent":0,"meanReference":349.114725,"meanCurrent":356.2033083333333,"referenceRows":40000,"currentRows":120000,"flagged":true,"reasons":["KS p 4.41e-8 < 0.01"]}"`)
  })

  it("doubles, missing values, zeros of both signs, a shift", () => {
    const ref = column(30_000, 3, (r) => (r() < 0.05 ? Number.NaN : r() < 0.01 ? -0 : r() < 0.01 ? 0 : (r() - 0.5) * 1e3))
    const cur = column(25_000, 4, (r) => (r() < 0.1 ? Number.NaN : r() < 0.02 ? 0 : (r() - 0.45) * 1.1e3))
    expect(pin(featureDrift("doubles", ref, cur, { psiThreshold: 0.1, ksAlpha: 0.05 }))).toMatchInlineSnapshot(`"{"feature":"doubles","psi":0.0604756016526173,"ksStatistic":0.0936073183644407,"ksPValue":6.022170893847777e-96,"ksMethod":"asymptotic","missingRateReference":0.0492,"missingRateCurrent":0.10352,"meanReference":1.2429119808351994,"meanCurrent":53.73477506950089,"referenceRows":30000,"currentRows":25000,"flagged":true,"reasons":["KS p 6.02e-96 < 0.05"]}"`)
  })

  it("small samples (exact KS), tied reference deciles, an all-missing sample", () => {
    const ref = column(900, 5, (r) => (r() < 0.6 ? 3 : Math.floor(r() * 10)))
    const cur = column(700, 6, (r) => Math.floor(r() * 12))
    expect(pin(featureDrift("small", ref, cur))).toMatchInlineSnapshot(`"{"feature":"small","psi":1.8910597558158384,"ksStatistic":0.4634920634920635,"ksPValue":0,"ksMethod":"exact","missingRateReference":0,"missingRateCurrent":0,"meanReference":3.5055555555555555,"meanCurrent":5.6414285714285715,"referenceRows":900,"currentRows":700,"flagged":true,"reasons":["PSI 1.891 > 0.25","KS p 0.00e+0 < 0.01"]}"`)
    expect(pin(featureDrift("empty", ref, Float64Array.from([Number.NaN, Number.NaN])))).toMatchInlineSnapshot(`"{"feature":"empty","psi":null,"ksStatistic":null,"ksPValue":null,"ksMethod":null,"missingRateReference":0,"missingRateCurrent":1,"meanReference":3.5055555555555555,"meanCurrent":null,"referenceRows":900,"currentRows":2,"flagged":false,"reasons":["no PSI or KS: a sample has no value for this feature"]}"`)
  })
})

describe("pinned classification figures", () => {
  it("ROC AUC, log loss, the report and the confusion matrix on 200,000 rows with tied scores", () => {
    const n = 200_000
    const rand = prng(7)
    const p = new Float64Array(n)
    const y = new Float64Array(n)
    for (let i = 0; i < n; i++) {
      // a coarse score (many ties) and labels that follow it loosely
      p[i] = i % 3 === 0 ? Math.round(rand() * 50) / 50 : rand()
      y[i] = rand() < 0.2 + 0.6 * p[i]! ? 1 : 0
    }
    const predicted = Uint8Array.from(p, (v) => (v > 0.5 ? 1 : 0))
    expect(pin({
      rocAuc: rocAuc(y, p), logLoss: logLoss(y, p),
      report: classificationReport(y, predicted, [0, 1]), reportNoLabels: classificationReport(y, predicted),
      cm: confusionMatrix(y, predicted)
    })).toMatchInlineSnapshot(`"{"rocAuc":0.6988400489782979,"logLoss":0.7449889410464436,"report":{"perClass":{"0":{"precision":0.6492678177591448,"recall":0.6516827042927656,"f1":0.6504730197120576,"support":100285},"1":{"precision":0.648376316160335,"recall":0.6459509602366745,"f1":0.6471613658399353,"support":99715}},"accuracy":0.648825,"macroAvg":{"precision":0.6488220669597399,"recall":0.6488168322647201,"f1":0.6488171927759965,"support":200000},"weightedAvg":{"precision":0.6488233373495181,"recall":0.648825,"f1":0.6488219118827643,"support":200000}},"reportNoLabels":{"perClass":{"0":{"precision":0.6492678177591448,"recall":0.6516827042927656,"f1":0.6504730197120576,"support":100285},"1":{"precision":0.648376316160335,"recall":0.6459509602366745,"f1":0.6471613658399353,"support":99715}},"accuracy":0.648825,"macroAvg":{"precision":0.6488220669597399,"recall":0.6488168322647201,"f1":0.6488171927759965,"support":200000},"weightedAvg":{"precision":0.6488233373495181,"recall":0.648825,"f1":0.6488219118827643,"support":200000}},"cm":[[65354,34931],[35304,64411]]}"`)
    expect(rocAuc(Float64Array.from([1, 1, 1]), Float64Array.from([0.2, 0.4, 0.9]))).toBeNull()
  })
})

const IN = "/t/data/sourcedata"
// a hard test set (part of it from a shifted model), so that the live F1 is modest and the new rows do not drift
const TEST = { "/t/data/testdata/a.csv": generateCsv(300, 11), "/t/data/testdata/b.csv": generateCsv(150, 12, undefined, { shift: -4 }) }

/** What a run decided and measured, without times and hashes. */
const figures = (s: Awaited<ReturnType<typeof fullProcess>> extends never ? never : import("../src/programs/FullProcess.js").FullProcessSummary) => ({
  outcome: s.outcome,
  drift: s.drift && { ...s.drift },
  dataDrift: s.dataDrift && { drifted: s.dataDrift.drifted, features: s.dataDrift.features },
  gate: s.gate,
  score: s.score,
  trainingRows: s.training?.rows
})

describe("pinned fullprocess figures", () => {
  it.effect("no drift: 30,000 new rows scored by the live model, data drift per feature", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      const tracking = yield* Tracking
      yield* fullProcess()
      yield* store.writeAtomic(`${IN}/new-a.csv`, generateCsv(15_000, 21))
      yield* store.writeAtomic(`${IN}/new-b.csv`, generateCsv(15_000, 22, undefined, { duplicates: 40 }))
      const s = yield* fullProcess()
      expect(s.outcome).toBe("no-drift")
      expect(pin(figures(s))).toMatchInlineSnapshot(`"{"outcome":"no-drift","drift":{"test":"raw","drifted":false,"newScore":0.7266013220879872,"deployedScore":0.602076124567474,"threshold":0.602076124567474,"historySize":0,"reason":"no drift (drift_trigger \\"performance\\"): performance on 30000 new row(s): new score 0.7266 >= deployed score 0.6021; no data drift in 3 feature(s)"},"dataDrift":{"drifted":false,"features":[{"feature":"lastmonth_activity","psi":0.0027714970980396636,"ksStatistic":0.0232,"ksPValue":0.019834359655760275,"ksMethod":"asymptotic","missingRateReference":0,"missingRateCurrent":0,"meanReference":343.1814,"meanCurrent":350.6936,"referenceRows":5000,"currentRows":30000,"flagged":false,"reasons":[]},{"feature":"lastyear_activity","psi":0.001458133551469268,"ksStatistic":0.013333333333333336,"ksPValue":0.4312556336220567,"ksMethod":"asymptotic","missingRateReference":0,"missingRateCurrent":0,"meanReference":6212.4874,"meanCurrent":6181.241266666667,"referenceRows":5000,"currentRows":30000,"flagged":false,"reasons":[]},{"feature":"number_of_employees","psi":0.0033774052521981135,"ksStatistic":0.011133333333333328,"ksPValue":0.662829390093535,"ksMethod":"asymptotic","missingRateReference":0,"missingRateCurrent":0,"meanReference":103.2962,"meanCurrent":102.58026666666666,"referenceRows":5000,"currentRows":30000,"flagged":false,"reasons":[]}]}}"`)
      expect(pin((yield* tracking.scores()).map((r) => [r.purpose, r.dataKind, r.rows, r.f1]))).toMatchInlineSnapshot(`"[["training","test",450,0.602076124567474],["deployed","test",450,0.602076124567474],["report","test",450,0.602076124567474],["drift-check","new",30000,0.7266013220879872]]"`)
    }).pipe(Effect.provide(TestLayer({ [`${IN}/base.csv`]: generateCsv(5_000, 20), ...TEST }))))

  it.effect("drift with deploy_gate \"always\": retrain, score, deploy, diagnostics and report", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      const tracking = yield* Tracking
      yield* fullProcess()
      yield* store.writeAtomic(`${IN}/flipped.csv`, csv(ruled(20_000, 9, true)))
      const s = yield* fullProcess()
      expect(s.outcome).toBe("redeployed")
      expect(pin(figures(s))).toMatchInlineSnapshot(`"{"outcome":"redeployed","drift":{"test":"raw","drifted":true,"newScore":0,"deployedScore":1,"threshold":1,"historySize":0,"reason":"performance drift (drift_trigger \\"performance\\"): performance on 20000 new row(s): new score 0.0000 < deployed score 1.0000; no data drift in 3 feature(s)"},"dataDrift":{"drifted":false,"features":[{"feature":"lastmonth_activity","psi":0.0014501510563658573,"ksStatistic":0.011199999999999988,"ksPValue":0.898996535330207,"ksMethod":"asymptotic","missingRateReference":0,"missingRateCurrent":0,"meanReference":324.361,"meanCurrent":327.6941,"referenceRows":3000,"currentRows":20000,"flagged":false,"reasons":[]},{"feature":"lastyear_activity","psi":0.00434629839684348,"ksStatistic":0.011833333333333335,"ksPValue":0.8584141322530695,"ksMethod":"asymptotic","missingRateReference":0,"missingRateCurrent":0,"meanReference":2485.352,"meanCurrent":2490.4276,"referenceRows":3000,"currentRows":20000,"flagged":false,"reasons":[]},{"feature":"number_of_employees","psi":0.002249209484514571,"ksStatistic":0.01146666666666668,"ksPValue":0.8826761815633967,"ksMethod":"asymptotic","missingRateReference":0,"missingRateCurrent":0,"meanReference":24.857666666666667,"meanCurrent":24.85835,"referenceRows":3000,"currentRows":20000,"flagged":false,"reasons":[]}]},"gate":{"mode":"always","passed":true,"candidateF1":0,"liveF1":1,"reason":"deploy_gate \\"always\\": deployed (candidate F1 0.0000, live F1 1.0000)"},"score":0,"trainingRows":23000}"`)
      const live = yield* Effect.flatMap(Deployer, (d) => d.current())
      const scorer = yield* Scorer
      const onTest = scorer.evaluate(live.model, yield* scorer.testData(), "test")
      // the solver sums rows in the order DuckDB reads them (in parallel): the last bits of the weights vary from run to run
      const approx = (x: number) => Number(x.toPrecision(10))
      const lr = live.model.format === "drs-gradient-boosting/1" ? undefined : live.model
      expect(pin({ coefficients: lr?.coefficients.map(approx), intercept: lr === undefined ? undefined : approx(lr.intercept), f1: live.f1 })).toMatchInlineSnapshot(`"{"coefficients":[0.008739787222,0.000001838767222,0.0006712492481],"intercept":-2.787652816,"f1":0}"`)
      expect(pin({ ...onTest, logLoss: approx(onTest.logLoss), at: undefined, modelHash: undefined })).toMatchInlineSnapshot(`"{"f1":0,"rows":300,"confusionMatrix":[[0,137],[163,0]],"classificationReport":{"perClass":{"0":{"precision":0,"recall":0,"f1":0,"support":137},"1":{"precision":0,"recall":0,"f1":0,"support":163}},"accuracy":0,"macroAvg":{"precision":0,"recall":0,"f1":0,"support":300},"weightedAvg":{"precision":0,"recall":0,"f1":0,"support":300}},"rocAuc":0,"logLoss":1.937395326,"dataset":"test"}"`)
      const diagnostics = JSON.parse(yield* store.readText(reportPaths("/t/data/models").diagnostics))
      // DuckDB's parallel stddev_samp sums in no fixed order: its last bits vary from run to run
      const summary = diagnostics.summary.map((c: { std: number | null }) => ({ ...c, std: c.std === null ? null : Number(c.std.toPrecision(12)) }))
      expect(pin({ predictions: diagnostics.predictions, summary, missing: diagnostics.missing, dependencies: diagnostics.dependencies })).toMatchInlineSnapshot(`"{"predictions":[1,1,1,0,1,1,0,1,0,1,0,1,1,1,1,1,0,0,1,1,0,0,0,0,1,1,0,1,0,1,1,0,0,0,0,0,0,0,1,0,0,0,1,0,0,0,0,0,0,0,0,0,1,0,0,0,0,0,0,1,0,0,1,0,0,0,0,1,1,1,0,0,1,1,0,0,0,0,0,0,1,1,1,0,1,1,0,0,0,1,0,1,1,0,1,1,0,1,0,1,0,1,0,1,1,0,1,0,1,0,0,1,1,0,1,0,1,0,1,1,1,0,0,1,0,0,1,0,0,0,0,1,1,0,0,1,1,1,0,1,0,0,0,0,1,1,1,0,1,1,0,0,1,0,0,1,0,0,0,1,1,0,0,1,0,1,1,0,1,1,0,1,0,1,1,0,1,0,1,0,1,1,0,0,0,0,0,0,1,1,0,1,0,0,1,0,1,1,0,0,0,1,1,1,1,1,1,1,0,0,0,0,1,1,1,0,0,1,0,1,1,0,1,0,0,1,0,1,0,1,1,0,0,0,1,0,1,0,0,1,0,0,0,1,1,0,0,1,1,0,1,1,0,0,1,1,0,1,0,0,1,1,0,0,0,1,1,0,0,1,1,0,0,1,1,1,1,1,0,0,0,0,0,1,0,0,0,1,1,0,1,0,0,0,1,1,0,1,0,1],"summary":[{"column":"lastmonth_activity","mean":327.259347826087,"median":353,"std":217.147228046,"count":23000},{"column":"lastyear_activity","mean":2489.765565217391,"median":2490.5,"std":1434.25767252,"count":23000},{"column":"number_of_employees","mean":24.858260869565218,"median":25,"std":14.4352983859,"count":23000}],"missing":[{"column":"corporation","missing":0,"percent":0},{"column":"lastmonth_activity","missing":0,"percent":0},{"column":"lastyear_activity","missing":0,"percent":0},{"column":"number_of_employees","missing":0,"percent":0},{"column":"exited","missing":0,"percent":0}],"dependencies":{"checked":true,"packages":[{"name":"left-pad","current":"1.0.0","wanted":"1.0.0","latest":"1.3.0"}]}}"`)
      expect(pin((yield* tracking.scores()).map((r) => [r.purpose, r.dataKind, r.rows, r.f1]))).toMatchInlineSnapshot(`"[["training","test",300,1],["deployed","test",300,1],["report","test",300,1],["drift-check","new",20000,0],["training","test",300,0],["deployed","test",300,0],["report","test",300,0]]"`)
      expect((yield* tracking.modelVersions()).map((v) => v.gate)).toEqual(["first", "always"])
      expect(yield* store.exists(reportPaths("/t/data/models").pdf)).toBe(true)
      expect(yield* store.exists(reportPaths("/t/data/models").png)).toBe(true)
    }).pipe(Effect.provide(TestLayer({ [`${IN}/one.csv`]: csv(ruled(3_000, 1)), "/t/data/testdata/testdata.csv": csv(ruled(300, 2)) }, { deploy_gate: "always" }))))
})
