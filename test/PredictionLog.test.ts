import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { DuckDb, lit } from "../src/data/DuckDb.js"
import { BatchBuilder, type BatchColumns, PredictionLog, predictionLogGlob, startWriter, type LoggedRequest } from "../src/data/PredictionLog.js"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { AppConfig } from "../src/services/AppConfig.js"
import { FileStore } from "../src/services/FileStore.js"

const request = (k: number, rows: number, withIds = true): LoggedRequest => ({
  requestId: `req-${k}`,
  at: Date.UTC(2026, 11, 1, 12, 0, k),
  releaseId: "rel-1",
  rows,
  features: [
    Float64Array.from({ length: rows }, (_, i) => (i === 1 ? Number.NaN : k * 100 + i)),
    Float64Array.from({ length: rows }, (_, i) => i / 2),
    Float64Array.from({ length: rows }, () => 7)
  ],
  probabilities: Float64Array.from({ length: rows }, (_, i) => (i + 1) / (rows + 1)),
  predictions: Uint8Array.from({ length: rows }, (_, i) => ((i + 1) / (rows + 1) > 0.5 ? 1 : 0)),
  ids: withIds ? Array.from({ length: rows }, (_, i) => (i === 0 ? null : `c${k}-${i}`)) : null
})

/** Requests as a batch's columns, all at once (room for every row: the builder never grows). */
const batchColumns = (requests: ReadonlyArray<LoggedRequest>, features: ReadonlyArray<string>): BatchColumns => {
  const builder = new BatchBuilder(features, features.map((_, j) => requests.some((r) => r.levels?.[j])), requests.reduce((n, r) => n + r.rows, 0))
  for (const r of requests) builder.add(r)
  return builder.columns()
}

/** Every logged row (and the files), read back with DuckDB. */
const readBack = Effect.gen(function*() {
  const log = yield* PredictionLog
  const store = yield* FileStore
  const duck = yield* DuckDb
  const files = (yield* store.list(log.dir).pipe(Effect.orElseSucceed(() => []))).map((e) => e.name).sort()
  if (!files.some((f) => f.endsWith(".parquet"))) return { files, rows: [] as ReadonlyArray<Record<string, unknown>> }
  const rows = yield* duck.rows(`SELECT request_id, CAST(epoch_ms(ts) AS DOUBLE) AS ms, release_id, "row", id, probability, prediction, "f:lastmonth_activity" AS lm, "f:lastyear_activity" AS ly, "f:number_of_employees" AS ne
    FROM read_parquet(${lit(store.localPath(predictionLogGlob(log.dir)))}) ORDER BY request_id, "row"`)
  return { files, rows }
})

const layer = (config: Parameters<typeof AppConfig.layerTest>[0]) => PredictionLog.layerTest(config)

describe("PredictionLog", () => {
  it.effect("writes every row, with its request, time, release, features as received, probability, prediction and id", () =>
    Effect.gen(function*() {
      const log = yield* PredictionLog
      yield* log.record(request(1, 3))
      yield* log.record(request(2, 2, false))
      assert.deepStrictEqual((yield* readBack).rows, [], "nothing is written before the batch is full or old")
      yield* log.flush
      const { files, rows } = yield* readBack
      assert.lengthOf(files, 1)
      assert.match(files[0]!, /^.+-\d+-\d+-000000\.parquet$/)
      assert.lengthOf(rows, 5)
      assert.deepStrictEqual(rows[0], {
        request_id: "req-1", ms: Date.UTC(2026, 11, 1, 12, 0, 1), release_id: "rel-1", row: 0, id: null,
        probability: 0.25, prediction: 0, lm: 100, ly: 0, ne: 7
      })
      // a missing feature is NULL; the id as sent
      assert.deepStrictEqual([rows[1]!.lm, rows[1]!.id, rows[1]!.prediction], [null, "c1-1", 0])
      assert.deepStrictEqual([rows[2]!.id, rows[2]!.prediction, rows[2]!.probability], ["c1-2", 1, 0.75])
      assert.deepStrictEqual(rows.slice(3).map((r) => [r.request_id, r.row, r.id]), [["req-2", 0, null], ["req-2", 1, null]])
    }).pipe(Effect.provide(layer({ prediction_log_max_rows: 1000, prediction_log_max_seconds: 3600 }))))

  it.effect("rolls by rows: a full batch is written in the background, one file per batch", () =>
    Effect.gen(function*() {
      const log = yield* PredictionLog
      for (let k = 0; k < 5; k++) yield* log.record(request(k, 2))
      // 4 rows per batch: batches close after requests 2 and 4; the fifth stays open
      yield* log.flush
      const { files, rows } = yield* readBack
      assert.lengthOf(files, 3)
      assert.lengthOf(rows, 10)
    }).pipe(Effect.provide(layer({ prediction_log_max_rows: 4, prediction_log_max_seconds: 3600 }))))

  it.live("rolls by seconds: an open batch is written once its oldest row is prediction_log_max_seconds old", () =>
    Effect.gen(function*() {
      const log = yield* PredictionLog
      yield* log.record(request(1, 3))
      yield* Effect.sleep("300 millis")
      assert.lengthOf((yield* readBack).rows, 0)
      yield* Effect.sleep("1500 millis")
      assert.lengthOf((yield* readBack).rows, 3)
    }).pipe(Effect.provide(layer({ prediction_log_max_rows: 1000, prediction_log_max_seconds: 1 }))))

  it.effect("a graceful stop (the scope closing) writes the open batch", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      const config = yield* AppConfig
      // the log's own layer, started and stopped inside this test; the store is shared
      yield* Effect.scoped(Effect.gen(function*() {
        const log = yield* PredictionLog
        yield* log.record(request(1, 3))
        yield* log.record(request(2, 3))
      }).pipe(Effect.provide(PredictionLog.Default.pipe(Layer.provide(DuckDb.Default), Layer.provide(Layer.succeed(FileStore, store)), Layer.provide(Layer.succeed(AppConfig, config))))))
      const rows = yield* readBack.pipe(Effect.provide(PredictionLog.Default.pipe(Layer.provideMerge(DuckDb.Default), Layer.provide(Layer.succeed(FileStore, store)), Layer.provide(Layer.succeed(AppConfig, config)))))
      assert.lengthOf(rows.rows, 6)
    }).pipe(Effect.provide(Layer.mergeAll(AppConfig.layerTest({ prediction_log_max_rows: 1000, prediction_log_max_seconds: 3600 }), FileStore.layerTemp()))))

  it.effect("prediction_log: false records nothing", () =>
    Effect.gen(function*() {
      const log = yield* PredictionLog
      yield* log.record(request(1, 3))
      yield* log.flush
      assert.deepStrictEqual((yield* readBack).files, [])
    }).pipe(Effect.provide(layer({ prediction_log: false }))))

  it.effect("the writer thread writes a batch's columns (handed over, not copied) and gives their memory back; a failed write is an error and the thread writes on", () =>
    Effect.gen(function*() {
      const duck = yield* DuckDb
      const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "drs-writer-"))
      const writer = startWriter("1GB")
      try {
        const cols = batchColumns([request(1, 3), request(2, 2, false)], ["lastmonth_activity", "lastyear_activity", "number_of_employees"])
        const firstProbability = cols.doubles[2]!
        const sizes = cols.doubles.map((d) => d.buffer.byteLength)
        const { rows, buffers } = yield* Effect.promise(() => writer.write(cols, NodePath.join(dir, "a.parquet")))
        assert.strictEqual(rows, 5)
        // the arrays went to the thread: this side's are detached
        assert.strictEqual(firstProbability.length, 0)
        // and their memory came back once written, which the next batch fills again (its own arrays are new)
        assert.deepStrictEqual(buffers.map((b) => b.byteLength), sizes)
        const next = new BatchBuilder(["a", "b", "c"], [false, false, false], 5, buffers)
        next.add(request(5, 5))
        const again = next.columns()
        assert.isTrue(again.doubles.every((d, j) => d.buffer === buffers[j]))
        assert.deepStrictEqual(Array.from(again.doubles[2]!), Array.from(request(5, 5).probabilities))
        // memory too small for the room asked is not used
        assert.isTrue(new BatchBuilder(["a", "b", "c"], [false, false, false], 6, buffers).columns().doubles.every((d, j) => d.buffer !== buffers[j]))
        const back = yield* duck.rows(`SELECT request_id, "row", id, probability, "f:lastmonth_activity" AS lm FROM read_parquet(${lit(NodePath.join(dir, "a.parquet"))}) ORDER BY request_id, "row"`)
        assert.deepStrictEqual(back.map((r) => [r.request_id, r.row, r.id, r.probability, r.lm]), [
          ["req-1", 0, null, 0.25, 100], ["req-1", 1, "c1-1", 0.5, null], ["req-1", 2, "c1-2", 0.75, 102],
          ["req-2", 0, null, 1 / 3, 200], ["req-2", 1, null, 2 / 3, null]
        ])
        const failed = yield* Effect.promise(() => writer.write(batchColumns([request(3, 2)], ["a", "b", "c"]), NodePath.join(dir, "no-such-folder", "b.parquet")).then(() => "written", (e: Error) => e.message))
        assert.include(failed, "no-such-folder")
        assert.strictEqual((yield* Effect.promise(() => writer.write(batchColumns([request(4, 4)], ["a", "b", "c"]), NodePath.join(dir, "c.parquet")))).rows, 4)
      } finally {
        yield* Effect.promise(() => writer.close())
        NodeFs.rmSync(dir, { recursive: true, force: true })
      }
    }).pipe(Effect.provide(DuckDb.layerTest())))

  it("a batch's columns filled request by request, past the room first allocated, with the categories of each request mapped into the batch's", () => {
    const withLevels = (r: LoggedRequest, levels: ReadonlyArray<string>): LoggedRequest => ({ ...r, features: [r.features[0]!, Float64Array.from({ length: r.rows }, (_, i) => (i === 1 ? Number.NaN : i % levels.length)), r.features[2]!], levels: [null, levels, null] })
    const requests = [withLevels(request(1, 2, false), ["b", "a"]), withLevels(request(2, 2), ["a", "c"]), withLevels(request(3, 5), ["c", "b", "a"])]
    const builder = new BatchBuilder(["x", "y", "z"], [false, true, false], 3)
    for (const r of requests) builder.add(r)
    const cols = builder.columns()
    assert.strictEqual(cols.rows, 9)
    assert.deepStrictEqual(cols.categories, [null, ["b", "a", "c"], null])
    // the category of each row, as the request sent it
    const sent = requests.flatMap((r) => Array.from(r.features[1]!, (c) => (c === c ? r.levels![1]![c]! : null)))
    assert.deepStrictEqual(Array.from(cols.doubles[5]!, (c) => (c === c ? cols.categories[1]![c]! : null)), sent)
    assert.deepStrictEqual(Array.from(cols.doubles[0]!), [0, 0, 1, 1, 2, 2, 2, 2, 2])
    assert.deepStrictEqual(Array.from(cols.doubles[1]!), [0, 1, 0, 1, 0, 1, 2, 3, 4])
    assert.deepStrictEqual(Array.from(cols.doubles[4]!), requests.flatMap((r) => Array.from(r.features[0]!)))
    // ids: null for the rows of the request without them, and where a row has none
    assert.deepStrictEqual(cols.ids, [null, null, null, "c2-1", null, "c3-1", "c3-2", "c3-3", "c3-4"])
    assert.deepStrictEqual([cols.requestIds, Array.from(cols.at)], [["req-1", "req-2", "req-3"], requests.map((r) => r.at)])
    // the same columns as all at once
    assert.deepStrictEqual({ ...batchColumns(requests, ["x", "y", "z"]), doubles: null }, { ...cols, doubles: null })
    assert.deepStrictEqual(batchColumns(requests, ["x", "y", "z"]).doubles.map((c) => Array.from(c)), cols.doubles.map((c) => Array.from(c)))
  })
})
