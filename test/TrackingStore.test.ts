/**
 * One set of migrations and queries on both tracking stores: SQLite (the default) and a real
 * PostgreSQL started for this file. The same test bodies run on each, and a whole fullprocess
 * runs on PostgreSQL.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { DriftDecision } from "../src/domain/Schemas.js"
import { fullProcess } from "../src/programs/FullProcess.js"
import { DbLive, DbTest } from "../src/services/Db.js"
import { Tracking } from "../src/services/Tracking.js"
import { referenceFiles, TestLayer } from "./layers.js"
import { startPostgres, type TempPostgres } from "./support/Postgres.js"

let pg: TempPostgres | undefined
let databases = 0
beforeAll(async () => {
  pg = await startPostgres()
}, 120_000)
afterAll(() => pg?.stop())

/** A fresh database on the test server. */
const freshPostgres = () =>
  Layer.suspend(() => {
    const name = `drs_${process.pid}_${++databases}`
    pg!.createDatabase(name)
    return DbLive(pg!.url(name))
  })

const stores = [
  { name: "SQLite", db: () => DbTest },
  { name: "PostgreSQL", db: freshPostgres }
] as const

for (const store of stores) {
  describe(`the tracking store on ${store.name}`, () => {
    it.effect("records files once, runs with numeric ids, exact scores, snapshots, drift and alerts", () =>
      Effect.gen(function*() {
        const t = yield* Tracking
        yield* t.recordIngested([{ sha256: "a".repeat(64), fileName: "a.csv", rows: 3 }], null)
        // the same content again is ignored, not an error
        yield* t.recordIngested([{ sha256: "a".repeat(64), fileName: "copy.csv", rows: 3 }], null)
        assert.deepStrictEqual((yield* t.ingestedFiles()).map((f) => [f.fileName, f.rows]), [["a.csv", 3]])
        const run = yield* t.startRun("fullprocess")
        assert.strictEqual(typeof run, "number")
        yield* t.finishRun(run, "redeployed", { ok: true })
        const runs = yield* t.runs(5)
        assert.deepStrictEqual(runs.map((r) => [r.id, r.status]), [[run, "redeployed"]])
        // a float8, not a float4: the reference F1 comes back bit for bit
        yield* t.recordScore({ modelHash: "m", purpose: "training", dataset: "test", rows: 5, f1: 0.5714285714285715, dataKind: "test" })
        assert.strictEqual((yield* t.scores("training"))[0]!.f1, 0.5714285714285715)
        yield* t.recordSnapshot({ hash: "h1", parts: [{ path: "/p/h1.parquet", hash: "h1", rows: 10 }], rows: 10, batchPath: "/p/b1.parquet", batchRows: 10, rowsRead: 12, datasetSchema: "{}", runId: run }, [
          { sha256: "b".repeat(64), fileName: "b.csv", rows: 12 }
        ])
        const snap = (yield* t.currentSnapshot())!
        assert.deepStrictEqual([snap.hash, snap.rows, snap.batchRows, snap.runId], ["h1", 10, 10, run])
        assert.deepStrictEqual(snap.parts, [{ path: "/p/h1.parquet", hash: "h1", rows: 10 }])
        assert.strictEqual((yield* t.ingestedFiles()).length, 2)
        yield* t.recordDrift(run, DriftDecision.make({ test: "raw", drifted: true, newScore: Number.NaN, deployedScore: 0.8, threshold: null, historySize: 0, reason: "data drift" }), ["data"])
        const d = (yield* t.driftDecisions())[0]!
        assert.isTrue(d.drifted)
        assert.isTrue(Number.isNaN(d.newScore))
        assert.deepStrictEqual(d.fired, ["data"])
        yield* t.recordAlert({ event: "drift", runId: run, url: "http://127.0.0.1:1/x", attempts: 2, delivered: false, httpStatus: null, error: "refused", at: "2026-11-24T00:00:00.000Z" })
        assert.deepStrictEqual((yield* t.alertDeliveries()).map((a) => [a.attempts, a.delivered]), [[2, false]])
      }).pipe(Effect.provide(Tracking.Default.pipe(Layer.provide(store.db())))))
  })
}

describe("fullprocess with its tracking on PostgreSQL", () => {
  it.effect("deploys the reference model with the reference F1, and a second run finds nothing new", () =>
    Effect.gen(function*() {
      const first = yield* fullProcess()
      assert.strictEqual(first.outcome, "redeployed")
      assert.strictEqual(first.score, 0.5714285714285715)
      const t = yield* Tracking
      assert.strictEqual((yield* t.runs(5))[0]!.status, "redeployed")
      assert.strictEqual((yield* t.modelVersions())[0]!.f1, 0.5714285714285715)
      assert.strictEqual((yield* t.currentSnapshot())!.rows, 26)
      assert.strictEqual((yield* fullProcess()).outcome, "no-new-data")
    }).pipe(Effect.provide(Layer.suspend(() => TestLayer(referenceFiles(), {}, Tracking.layerOn(freshPostgres()))))))

  it.effect("migrations run once: a second start on the same database finds them applied", () =>
    Effect.gen(function*() {
      const name = `drs_${process.pid}_again`
      pg!.createDatabase(name)
      const layer = Tracking.Default.pipe(Layer.provide(DbLive(pg!.url(name))))
      yield* Effect.flatMap(Tracking, (t) => t.startRun("one")).pipe(Effect.provide(layer))
      const runs = yield* Effect.flatMap(Tracking, (t) => t.runs(5)).pipe(Effect.provide(layer))
      assert.deepStrictEqual(runs.map((r) => r.command), ["one"])
    }))
})
