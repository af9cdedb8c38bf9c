import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { DriftStep } from "../src/domain/Run.js"
import { DriftDecision } from "../src/domain/Schemas.js"
import * as NodeOs from "node:os"
import { fullProcess } from "../src/programs/FullProcess.js"
import { lockPath } from "../src/programs/Lock.js"
import { Deployer } from "../src/services/Deployer.js"
import { FileStore } from "../src/services/FileStore.js"
import { Tracking } from "../src/services/Tracking.js"
import { csv, row, ruled, TestLayer } from "./layers.js"

const IN = "/t/data/sourcedata"


const files = {
  [`${IN}/one.csv`]: csv(ruled(60, 1)),
  "/t/data/testdata/testdata.csv": csv(ruled(30, 2))
}

describe("fullprocess", () => {
  it.effect("does nothing, and records nothing, without new data", () =>
    Effect.gen(function*() {
      const s = yield* fullProcess()
      assert.strictEqual(s.outcome, "no-new-data")
      assert.deepStrictEqual(yield* Effect.flatMap(Tracking, (t) => t.runs(10)), [])
      assert.isFalse(yield* Effect.flatMap(FileStore, (f) => f.exists(lockPath("/t/data/ingesteddata"))))
    }).pipe(Effect.provide(TestLayer({ "/t/data/testdata/testdata.csv": csv(ruled(30, 2)) }))))

  it.effect("deploys a first model, ignores unchanged data, keeps a model that did not drift, replaces one that did", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      const tracking = yield* Tracking
      const deployer = yield* Deployer
      let apiCalls = 0
      const afterDeploy = Effect.sync(() => `call ${++apiCalls}`)

      const first = yield* fullProcess({ afterDeploy })
      assert.strictEqual(first.outcome, "redeployed")
      assert.strictEqual(first.drift?.reason, "no model is deployed yet")
      assert.strictEqual(first.score, 1)
      assert.strictEqual(first.apiCalls, "call 1")
      const release1 = (yield* deployer.current()).releaseId
      assert.isTrue(yield* store.exists("/t/data/models/report.pdf"))
      assert.isTrue(yield* store.exists("/t/data/models/confusionmatrix.png"))

      assert.strictEqual((yield* fullProcess({ afterDeploy })).outcome, "no-new-data")

      // more data that follows the same rule: the deployed model still scores 1
      yield* store.writeAtomic(`${IN}/two.csv`, csv(ruled(40, 3)))
      const second = yield* fullProcess({ afterDeploy })
      assert.strictEqual(second.outcome, "no-drift")
      assert.isFalse(second.drift!.drifted)
      assert.strictEqual((yield* deployer.current()).releaseId, release1)

      // the world changed: the rule flipped
      yield* store.writeAtomic(`${IN}/three.csv`, csv(ruled(400, 4, true)))
      const third = yield* fullProcess({ afterDeploy })
      assert.strictEqual(third.outcome, "redeployed")
      assert.isTrue(third.drift!.drifted)
      assert.isBelow(third.drift!.newScore, 1)
      assert.notStrictEqual((yield* deployer.current()).releaseId, release1)
      assert.strictEqual(apiCalls, 2)

      const runs = yield* tracking.runs(10)
      assert.deepStrictEqual(runs.map((r) => r.status), ["redeployed", "no-drift", "redeployed"])
      const decisions = yield* tracking.driftDecisions()
      assert.deepStrictEqual(decisions.map((d) => d.drifted), [true, false, true])
      assert.deepStrictEqual((yield* tracking.ingestedFiles()).map((f) => f.fileName), ["one.csv", "two.csv", "three.csv"])
    }).pipe(Effect.provide(TestLayer(files, { regularization_C: 100, deploy_gate: "always" }))))

  it.effect("a live release that went missing is replaced, and the reason says so", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      yield* store.writeAtomic("/t/production/CURRENT", "vanished-release\n")
      const s = yield* fullProcess()
      assert.strictEqual(s.outcome, "redeployed")
      assert.include(s.drift!.reason, "release vanished-release is live but unusable")
      assert.notStrictEqual((yield* Effect.flatMap(Deployer, (d) => d.current())).releaseId, "vanished-release")
    }).pipe(Effect.provide(TestLayer(files))))

  it.effect("a failing API call is a warning, not a failed run", () =>
    Effect.gen(function*() {
      const s = yield* fullProcess({ afterDeploy: Effect.fail("server down") })
      assert.strictEqual(s.outcome, "redeployed")
      assert.isTrue(s.warnings.some((w) => w.includes("API calls failed")))
    }).pipe(Effect.provide(TestLayer(files))))

  it.effect("only malformed new files: they are set aside and nothing is retrained", () =>
    Effect.gen(function*() {
      const s = yield* fullProcess()
      assert.strictEqual(s.outcome, "no-valid-data")
      assert.include(s.warnings[0]!, "bad.csv")
      assert.strictEqual((yield* Effect.flip(Effect.flatMap(Deployer, (d) => d.current())))._tag, "NotDeployed")
    }).pipe(Effect.provide(TestLayer({ [`${IN}/bad.csv`]: "nonsense\n1\n" }))))

  it.effect("a live lock stops a second run; a stale one is cleared", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      const path = lockPath("/t/data/ingesteddata")
      yield* store.writeAtomic(path, JSON.stringify({ pid: process.pid, host: NodeOs.hostname(), startedAt: new Date().toISOString() }))
      const held = yield* Effect.flip(fullProcess())
      assert.strictEqual(held._tag, "LockHeld")
      assert.isTrue(yield* store.exists(path))
      yield* store.writeAtomic(path, JSON.stringify({ pid: 2 ** 22 + 12345, host: NodeOs.hostname(), startedAt: new Date().toISOString() }))
      assert.strictEqual((yield* fullProcess()).outcome, "redeployed")
      assert.isFalse(yield* store.exists(path))
    }).pipe(Effect.provide(TestLayer(files))))
})

describe("the drift check scores the live model on the new rows (issue: diluted drift)", () => {
  // clean training data, noisy test data (the deployed F1 is modest), then a small batch whose labels follow another rule
  const noisyTest = csv([...ruled(24, 2), ...ruled(12, 5, true)])
  const scenario = (drift_check_data: "new" | "all") =>
    Effect.gen(function*() {
      const store = yield* FileStore
      const first = yield* fullProcess()
      assert.strictEqual(first.outcome, "redeployed")
      const deployed = first.score!
      assert.isBelow(deployed, 0.9)
      yield* store.writeAtomic(`${IN}/shifted.csv`, csv(ruled(16, 3, true)))
      const second = yield* fullProcess()
      return { deployed, second }
    }).pipe(Effect.provide(TestLayer({ [`${IN}/one.csv`]: csv(ruled(80, 1)), "/t/data/testdata/testdata.csv": noisyTest }, { drift_check_data, regularization_C: 100 })))

  it.effect("with drift_check_data \"new\" (the default) the shifted batch is detected, and the reason names its rows", () =>
    Effect.gen(function*() {
      const { deployed, second } = yield* scenario("new")
      assert.isTrue(second.drift!.drifted)
      assert.isBelow(second.drift!.newScore, deployed)
      assert.include(second.drift!.reason, "on 16 new row(s)")
      assert.strictEqual(second.outcome, "redeployed")
    }))

  it.effect("with \"all\" the same batch is diluted by the training rows and missed (the control)", () =>
    Effect.gen(function*() {
      const { deployed, second } = yield* scenario("all")
      assert.strictEqual(second.outcome, "no-drift")
      assert.isAtLeast(second.drift!.newScore, deployed)
      assert.include(second.drift!.reason, "on all 96 ingested row(s)")
    }))

  it.effect("fewer new rows than drift_min_rows: no performance decision, and the run says so", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      yield* fullProcess()
      // one new row and one already ingested
      yield* store.writeAtomic(`${IN}/tiny.csv`, csv([...ruled(80, 1).slice(0, 1), row("fresh", 10, 10, 10, 1)]))
      const s = yield* fullProcess()
      assert.strictEqual(s.outcome, "no-decision")
      assert.include(s.noDecision!, "only 1 new row(s), fewer than drift_min_rows (5)")
      const history = yield* Effect.flatMap(Tracking, (t) => t.scores("drift-check"))
      assert.deepStrictEqual(history, [])
    }).pipe(Effect.provide(TestLayer(files, { drift_min_rows: 5 }))))

  it.effect("the history of each kind of score is kept apart, so the parametric test compares like with like", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      const tracking = yield* Tracking
      yield* fullProcess()
      for (let i = 0; i < 3; i++) {
        yield* store.writeAtomic(`${IN}/more-${i}.csv`, csv(ruled(30, 10 + i)))
        yield* fullProcess()
      }
      const checks = yield* tracking.scores("drift-check")
      assert.strictEqual(checks.length, 3)
      assert.isTrue(checks.every((s) => s.dataKind === "new" && s.rows === 30))
      const deployedScores = yield* tracking.scores("deployed")
      assert.isTrue(deployedScores.every((s) => s.dataKind === "test"))
    }).pipe(Effect.provide(TestLayer(files, { drift_test: "parametric" }))))
})

describe("old snapshots", () => {
  it.effect("are removed once no run or release needs them; the current one and the live model's training data stay", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      const tracking = yield* Tracking
      const listed = () => store.list("/t/data/ingesteddata/snapshots").pipe(Effect.map((es) => es.map((e) => e.name).filter((n) => n.endsWith(".parquet"))))
      yield* fullProcess()
      const trainedOn = (yield* tracking.currentSnapshot())!
      // two more batches that do not drift: each makes a new snapshot and a batch
      for (const [i, seed] of [[1, 21], [2, 22]] as const) {
        yield* store.writeAtomic(`${IN}/more-${i}.csv`, csv(ruled(30, seed)))
        assert.strictEqual((yield* fullProcess()).outcome, "no-drift")
      }
      const current = (yield* tracking.currentSnapshot())!
      const names = yield* listed()
      // the live model's training snapshot (its data-drift reference) and the current snapshot: its
      // files are the training snapshot's and one batch a run, none rewritten
      assert.deepStrictEqual(current.parts.slice(0, trainedOn.parts.length), trainedOn.parts)
      assert.strictEqual(current.parts.length, trainedOn.parts.length + 2)
      assert.strictEqual(current.parts.at(-1)!.path, current.batchPath)
      assert.sameMembers(names, current.parts.map((p) => p.path.split("/").at(-1)!))
      // and the data set is whole
      assert.strictEqual(current.rows, 60 + 30 + 30)
    }).pipe(Effect.provide(TestLayer(files))))
})

describe("step results survive JSON, as a workflow stores them", () => {
  it("a drift decision without a performance score (NaN) comes back as NaN, not as a decode failure", () => {
    const step = {
      drift: DriftDecision.make({ test: "raw", drifted: true, newScore: Number.NaN, deployedScore: 0.5, threshold: null, historySize: 0, reason: "data drift" }),
      dataDrift: null,
      decided: true
    }
    const json = JSON.stringify(Schema.encodeSync(DriftStep)(step))
    assert.include(json, `"newScore":null`)
    const back = Schema.decodeUnknownSync(DriftStep)(JSON.parse(json))
    assert.isNaN(back.drift.newScore)
    assert.strictEqual(back.drift.deployedScore, 0.5)
    assert.strictEqual(Schema.decodeUnknownSync(DriftStep)(JSON.parse(JSON.stringify(Schema.encodeSync(DriftStep)({ ...step, drift: DriftDecision.make({ ...step.drift, newScore: 0.75 }) })))).drift.newScore, 0.75)
  })
})
