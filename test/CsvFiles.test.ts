/** DuckDB's CSV reader with the declared columns: good files become frames, bad ones a CsvError with file, line and column. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { countRecords, loadDistinct } from "../src/data/CsvFiles.js"
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

/** The ingestion's fast path: the files read once into their distinct rows, or undefined when the slow path must say what is wrong. */
describe("loadDistinct", () => {
  const load = (files: Record<string, string>, config: Parameters<typeof AppConfig.layerTest>[0] = {}, before?: string) =>
    Effect.gen(function*() {
      const store = yield* FileStore
      const duck = yield* DuckDb
      const { dataset, max_field_bytes } = yield* AppConfig
      return yield* duck.use("test", async (c) => {
        const srcs = Object.keys(files).map((f) => ({ label: f, path: store.localPath(`/t/in/${f}`) }))
        const except = before === undefined ? undefined : `(SELECT * FROM (VALUES ${before}) v(corporation, lastmonth_activity, lastyear_activity, number_of_employees, exited))`
        const loaded = await loadDistinct(c, srcs, dataset, max_field_bytes, "fast", except)
        const tables = Number((await c.runAndReadAll(`SELECT count(*) FROM duckdb_tables() WHERE table_name = 'fast'`)).getRows()[0]![0])
        const rows = loaded === undefined ? [] : (await c.runAndReadAll(`SELECT * FROM fast ORDER BY ALL`)).getRowsJS()
        return { loaded, tables, rows }
      })
    }).pipe(Effect.provide(Layer.mergeAll(DuckDb.Default, FileStore.layerTemp(Object.fromEntries(Object.entries(files).map(([k, v]) => [`/t/in/${k}`, v]))))
      .pipe(Layer.provideMerge(AppConfig.layerTest(config)))))

  it.effect("counts each file's rows, repeats included, and keeps the distinct rows in declared order", () =>
    Effect.gen(function*() {
      const { loaded, rows } = yield* load({
        "a.csv": `${HEADER}a,1,2,3,1\na,1,2,3,1\nb,NA,5,6,0\n`,
        "b.csv": `${HEADER}b,,5,6,0\nc,7,8,9,1\n`
      })
      assert.deepStrictEqual(loaded?.files.map((f) => f.rows), [3, 2])
      // a feature with a gap is not "whole numbers", so finaldata.csv writes it as floats, as pandas does
      assert.deepStrictEqual(loaded?.wholeNumbers, [false, true, true])
      // missing values compare equal (the "NA" and the empty field), and the label is a 0/1 number
      assert.deepStrictEqual(rows, [["a", 1, 2, 3, 1], ["b", null, 5, 6, 0], ["c", 7, 8, 9, 1]])
    }))

  it.effect("leaves out the rows ingested before, missing values comparing equal there too", () =>
    Effect.gen(function*() {
      const { loaded, rows } = yield* load({
        "a.csv": `${HEADER}a,1,2,3,1\nb,NA,5,6,0\nb,NA,5,6,0\nc,7,8,9,1\nd,,,,0\n`
      }, {}, `('a', 1.0, 2.0, 3.0, 1), ('b', NULL, 5.0, 6.0, 0), ('c', 7.0, 8.0, 9.0, 0), ('d', NULL, NULL, NULL, 0)`)
      assert.deepStrictEqual(loaded?.files.map((f) => f.rows), [5])
      // only c with the other label is new
      assert.deepStrictEqual(rows, [["c", 7, 8, 9, 1]])
    }))

  it.effect("counts files with quoted fields through DuckDB, a line break inside quotes included", () =>
    Effect.gen(function*() {
      const { loaded, rows } = yield* load({
        "a.csv": `${HEADER}"a, inc",1,2,3,1\n"b\nc",4,5,6,0\n\n`,
        "b.csv": `${HEADER.replace("\n", "\r\n")}d,7,8,9,1\r\n`
      })
      assert.deepStrictEqual(loaded?.files.map((f) => f.rows), [2, 1])
      assert.deepStrictEqual(rows.map((r) => r[0]), ["a, inc", "b\nc", "d"])
    }))

  it.effect("gives way, and leaves no table, on a bad line, a bad value, an empty file or mixed headers", () =>
    Effect.gen(function*() {
      const good = `${HEADER}a,1,2,3,1\n`
      const cases: Array<[string, Record<string, string>, Parameters<typeof AppConfig.layerTest>[0]]> = [
        ["not a number", { "a.csv": good, "b.csv": `${HEADER}b,lots,2,3,0\n` }, {}],
        ["not a label", { "a.csv": good, "b.csv": `${HEADER}b,1,2,3,2\n` }, {}],
        ["too few fields", { "a.csv": good, "b.csv": `${HEADER}b,1,2,3\n` }, {}],
        ["an infinity", { "a.csv": `${HEADER}a,inf,2,3,1\n` }, {}],
        ["a field over max_field_bytes", { "a.csv": `${HEADER}${"x".repeat(101)},1,2,3,1\n` }, { max_field_bytes: 100 }],
        ["a header and no rows", { "a.csv": good, "b.csv": HEADER }, {}],
        ["a wrong header", { "a.csv": good, "b.csv": "corp,x\n1,2\n" }, {}],
        ["another column order", { "a.csv": good, "b.csv": "exited,corporation,lastmonth_activity,lastyear_activity,number_of_employees\n1,b,1,2,3\n" }, {}]
      ]
      for (const [what, files, config] of cases) {
        const { loaded, tables } = yield* load(files, config)
        assert.isUndefined(loaded, what)
        assert.strictEqual(tables, 0, what)
      }
    }))
})

describe("DuckDb.warm", () => {
  it.effect("starts the engine in the background; the first use finds it ready", () =>
    Effect.gen(function*() {
      const duck = yield* DuckDb
      yield* duck.warm
      assert.deepStrictEqual(yield* duck.rows("SELECT 41 + 1 AS answer"), [{ answer: 42 }])
    }).pipe(Effect.provide(DuckDb.layerTest())))

  it.effect("never fails itself: an engine that cannot start fails the first use, with the reason", () =>
    Effect.gen(function*() {
      const duck = yield* DuckDb
      yield* duck.warm
      const e = yield* Effect.flip(duck.rows("SELECT 1"))
      assert.strictEqual(e._tag, "DataError")
      assert.match(e.message, /^query: Failed to set config/)
    }).pipe(Effect.provide(DuckDb.layerTest(AppConfig.layerTest({ duckdb_memory_limit: "lots" })))))
})

describe("countRecords", () => {
  const files = {
    plain: `${HEADER}a,1,2,3,1\nb,4,5,6,0\n`,
    "no final line break": `${HEADER}a,1,2,3,1\nb,4,5,6,0`,
    "empty lines between, after and at the end": `${HEADER}a,1,2,3,1\n\nb,4,5,6,0\n\n\nc,,,,1\n\n`,
    "header only": HEADER,
    "a row of missing values": `${HEADER},,,,\n`,
    // more than one read buffer (1 MiB), with empty lines across the buffers' edges
    long: HEADER + Array.from({ length: 60_000 }, (_, i) => `id${i},${i},${i * 2},${i % 7},${i % 2}\n${i % 9 === 0 ? "\n" : ""}`).join("")
  }

  it.effect("counts what DuckDB's reader counts, wherever the empty lines are", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      const duck = yield* DuckDb
      const paths = Object.keys(files).map((k) => store.localPath(`/t/${k}.csv`))
      const ours = yield* Effect.promise(() => countRecords(paths))
      const duckdb = yield* Effect.forEach(paths, (p) =>
        Effect.map(duck.rows(`SELECT count(*) AS n FROM read_csv('${p}', header = true, auto_detect = false, delim = ',', strict_mode = true,
          columns = {'corporation': 'VARCHAR', 'lastmonth_activity': 'DOUBLE', 'lastyear_activity': 'DOUBLE', 'number_of_employees': 'DOUBLE', 'exited': 'INTEGER'})`),
        (r) => Number(r[0]!.n)))
      assert.deepStrictEqual(ours, duckdb)
      assert.deepStrictEqual(ours?.slice(0, 5), [2, 2, 3, 0, 1])
      assert.strictEqual(ours?.[5], 60_000)
    }).pipe(Effect.provide(Layer.mergeAll(DuckDb.layerTest(), FileStore.layerTemp(Object.fromEntries(Object.entries(files).map(([k, v]) => [`/t/${k}.csv`, v])))))))

  it.effect("leaves to DuckDB a file with a quote or a carriage return, where a line break may not end a record", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      const count = (name: string) => Effect.promise(() => countRecords([store.localPath("/t/plain.csv"), store.localPath(`/t/${name}.csv`)]))
      assert.deepStrictEqual(yield* count("plain"), [1, 1])
      assert.isUndefined(yield* count("quoted"))
      assert.isUndefined(yield* count("crlf"))
    }).pipe(Effect.provide(FileStore.layerTemp({
      "/t/plain.csv": `${HEADER}a,1,2,3,1\n`,
      "/t/quoted.csv": `${HEADER}"a\nb",1,2,3,1\n`,
      "/t/crlf.csv": `${HEADER}a,1,2,3,1\r\n`
    }))))
})
