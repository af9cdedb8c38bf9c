/** Per-feature data drift: PSI and the two-sample KS test (against scipy), and the check inside fullprocess. */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ApiServer } from "../src/http/Server.js"
import { featureDrift, ksTwoSample, psi, PSI_EPSILON } from "../src/lib/DataDrift.js"
import { fullProcess } from "../src/programs/FullProcess.js"
import { prng } from "../src/programs/GenerateData.js"
import { FileStore } from "../src/services/FileStore.js"
import { Tracking } from "../src/services/Tracking.js"
import { csv, row, type Row, TestLayer } from "./layers.js"

/** The LCG the expected values were computed with in Python: a = (a·1103515245 + 12345) mod 2^31. */
const lcg = (seed: number, n: number) => {
  const out = new Float64Array(n)
  let a = BigInt(seed)
  for (let i = 0; i < n; i++) {
    a = (a * 1103515245n + 12345n) % 2147483648n
    out[i] = Number(a) / 2147483648
  }
  return out
}
const plus = (x: Float64Array, k: number) => x.map((v) => v + k)

describe("the two-sample Kolmogorov–Smirnov test", () => {
  // expected: scipy 1.10.1, scipy.stats.ks_2samp(a, b) (method "auto": exact up to 10,000 values)
  it("matches scipy's exact p-values for small samples", () => {
    const a = ksTwoSample(lcg(1, 40), plus(lcg(2, 55), 0.3))!
    assert.strictEqual(a.method, "exact")
    assert.approximately(a.statistic, 0.32727272727272727, 1e-15)
    assert.approximately(a.pValue, 0.010452598169227785, 1e-12)
    const b = ksTwoSample(lcg(1, 40), lcg(3, 60))!
    assert.approximately(b.statistic, 0.18333333333333332, 1e-15)
    assert.approximately(b.pValue, 0.3660303096457786, 1e-12)
    const c = ksTwoSample(lcg(4, 300), lcg(5, 200).map((v) => v * 1.2))!
    assert.approximately(c.pValue, 0.0001625283817315394, 1e-15)
    const d = ksTwoSample(lcg(6, 10_000), plus(lcg(7, 9000), 0.02))!
    assert.strictEqual(d.method, "exact")
    assert.approximately(d.pValue, 0.001904605275841863, 1e-12)
  })

  it("uses the Kolmogorov distribution beyond 10,000 values (scipy's finite-n version differs slightly)", () => {
    const r = ksTwoSample(lcg(6, 20_000), plus(lcg(7, 500), 0.05))!
    assert.strictEqual(r.method, "asymptotic")
    assert.approximately(r.statistic, 0.0716, 1e-12)
    // scipy: 0.01275788723633093
    assert.approximately(r.pValue, 0.01276, 0.001)
  })

  it("leaves missing values out, and has no result for an empty sample", () => {
    const withNaN = Float64Array.from([...lcg(1, 40), Number.NaN, Number.NaN])
    assert.deepStrictEqual(ksTwoSample(withNaN, lcg(3, 60)), ksTwoSample(lcg(1, 40), lcg(3, 60)))
    assert.isNull(ksTwoSample(Float64Array.from([Number.NaN]), lcg(3, 60)))
  })
})

describe("the population stability index", () => {
  const ref = Float64Array.from({ length: 100 }, (_, i) => i)
  it("is 0 for the same distribution and large when everything moves to one decile", () => {
    assert.strictEqual(psi(ref, ref), 0)
    const crowded = Float64Array.from({ length: 50 }, (_, i) => i / 10)
    // by hand: (1 − 0.1)·ln(1/0.1) + 9·(ε − 0.1)·ln(ε/0.1), ε = 1e-4
    const expected = 0.9 * Math.log(10) + 9 * (PSI_EPSILON - 0.1) * Math.log(PSI_EPSILON / 0.1)
    assert.approximately(psi(ref, crowded)!, expected, 1e-12)
  })

  it("merges the bins of tied reference values", () => {
    const tied = Float64Array.from({ length: 100 }, (_, i) => (i < 80 ? 1 : 2))
    assert.strictEqual(psi(tied, tied), 0)
    assert.isAbove(psi(tied, Float64Array.from({ length: 10 }, () => 2))!, 1)
  })
})

describe("featureDrift", () => {
  it("flags a shifted feature and not a resample of the same distribution", () => {
    const rand = prng(3)
    const base = Float64Array.from({ length: 2000 }, () => rand() * 100)
    const resample = Float64Array.from({ length: 300 }, () => rand() * 100)
    const shifted = Float64Array.from({ length: 300 }, () => 40 + rand() * 100)
    const same = featureDrift("x", base, resample)
    assert.isFalse(same.flagged, JSON.stringify(same))
    const moved = featureDrift("x", base, shifted)
    assert.isTrue(moved.flagged)
    assert.isAbove(moved.psi!, 0.25)
    assert.isBelow(moved.ksPValue!, 0.01)
    assert.approximately(moved.meanCurrent! - moved.meanReference!, 40, 5)
    const missing = featureDrift("x", base, Float64Array.from([1, Number.NaN, 3, Number.NaN]))
    assert.strictEqual(missing.missingRateCurrent, 0.5)
    assert.strictEqual(missing.missingRateReference, 0)
  })
})

/** Rows whose number_of_employees can be shifted without touching the labels' rule. */
const rows = (n: number, seed: number, employeesFrom = 0): Array<Row> => {
  const rand = prng(seed)
  return Array.from({ length: n }, (_, i) => {
    const lm = Math.round(rand() * 700)
    return row(`r${seed}-${i}`, lm, Math.round(rand() * 5000), employeesFrom + Math.round(rand() * 50), lm < 300 ? 1 : 0)
  })
}
const IN = "/t/data/sourcedata"
const base = { [`${IN}/one.csv`]: csv(rows(400, 1)), "/t/data/testdata/testdata.csv": csv(rows(60, 2)) }

describe("data drift in fullprocess", () => {
  it.effect("is stored per run: a shifted feature is flagged, a resample is not; with drift_trigger \"performance\" it does not retrain", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      const tracking = yield* Tracking
      yield* fullProcess()
      yield* store.writeAtomic(`${IN}/resample.csv`, csv(rows(200, 3)))
      const calm = yield* fullProcess()
      assert.isFalse(calm.dataDrift!.drifted, JSON.stringify(calm.dataDrift))
      yield* store.writeAtomic(`${IN}/shifted.csv`, csv(rows(200, 4, 300)))
      const shifted = yield* fullProcess()
      const employees = shifted.dataDrift!.features.find((f) => f.feature === "number_of_employees")!
      assert.isTrue(employees.flagged)
      assert.isFalse(shifted.dataDrift!.features.find((f) => f.feature === "lastmonth_activity")!.flagged)
      // the labels still follow the same rule: no performance drift, and the trigger is performance
      assert.strictEqual(shifted.outcome, "no-drift")
      assert.include(shifted.drift!.reason, "data drift in number_of_employees")
      const stored = yield* tracking.dataDrift()
      assert.deepStrictEqual(stored.map((r) => r.drifted), [true, false])
      assert.strictEqual(stored[0]!.runId, shifted.runId)
    }).pipe(Effect.provide(TestLayer(base, { regularization_C: 100 }))))

  it.effect("with drift_trigger \"data\" a shifted feature retrains, and the decision says which test fired; GET /drift shows it", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      const tracking = yield* Tracking
      yield* fullProcess()
      yield* store.writeAtomic(`${IN}/shifted.csv`, csv(rows(200, 4, 300)))
      const s = yield* fullProcess()
      assert.isTrue(s.drift!.drifted)
      assert.include(s.drift!.reason, "data drift (drift_trigger \"data\")")
      assert.deepStrictEqual((yield* tracking.driftDecisions()).at(-1)!.fired, ["data"])
      assert.include(["redeployed", "gate-refused"], s.outcome)
      const client = yield* HttpClient.HttpClient
      const res = yield* client.execute(HttpClientRequest.get("/drift"))
      assert.strictEqual(res.status, 200)
      const body = JSON.parse(yield* res.text)
      assert.strictEqual(body[0].runId, s.runId)
      assert.isTrue(body[0].features.find((f: { feature: string }) => f.feature === "number_of_employees").flagged)
    }).pipe(Effect.provide(ApiServer(1 << 20).pipe(
      Layer.provideMerge(NodeHttpServer.layerTest),
      Layer.provideMerge(TestLayer(base, { regularization_C: 100, drift_trigger: "data" }))
    ))))
})
