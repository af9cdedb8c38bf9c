/** Every service's own test layer works on its own. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Deployer } from "../src/services/Deployer.js"
import { Diagnostics } from "../src/services/Diagnostics.js"
import { Ingestion } from "../src/services/Ingestion.js"
import { artifactJson, Model, modelHash } from "../src/services/Model.js"
import { Scorer } from "../src/services/Scorer.js"
import { Tracking } from "../src/services/Tracking.js"
import { FileStore } from "../src/services/FileStore.js"
import { csv, frame, row } from "./layers.js"

const rows = [row("a", 10, 100, 1, 1), row("b", 500, 90, 2, 0), row("c", 20, 80, 3, 1), row("d", 600, 70, 4, 0)]

describe("service test layers", () => {
  it.effect("Ingestion.layerTest ingests seeded files", () =>
    Effect.gen(function*() {
      const r = yield* Effect.flatMap(Ingestion, (i) => i.ingest())
      assert.strictEqual(r.totalRows, 4)
    }).pipe(Effect.provide(Ingestion.layerTest({ "/t/data/sourcedata/x.csv": csv(rows) }))))

  it.effect("Model.layerTest trains, saves and loads the same model", () =>
    Effect.gen(function*() {
      const model = yield* Model
      const m = yield* model.train(frame(rows), "h")
      const path = yield* model.save(m)
      const back = yield* model.load(path)
      assert.deepStrictEqual(back, m)
      // the same text again is the same model, decoded once
      assert.strictEqual(yield* model.load(path), back)
      // a model of other features is refused, the second time too (its text decoded the first)
      const text = JSON.parse(artifactJson(m)) as { features: Array<string> }
      yield* Effect.flatMap(FileStore, (s) => s.writeAtomic("/other.json", JSON.stringify({ ...text, features: [...text.features].reverse() })))
      for (let i = 0; i < 2; i++) assert.include((yield* Effect.flip(model.load("/other.json"))).message, "uses the features")
      assert.deepStrictEqual(Array.from(model.predict(back, frame(rows)).predictions), [1, 0, 1, 0])
      const missing = yield* Effect.flip(model.load("/nowhere/model.json"))
      assert.strictEqual(missing._tag, "ModelNotFound")
      yield* Effect.flatMap(FileStore, (s) => s.writeAtomic("/bad.json", "{\"format\":\"other\"}"))
      assert.include((yield* Effect.flip(model.load("/bad.json"))).message, "not a valid model")
    }).pipe(Effect.provide(Model.layerTest)))

  it.effect("Scorer.layerTest scores test data, writes latestscore.txt and versions the model's score", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      yield* store.writeAtomic("/t/data/testdata/testdata.csv", csv(rows))
      const m = yield* Effect.flatMap(Model, (x) => x.train(frame(rows), "h"))
      const tracking = yield* Tracking
      yield* tracking.recordModel({ modelHash: modelHash(m), path: "p", dataHash: "h", solver: "liblinear", coefficients: [], intercept: 0, config: {} })
      const r = yield* Effect.flatMap(Scorer, (s) => s.scoreTestData(m))
      assert.strictEqual(r.f1, 1)
      assert.strictEqual(yield* store.readText("/t/data/models/latestscore.txt"), "1\n")
      assert.strictEqual((yield* tracking.modelVersions())[0]!.f1, 1)
      assert.strictEqual((yield* tracking.scores("training")).length, 1)
    }).pipe(Effect.provide(Scorer.layerTest())))

  it.effect("Deployer.layerTest starts with nothing deployed", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Effect.flatMap(Deployer, (d) => d.current()))
      assert.strictEqual(e._tag, "NotDeployed")
    }).pipe(Effect.provide(Deployer.layerTest)))

  it.effect("Diagnostics.layerTest answers with the fixed dependency report", () =>
    Effect.gen(function*() {
      const d = yield* Diagnostics
      const deps = yield* d.dependencies()
      assert.isTrue(deps.checked)
      assert.deepStrictEqual(deps.packages, [])
    }).pipe(Effect.provide(Diagnostics.layerTest())))

  it.effect("Tracking.layerTest is a fresh migrated database each time", () =>
    Effect.gen(function*() {
      const t = yield* Tracking
      assert.strictEqual(yield* t.startRun("x"), 1)
      assert.deepStrictEqual(yield* t.ingestedFiles(), [])
    }).pipe(Effect.provide(Tracking.layerTest)))
})
