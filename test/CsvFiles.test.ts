/** DuckDB's CSV reader with the declared columns: good files become frames, bad ones a CsvError with file, line and column. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Snapshots } from "../src/data/Snapshots.js"
import { DuckDb } from "../src/data/DuckDb.js"
import { DatasetSchema } from "../src/domain/Dataset.js"
import type { CsvError } from "../src/domain/Errors.js"
import { AppConfig } from "../src/services/AppConfig.js"
import { FileStore } from "../src/services/FileStore.js"
import { Tracking } from "../src/services/Tracking.js"

const HEADER = "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n"
const F = "/t/in/f.csv"

const layer = (text: string | Uint8Array, config: Parameters<typeof AppConfig.layerTest>[0] = {}) =>
  Snapshots.Default.pipe(
    Layer.provideMerge(DuckDb.Default),
    Layer.provideMerge(Layer.mergeAll(FileStore.layerTemp({ [F]: text }), Tracking.layerTest, AppConfig.layerTest(config)))
  )

const read = (text: string | Uint8Array, config: Parameters<typeof AppConfig.layerTest>[0] = {}) =>
  Effect.flatMap(Snapshots, (s) => s.csvFrame([F])).pipe(Effect.provide(layer(text, config)))

const failure = (text: string | Uint8Array, config: Parameters<typeof AppConfig.layerTest>[0] = {}) =>
  Effect.flip(read(text, config)).pipe(Effect.map((e) => {
    assert.strictEqual(e._tag, "CsvError")
    return e as CsvError
  }))

const cols = (f: { features: ReadonlyArray<Float64Array>; target: Float64Array }) => [...f.features.map((c) => Array.from(c)), Array.from(f.target)]

describe("CSV files through DuckDB", () => {
  it.effect("reads rows into columns, missing values as NaN, empty lines skipped", () =>
    Effect.gen(function*() {
      const f = yield* read(`${HEADER}abcd,10,200,3,1\nefgh,,NA,4,0\n\n`)
      assert.strictEqual(f.rows, 2)
      assert.deepStrictEqual(cols(f), [[10, Number.NaN], [200, Number.NaN], [3, 4], [1, 0]])
    }))

  it.effect("accepts the columns in any order and a UTF-8 BOM", () =>
    Effect.gen(function*() {
      const f = yield* read("\uFEFFexited,corporation,number_of_employees,lastyear_activity,lastmonth_activity\n1,zz,5,6,7\n")
      assert.deepStrictEqual(cols(f), [[7], [6], [5], [1]])
    }))

  it.effect("names file, line and column of a non-numeric value", () =>
    Effect.gen(function*() {
      const e = yield* failure(`${HEADER}abcd,10,200,3,1\nefgh,12,lots,4,0\n`)
      assert.strictEqual(e.file, "f.csv")
      assert.strictEqual(e.line, 3)
      assert.strictEqual(e.column, "lastyear_activity")
      assert.include(e.message, `f.csv, line 3, column "lastyear_activity": "lots" is not a number`)
    }))

  it.effect("rejects a label other than 0 or 1", () =>
    Effect.gen(function*() {
      const e = yield* failure(`${HEADER}abcd,10,200,3,2\n`)
      assert.strictEqual(e.column, "exited")
      assert.strictEqual(e.line, 2)
      assert.include(e.reason, `"2" is not a class label (expected 0 or 1)`)
    }))

  it.effect("rejects a wrong header, naming what is missing and unexpected", () =>
    Effect.gen(function*() {
      const e = yield* failure("corp,lastmonth_activity,lastyear_activity,number_of_employees,exited\nabcd,1,2,3,0\n")
      assert.include(e.reason, "missing column(s) corporation")
      assert.include(e.reason, "unexpected column(s) corp")
    }))

  it.effect("rejects a row with the wrong number of fields", () =>
    Effect.gen(function*() {
      const e = yield* failure(`${HEADER}abcd,10,200,3,1\nabcd,10,200,3\n`)
      assert.strictEqual(e.line, 3)
      assert.include(e.reason, "expected 5 fields, found 4")
    }))

  it.effect("rejects an empty file, a header without rows, and binary content", () =>
    Effect.gen(function*() {
      assert.include((yield* failure("")).reason, "empty")
      assert.include((yield* failure(HEADER)).reason, "no data rows")
      assert.include((yield* failure(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]))).reason, "binary")
    }))

  it.effect("rejects hex and infinities, with the line where it can be found", () =>
    Effect.gen(function*() {
      const hex = yield* failure(`${HEADER}a,0x10,1,1,0\n`)
      assert.strictEqual(hex.column, "lastmonth_activity")
      assert.strictEqual(hex.line, 2)
      const inf = yield* failure(`${HEADER}a,1,1,1,0\nb,1,inf,1,0\n`)
      assert.strictEqual(inf.column, "lastyear_activity")
      assert.strictEqual(inf.line, 3)
      assert.include(inf.reason, "infinite")
    }))

  it.effect("rejects a field over max_field_bytes, whether the line is long or the field just over", () =>
    Effect.gen(function*() {
      const huge = yield* failure(`${HEADER}a,1,1,1,0\n${"x".repeat(300_000)},1,1,1,0\n`, { max_field_bytes: 1000 })
      assert.strictEqual(huge.line, 3)
      assert.include(huge.message, "max_field_bytes")
      const over = yield* failure(`${HEADER}a,1,1,1,0\n${"y".repeat(1001)},1,1,1,0\n`, { max_field_bytes: 1000 })
      assert.strictEqual(over.column, "corporation")
      assert.strictEqual(over.line, 3)
      assert.include(over.reason, "max_field_bytes (1000 bytes)")
    }))

  it.effect("follows a declared schema with other names and no id column", () =>
    Effect.gen(function*() {
      const dataset = DatasetSchema.make({ id_column: null, feature_columns: ["u", "v"], target_column: "label" })
      const f = yield* read("v,label,u\n2,1,1\n4,0,3\n", { dataset })
      assert.deepStrictEqual(cols(f), [[1, 3], [2, 4], [1, 0]])
      const e = yield* failure(HEADER, { dataset })
      assert.include(e.reason, "expected u,v,label")
    }))
})
