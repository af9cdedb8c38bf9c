/** The model lifecycle: the deploy gate, releases, rollback and roll-forward, on the CLI's programs and over HTTP. */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ApiServer } from "../src/http/Server.js"
import { fullProcess } from "../src/programs/FullProcess.js"
import { deploymentStep, ingestionStep, scoringStep, trainingStep } from "../src/programs/Steps.js"
import { Deployer } from "../src/services/Deployer.js"
import { FileStore } from "../src/services/FileStore.js"
import { Tracking } from "../src/services/Tracking.js"
import { csv, row, type Row, ruled, TestLayer } from "./layers.js"

const IN = "/t/data/sourcedata"


const cleanTest = { "/t/data/testdata/testdata.csv": csv(ruled(40, 2)) }
// modest deployed F1, so that a small shifted batch drifts while a retrained model stays as good
const noisyTest = { "/t/data/testdata/testdata.csv": csv([...ruled(24, 2), ...ruled(12, 5, true)]) }

describe("deploy gate", () => {
  it.effect("refuses a retrained model that is worse than the live one on the same test data; the live release stays", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      const tracking = yield* Tracking
      const deployer = yield* Deployer
      const first = yield* fullProcess()
      assert.strictEqual(first.outcome, "redeployed")
      assert.strictEqual(first.gate!.mode, "first")
      const live = (yield* deployer.current()).releaseId
      // the world flips; retraining follows the new labels, but the test data still follows the old rule
      yield* store.writeAtomic(`${IN}/flipped.csv`, csv(ruled(400, 9, true)))
      const second = yield* fullProcess()
      assert.isTrue(second.drift!.drifted)
      assert.strictEqual(second.outcome, "gate-refused")
      assert.isFalse(second.gate!.passed)
      assert.isBelow(second.gate!.candidateF1, second.gate!.liveF1!)
      assert.include(second.gate!.reason, "refused, the live release stays")
      assert.strictEqual((yield* deployer.current()).releaseId, live)
      assert.strictEqual((yield* deployer.list()).length, 1)
      const versions = yield* tracking.modelVersions()
      assert.deepStrictEqual(versions.map((v) => v.gate), ["first", "refused"])
      assert.strictEqual(versions[1]!.f1, second.gate!.candidateF1)
      assert.strictEqual(versions[1]!.live_f1, second.gate!.liveF1)
      assert.strictEqual((yield* tracking.runs(1))[0]!.status, "gate-refused")
    }).pipe(Effect.provide(TestLayer({ [`${IN}/one.csv`]: csv(ruled(80, 1)), ...cleanTest }, { regularization_C: 100 }))))

  it.effect("deploy_gate \"always\" deploys the same worse model (the old behaviour)", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      yield* fullProcess()
      yield* store.writeAtomic(`${IN}/flipped.csv`, csv(ruled(400, 9, true)))
      const second = yield* fullProcess()
      assert.strictEqual(second.outcome, "redeployed")
      assert.strictEqual(second.gate!.mode, "always")
      assert.isBelow(second.gate!.candidateF1, second.gate!.liveF1!)
      assert.strictEqual((yield* Effect.flatMap(Deployer, (d) => d.list())).length, 2)
    }).pipe(Effect.provide(TestLayer({ [`${IN}/one.csv`]: csv(ruled(80, 1)), ...cleanTest }, { regularization_C: 100, deploy_gate: "always" }))))

  it.effect("passes a retrained model that is not worse, and a minimum improvement can refuse it", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      yield* fullProcess()
      yield* store.writeAtomic(`${IN}/shifted.csv`, csv(ruled(16, 3, true)))
      const second = yield* fullProcess()
      assert.isTrue(second.drift!.drifted)
      assert.strictEqual(second.outcome, "redeployed")
      assert.isTrue(second.gate!.passed)
      assert.isAtLeast(second.gate!.candidateF1, second.gate!.liveF1!)
    }).pipe(
      Effect.zipRight(Effect.gen(function*() {
        const store = yield* FileStore
        yield* fullProcess()
        yield* store.writeAtomic(`${IN}/shifted.csv`, csv(ruled(16, 3, true)))
        const s = yield* fullProcess()
        assert.strictEqual(s.outcome, "gate-refused")
        assert.include(s.gate!.reason, "+ 0.5")
      }).pipe(Effect.provide(TestLayer({ [`${IN}/one.csv`]: csv(ruled(80, 1)), ...noisyTest }, { regularization_C: 100, deploy_min_improvement: 0.5 })))),
      Effect.provide(TestLayer({ [`${IN}/one.csv`]: csv(ruled(80, 1)), ...noisyTest }, { regularization_C: 100 }))
    ))
})

/** Three deployments (the steps of `run --steps`), so there are releases to move between. */
const threeReleases = Effect.gen(function*() {
  const store = yield* FileStore
  const deployOnce = Effect.all([ingestionStep(null), trainingStep(null), scoringStep(null), deploymentStep(null)])
  yield* deployOnce
  yield* store.writeAtomic(`${IN}/b.csv`, csv(ruled(400, 9, true)))
  yield* deployOnce
  yield* store.writeAtomic(`${IN}/c.csv`, csv(ruled(900, 10)))
  yield* deployOnce
  return (yield* Effect.flatMap(Deployer, (d) => d.list())).map((r) => r.releaseId)
})

describe("releases and rollback", () => {
  it.effect("rolls back to the release before the live one, rolls forward by id, and records both with their reasons", () =>
    Effect.gen(function*() {
      const deployer = yield* Deployer
      const tracking = yield* Tracking
      const ids = yield* threeReleases
      assert.strictEqual(ids.length, 3)
      assert.strictEqual((yield* deployer.current()).releaseId, ids[2])
      const back = yield* deployer.rollback(undefined, "bad predictions reported")
      assert.strictEqual(back.releaseId, ids[1])
      assert.strictEqual(back.previous, ids[2])
      assert.strictEqual((yield* deployer.current()).releaseId, ids[1])
      assert.deepStrictEqual((yield* deployer.list()).map((r) => r.live), [false, true, false])
      const forward = yield* deployer.activate(ids[2]!, "activate", "fixed upstream")
      assert.strictEqual(forward.releaseId, ids[2])
      assert.strictEqual((yield* deployer.current()).releaseId, ids[2])
      const deployments = yield* tracking.deployments()
      assert.deepStrictEqual(deployments.slice(-2).map((d) => [d.kind, d.release_id, d.reason]), [
        ["rollback", ids[1]!, "bad predictions reported"],
        ["activate", ids[2]!, "fixed upstream"]
      ])
      const unknown = yield* Effect.flip(deployer.rollback("no-such-release"))
      assert.strictEqual(unknown._tag, "ReleaseNotFound")
      const listed = yield* deployer.list()
      assert.isTrue(listed.every((r) => r.f1 !== null && /^[0-9a-f]{64}$/.test(r.dataHash!) && r.deployedAt !== null))
    }).pipe(Effect.provide(TestLayer({ [`${IN}/a.csv`]: csv(ruled(80, 1)), ...cleanTest }, { deploy_gate: "always", regularization_C: 100 }))))

  it.effect("pruning keeps the live release and the one a rollback would go to", () =>
    Effect.gen(function*() {
      const deployer = yield* Deployer
      const ids = yield* threeReleases
      assert.strictEqual(ids.length, 2)
      assert.strictEqual((yield* deployer.current()).releaseId, ids[1])
      assert.strictEqual(yield* deployer.rollbackTarget(), ids[0])
    }).pipe(Effect.provide(TestLayer({ [`${IN}/a.csv`]: csv(ruled(80, 1)), ...cleanTest }, { deploy_gate: "always", regularization_C: 100, releases_to_keep: 1 }))))
})

describe("releases over HTTP", () => {
  const TOKEN = "t0ken"
  const server = ApiServer(1 << 20).pipe(
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provideMerge(TestLayer({ [`${IN}/a.csv`]: csv(ruled(80, 1)), ...cleanTest }, { deploy_gate: "always", regularization_C: 100, api_token: TOKEN }))
  )
  const call = (request: HttpClientRequest.HttpClientRequest) =>
    Effect.flatMap(HttpClient.HttpClient, (c) => c.execute(request)).pipe(
      Effect.flatMap((res) => Effect.map(res.text, (text) => ({ status: res.status, body: text.length > 0 ? JSON.parse(text) : null })))
    )

  it.effect("lists releases; activation needs the token; the running server serves the newly live model at once", () =>
    Effect.gen(function*() {
      const ids = yield* threeReleases
      const listed = yield* call(HttpClientRequest.get("/releases"))
      assert.strictEqual(listed.status, 200)
      assert.deepStrictEqual(listed.body.map((r: { releaseId: string; live: boolean }) => [r.releaseId, r.live]), [[ids[0], false], [ids[1], false], [ids[2], true]])
      const predict = () => call(HttpClientRequest.post("/prediction").pipe(HttpClientRequest.bodyUnsafeJson({ rows: [{ lastmonth_activity: 100, lastyear_activity: 10, number_of_employees: 5 }] })))
      assert.strictEqual((yield* predict()).body.releaseId, ids[2])
      const activate = (id: string, token?: string) =>
        call(HttpClientRequest.post(`/releases/${id}/activate`).pipe(
          HttpClientRequest.bodyUnsafeJson({ reason: "from the test" }),
          HttpClientRequest.setHeaders(token ? { authorization: `Bearer ${token}` } : {})
        ))
      assert.strictEqual((yield* activate(ids[1]!)).status, 401)
      assert.strictEqual((yield* activate(ids[1]!, "wrong")).status, 401)
      assert.strictEqual((yield* activate("nope", TOKEN)).status, 404)
      const ok = yield* activate(ids[1]!, TOKEN)
      assert.strictEqual(ok.status, 200)
      assert.deepStrictEqual(ok.body, { releaseId: ids[1], previous: ids[2], f1: ok.body.f1, reason: "from the test" })
      const after = yield* predict()
      assert.strictEqual(after.body.releaseId, ids[1])
      const health = yield* call(HttpClientRequest.get("/health"))
      assert.strictEqual(health.body.releaseId, ids[1])
    }).pipe(Effect.provide(server)))
})
