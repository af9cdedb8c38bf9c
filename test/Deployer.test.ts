import { assert, describe, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Context, Effect, Layer } from "effect"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { DbLive } from "../src/services/Db.js"
import { POINTER_TTL_MS } from "../src/services/Deployer.js"
import { Deployer } from "../src/services/Deployer.js"
import { FileStore } from "../src/services/FileStore.js"
import { Tracking } from "../src/services/Tracking.js"
import { FinalRun } from "./helpers.js"
import { readText, referenceFiles, TestLayer } from "./layers.js"

const PROD = "/t/production"

/** A SQLite tracking database in a temporary folder, removed with the scope. */
const tempDatabase = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), prefix))),
    (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
  ).pipe(Effect.map((dir) => NodePath.join(dir, "tracking.sqlite")))

/** A "machine": every service over its own filesystem (a temporary folder) and the tracking database `db`. */
const machine = (db: string, files: Record<string, string> = {}) =>
  Effect.map(Layer.build(TestLayer(files, {}, Tracking.layerOn(DbLive(db)))), (context) => ({
    context,
    run: <X, E, R>(e: Effect.Effect<X, E, R>) => Effect.provide(e, context as Context.Context<R>)
  }))

describe("Deployer", () => {
  it.effect("deploys model, score and ingested list as one release, made live by CURRENT", () =>
    Effect.gen(function*() {
      yield* FinalRun
      const deployer = yield* Deployer
      const store = yield* FileStore
      const d = yield* deployer.deploy()
      assert.strictEqual((yield* readText(`${PROD}/CURRENT`)).trim(), d.releaseId)
      const files = (yield* store.list(`${PROD}/releases/${d.releaseId}`)).map((e) => e.name)
      assert.deepStrictEqual(files, ["ingestedfiles.txt", "latestscore.txt", "manifest.json", "trainedmodel.json"])
      assert.strictEqual(yield* readText(`${PROD}/releases/${d.releaseId}/latestscore.txt`), yield* readText("/t/data/models/latestscore.txt"))
      const live = yield* deployer.current()
      assert.strictEqual(live.f1, 0.5714285714285715)
      assert.deepStrictEqual(live.ingestedFiles, ["dataset1.csv", "dataset2.csv"])
      const manifest = JSON.parse(yield* readText(`${PROD}/releases/${d.releaseId}/manifest.json`))
      assert.match(manifest.sha256["trainedmodel.json"], /^[0-9a-f]{64}$/)
      assert.strictEqual((yield* Effect.flatMap(Tracking, (t) => t.deployments())).length, 1)
    }).pipe(Effect.provide(TestLayer(referenceFiles()))))

  it.effect("refuses to deploy what is not there, leaving the live release alone", () =>
    Effect.gen(function*() {
      const deployer = yield* Deployer
      const store = yield* FileStore
      const none = yield* Effect.flip(deployer.deploy())
      assert.strictEqual(none._tag, "DeployError")
      assert.include(none.message, "trainedmodel.json")
      assert.strictEqual((yield* Effect.flip(deployer.current()))._tag, "NotDeployed")
      yield* FinalRun
      const first = yield* deployer.deploy()
      yield* store.writeAtomic("/t/data/models/latestscore.txt", "garbage\n")
      const bad = yield* Effect.flip(deployer.deploy())
      assert.include(bad.message, "not a score")
      assert.strictEqual((yield* deployer.current()).releaseId, first.releaseId)
    }).pipe(Effect.provide(TestLayer(referenceFiles()))))

  it.effect("clears interrupted staging, and prunes old releases but never the live one", () =>
    Effect.gen(function*() {
      yield* FinalRun
      const deployer = yield* Deployer
      const store = yield* FileStore
      yield* store.writeAtomic(`${PROD}/.staging-crashed/trainedmodel.json`, "half")
      const ids: Array<string> = []
      for (let i = 0; i < 4; i++) {
        ids.push((yield* deployer.deploy()).releaseId)
      }
      const releases = (yield* store.list(`${PROD}/releases`)).map((e) => e.name)
      assert.deepStrictEqual(releases, ids.slice(-2))
      assert.isFalse(yield* store.exists(`${PROD}/.staging-crashed`))
      assert.strictEqual((yield* deployer.current()).releaseId, ids[3])
    }).pipe(Effect.provide(TestLayer(referenceFiles(), { releases_to_keep: 2 }))))

  it.scopedLive("another machine on the same database serves the live release, and each sees the other's rollback", () =>
    Effect.gen(function*() {
      const db = yield* tempDatabase("drs-shared-db-")
      // two machines: each its own filesystem, one tracking database
      const onA = (yield* machine(db, referenceFiles())).run
      const onB = (yield* machine(db)).run
      yield* onA(FinalRun)
      const first = yield* onA(Effect.flatMap(Deployer, (d) => d.deploy()))
      const second = yield* onA(Effect.flatMap(Deployer, (d) => d.deploy()))
      // B's production folder is empty: what it serves comes from the database
      assert.isFalse(yield* onB(Effect.flatMap(FileStore, (s) => s.exists(`${PROD}/CURRENT`))))
      const seen = yield* onB(Effect.flatMap(Deployer, (d) => d.current()))
      assert.strictEqual(seen.releaseId, second.releaseId)
      assert.strictEqual(seen.f1, 0.5714285714285715)
      assert.deepStrictEqual(seen.ingestedFiles, ["dataset1.csv", "dataset2.csv"])
      assert.deepStrictEqual((yield* onB(Effect.flatMap(Deployer, (d) => d.list()))).map((r) => [r.releaseId, r.live]), [[first.releaseId, false], [second.releaseId, true]])
      // a rollback on B: A serves it once its cached pointer expires, and B's folder now mirrors the release
      yield* onA(Effect.flatMap(Deployer, (d) => d.current()))
      yield* onB(Effect.flatMap(Deployer, (d) => d.rollback(undefined, "test")))
      assert.strictEqual((yield* onB(readText(`${PROD}/CURRENT`))).trim(), first.releaseId)
      assert.match(yield* onB(readText(`${PROD}/releases/${first.releaseId}/trainedmodel.json`)), /"coefficients"/)
      yield* Effect.sleep(POINTER_TTL_MS + 50)
      assert.strictEqual((yield* onA(Effect.flatMap(Deployer, (d) => d.current()))).releaseId, first.releaseId)
      const kinds = (yield* onA(Effect.flatMap(Tracking, (t) => t.deployments()))).map((d) => d.kind)
      assert.deepStrictEqual(kinds, ["deploy", "deploy", "rollback"])
    }))

  it.scopedLive("a database from before releases were stored in it takes in the production folder's releases and CURRENT", () =>
    Effect.gen(function*() {
      const db = yield* tempDatabase("drs-upgrade-db-")
      const a = yield* machine(db, referenceFiles())
      const onA = a.run
      yield* onA(FinalRun)
      const first = yield* onA(Effect.flatMap(Deployer, (d) => d.deploy()))
      const second = yield* onA(Effect.flatMap(Deployer, (d) => d.deploy()))
      // the database as an older version left it: releases only in the production folder
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`DELETE FROM releases`
        yield* sql`DELETE FROM deployments`
      }).pipe(Effect.provide(DbLive(db)))
      const upgraded = Context.get(yield* Layer.build(Deployer.Default.pipe(Layer.provide(Layer.succeedContext(a.context)))), Deployer)
      const live = yield* upgraded.current()
      assert.strictEqual(live.releaseId, second.releaseId)
      assert.strictEqual(live.f1, 0.5714285714285715)
      assert.deepStrictEqual((yield* upgraded.list()).map((r) => [r.releaseId, r.live]), [[first.releaseId, false], [second.releaseId, true]])
      const recorded = yield* onA(Effect.flatMap(Tracking, (t) => t.deployments()))
      assert.deepStrictEqual(recorded.map((d) => [d.release_id, d.kind, d.reason]), [[second.releaseId, "activate", "imported from the production folder's CURRENT"]])
      // and a rollback works on what was taken in
      assert.strictEqual((yield* upgraded.rollback()).releaseId, first.releaseId)
    }))
})
