import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { FileStore } from "../src/services/FileStore.js"
import { Ingestion } from "../src/services/Ingestion.js"
import { Tracking } from "../src/services/Tracking.js"
import { csv, readText, row, TestLayer } from "./layers.js"

const IN = "/t/data/sourcedata"
const a = csv([row("a", 1, 10, 1, 0), row("b", 2, 20, 2, 1), row("a", 1, 10, 1, 0)])
const b = csv([row("b", 2, 20, 2, 1), row("c", 3, 30, 3, 0)])

describe("Ingestion", () => {
  it.effect("merges, de-duplicates and records every file by hash", () =>
    Effect.gen(function*() {
      const ingestion = yield* Ingestion
      const r = yield* ingestion.ingest()
      assert.deepStrictEqual(r.newFiles.map((f) => f.name), ["a.csv", "b.csv"])
      assert.strictEqual(r.rowsRead, 5)
      assert.strictEqual(r.totalRows, 3)
      assert.strictEqual(r.duplicatesDropped, 2)
      const final = yield* readText("/t/data/ingesteddata/finaldata.csv")
      assert.strictEqual(final, csv([row("a", 1, 10, 1, 0), row("b", 2, 20, 2, 1), row("c", 3, 30, 3, 0)]))
      assert.strictEqual(yield* readText("/t/data/ingesteddata/ingestedfiles.txt"), "a.csv\nb.csv\n")
      const tracked = yield* Effect.flatMap(Tracking, (t) => t.ingestedFiles())
      assert.deepStrictEqual(tracked.map((f) => [f.fileName, f.rows]), [["a.csv", 3], ["b.csv", 2]])
      assert.match(tracked[0]!.sha256, /^[0-9a-f]{64}$/)
    }).pipe(Effect.provide(TestLayer({ [`${IN}/a.csv`]: a, [`${IN}/b.csv`]: b }))))

  it.effect("never ingests an unchanged file twice, and keeps earlier data when new files come", () =>
    Effect.gen(function*() {
      const ingestion = yield* Ingestion
      const store = yield* FileStore
      yield* ingestion.ingest()
      assert.deepStrictEqual(yield* ingestion.pending(), [])
      const again = yield* ingestion.ingest()
      assert.deepStrictEqual(again.newFiles, [])
      assert.deepStrictEqual(again.skipped, [{ name: "a.csv", reason: "already ingested (same content)" }])
      // the same content under another name is not new either
      yield* store.writeAtomic(`${IN}/copy.csv`, a)
      assert.deepStrictEqual(yield* ingestion.pending(), [])
      // the first file leaves the folder; new data still merges with what was ingested
      yield* store.remove(`${IN}/a.csv`)
      yield* store.remove(`${IN}/copy.csv`)
      yield* store.writeAtomic(`${IN}/b.csv`, b)
      const next = yield* ingestion.ingest()
      assert.deepStrictEqual(next.newFiles.map((f) => f.name), ["b.csv"])
      assert.strictEqual(next.totalRows, 3)
      assert.strictEqual(yield* readText("/t/data/ingesteddata/ingestedfiles.txt"), "a.csv\nb.csv\n")
    }).pipe(Effect.provide(TestLayer({ [`${IN}/a.csv`]: a }))))

  it.effect("a changed file (new content) is ingested again", () =>
    Effect.gen(function*() {
      const ingestion = yield* Ingestion
      const store = yield* FileStore
      yield* ingestion.ingest()
      yield* store.writeAtomic(`${IN}/a.csv`, csv([row("z", 9, 9, 9, 1)]))
      const r = yield* ingestion.ingest()
      assert.deepStrictEqual(r.newFiles.map((f) => f.name), ["a.csv"])
      assert.strictEqual(r.totalRows, 3)
    }).pipe(Effect.provide(TestLayer({ [`${IN}/a.csv`]: a }))))

  it.effect("moves malformed files aside with the reason, and still ingests the others", () =>
    Effect.gen(function*() {
      const ingestion = yield* Ingestion
      const store = yield* FileStore
      const r = yield* ingestion.ingest()
      assert.deepStrictEqual(r.newFiles.map((f) => f.name), ["good.csv"])
      assert.deepStrictEqual(r.rejected.map((x) => x.name).sort(), ["badheader.csv", "binary.csv", "empty.csv", "headeronly.csv", "text.csv"])
      const text = r.rejected.find((x) => x.name === "text.csv")!
      assert.include(text.error, `text.csv, row 2, column "number_of_employees": "many" is not a number`)
      assert.isFalse(yield* store.exists(`${IN}/text.csv`))
      assert.isTrue(yield* store.exists(text.movedTo!))
      assert.include(yield* readText(`${text.movedTo!}.error.txt`), "row 2")
      const rejected = yield* Effect.flatMap(Tracking, (t) => t.rejectedFiles())
      assert.strictEqual(rejected.length, 5)
      // nothing left to do afterwards
      assert.deepStrictEqual(yield* ingestion.pending(), [])
      // a rejected file that could not be moved aside (put back here by hand) is not retried
      yield* store.rename(text.movedTo!, `${IN}/text.csv`)
      const scan = yield* ingestion.scan()
      assert.deepStrictEqual(scan.pending, [])
      assert.include(scan.skipped.find((x) => x.name === "text.csv")!.reason, "rejected earlier: text.csv, row 2")
      assert.strictEqual(yield* readText("/t/data/ingesteddata/finaldata.csv"), a.split("\n").slice(0, 3).join("\n") + "\n")
    }).pipe(Effect.provide(TestLayer({
      [`${IN}/good.csv`]: a,
      [`${IN}/text.csv`]: "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\nx,1,2,3,0\ny,1,2,many,0\n",
      [`${IN}/badheader.csv`]: "a,b,c\n1,2,3\n",
      [`${IN}/empty.csv`]: "",
      [`${IN}/headeronly.csv`]: "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n",
      [`${IN}/binary.csv`]: new Uint8Array([1, 2, 0, 4, 5]),
      [`${IN}/notes.txt`]: "ignored: not a CSV"
    }))))
})
