import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { AppConfig } from "../src/services/AppConfig.js"
import { FileStore } from "../src/services/FileStore.js"
import { Ingestion } from "../src/services/Ingestion.js"
import { Tracking } from "../src/services/Tracking.js"
import * as NodeFs from "node:fs"
import { DatasetSchema } from "../src/domain/Dataset.js"
import { MAX_PARTS, snapshotHash, Snapshots } from "../src/data/Snapshots.js"
import { csv, readText, row, TestLayer } from "./layers.js"

const IN = "/t/data/sourcedata"
/** the data lines of a CSV, sorted (a data set is a set: its order is not kept) */
const lines = (text: string) => text.trimEnd().split("\n").slice(1).sort()
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
      assert.deepStrictEqual(lines(final), ["a,1,10,1,0", "b,2,20,2,1", "c,3,30,3,0"])
      assert.strictEqual(final.split("\n")[0], "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited")
      // the snapshot is the data set: Parquet, named by its hash, recorded with the batch of new rows
      assert.strictEqual(r.snapshot!.parts.length, 1)
      assert.match(r.snapshot!.parts[0]!.path, /snapshots\/batch-[0-9a-f]{64}\.parquet$/)
      assert.strictEqual(r.snapshot!.hash, r.dataHash)
      assert.strictEqual(r.newRows, 3)
      assert.strictEqual(yield* readText("/t/data/ingesteddata/ingestedfiles.txt"), "a.csv\nb.csv\n")
      const tracked = yield* Effect.flatMap(Tracking, (t) => t.ingestedFiles())
      assert.deepStrictEqual(tracked.map((f) => [f.fileName, f.rows]), [["a.csv", 3], ["b.csv", 2]])
      assert.match(tracked[0]!.sha256, /^[0-9a-f]{64}$/)
    }).pipe(Effect.provide(TestLayer({ [`${IN}/a.csv`]: a, [`${IN}/b.csv`]: b }))))

  it.effect("finaldata.csv is written as pandas writes it: whole-number columns as integers, a column with a fraction or a gap as floats", () =>
    Effect.gen(function*() {
      yield* Effect.flatMap(Ingestion, (i) => i.ingest())
      assert.deepStrictEqual(lines(yield* readText("/t/data/ingesteddata/finaldata.csv")), ["a,1.5,10,,0", "b,2.0,20,2.0,1"])
    }).pipe(Effect.provide(TestLayer({ [`${IN}/a.csv`]: csv([row("a", 1.5, 10, null, 0), row("b", 2, 20, 2, 1)]) }))))

  it.effect("a run resumed after its ingestion was committed gets the same result back, and finaldata.csv is written again", () =>
    Effect.gen(function*() {
      const ingestion = yield* Ingestion
      const store = yield* FileStore
      const first = yield* ingestion.ingest(7)
      assert.isTrue((yield* ingestion.ingestedBy(8))._tag === "None")
      // the run stopped after its commit point, before finaldata.csv was written
      yield* store.remove("/t/data/ingesteddata/finaldata.csv")
      const again = yield* ingestion.ingestedBy(7)
      assert.isTrue(again._tag === "Some")
      if (again._tag === "Some") {
        assert.deepStrictEqual(again.value.newFiles, first.newFiles)
        assert.strictEqual(again.value.dataHash, first.dataHash)
        assert.strictEqual(again.value.newRows, first.newRows)
        assert.strictEqual(again.value.duplicatesDropped, first.duplicatesDropped)
      }
      // the pipeline writes the user files of the snapshot it got back (FullProcess.pipeline)
      yield* ingestion.writeUserFiles(first.snapshot!)
      assert.deepStrictEqual(lines(yield* readText("/t/data/ingesteddata/finaldata.csv")), ["a,1,10,1,0", "b,2,20,2,1", "c,3,30,3,0"])
      // and nothing was ingested twice
      assert.deepStrictEqual(yield* ingestion.pending(), [])
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
      assert.include(text.error, `text.csv, line 3, column "number_of_employees": "many" is not a number`)
      assert.isFalse(yield* store.exists(`${IN}/text.csv`))
      assert.isTrue(yield* store.exists(text.movedTo!))
      assert.include(yield* readText(`${text.movedTo!}.error.txt`), "line 3")
      const rejected = yield* Effect.flatMap(Tracking, (t) => t.rejectedFiles())
      assert.strictEqual(rejected.length, 5)
      // nothing left to do afterwards
      assert.deepStrictEqual(yield* ingestion.pending(), [])
      // a rejected file that could not be moved aside (put back here by hand) is not retried
      yield* store.rename(text.movedTo!, `${IN}/text.csv`)
      const scan = yield* ingestion.scan()
      assert.deepStrictEqual(scan.pending, [])
      assert.include(scan.skipped.find((x) => x.name === "text.csv")!.reason, "rejected earlier: text.csv, line 3")
      assert.deepStrictEqual(lines(yield* readText("/t/data/ingesteddata/finaldata.csv")), ["a,1,10,1,0", "b,2,20,2,1"])
    }).pipe(Effect.provide(TestLayer({
      [`${IN}/good.csv`]: a,
      [`${IN}/text.csv`]: "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\nx,1,2,3,0\ny,1,2,many,0\n",
      [`${IN}/badheader.csv`]: "a,b,c\n1,2,3\n",
      [`${IN}/empty.csv`]: "",
      [`${IN}/headeronly.csv`]: "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n",
      [`${IN}/binary.csv`]: new Uint8Array([1, 2, 0, 4, 5]),
      [`${IN}/notes.txt`]: "ignored: not a CSV"
    }))))

  it.effect("counts only the rows new to the data set as this run's batch", () =>
    Effect.gen(function*() {
      const ingestion = yield* Ingestion
      const store = yield* FileStore
      yield* ingestion.ingest()
      // one row already ingested, one repeated within the file, one new
      yield* store.writeAtomic(`${IN}/c.csv`, csv([row("a", 1, 10, 1, 0), row("n", 5, 50, 5, 1), row("n", 5, 50, 5, 1)]))
      const r = yield* ingestion.ingest()
      assert.strictEqual(r.rowsRead, 3)
      assert.strictEqual(r.newRows, 1)
      assert.strictEqual(r.totalRows, 3)
      const snapshots = yield* Snapshots
      const batch = yield* snapshots.frame(r.snapshot!.batchPath!, r.snapshot!.batchRows)
      assert.deepStrictEqual(Array.from(batch.features[0]!), [5])
    }).pipe(Effect.provide(TestLayer({ [`${IN}/a.csv`]: a }))))

  it.effect("a run adds one Parquet file to the snapshot and rewrites none of the files before", () =>
    Effect.gen(function*() {
      const ingestion = yield* Ingestion
      const store = yield* FileStore
      const snapshots = yield* Snapshots
      const first = (yield* ingestion.ingest()).snapshot!
      const firstBytes = NodeFs.readFileSync(store.localPath(first.parts[0]!.path))
      yield* store.writeAtomic(`${IN}/b.csv`, b)
      const second = (yield* ingestion.ingest()).snapshot!
      assert.deepStrictEqual(second.parts.slice(0, 1), first.parts)
      assert.strictEqual(second.parts.length, 2)
      assert.deepStrictEqual(second.parts.map((p) => p.rows), [2, 1])
      assert.strictEqual(second.parts[1]!.path, second.batchPath)
      assert.isTrue(NodeFs.readFileSync(store.localPath(first.parts[0]!.path)).equals(firstBytes))
      assert.strictEqual(second.hash, snapshotHash(second.parts))
      assert.notStrictEqual(second.hash, first.hash)
      // the data set is both files, in order (a file's rows in no particular order)
      const frame = yield* snapshots.frameOf(second)
      assert.sameMembers(Array.from(frame.features[0]!.subarray(0, 2)), [1, 2])
      assert.strictEqual(frame.features[0]![2], 3)
      assert.strictEqual((yield* snapshots.current()).hash, second.hash)
      // a file with no new row adds no file: the same data set, the same hash
      yield* store.writeAtomic(`${IN}/again.csv`, csv([row("c", 3, 30, 3, 0)]))
      const third = (yield* ingestion.ingest()).snapshot!
      assert.deepStrictEqual(third.parts, second.parts)
      assert.strictEqual(third.hash, second.hash)
      // any of its files missing breaks the snapshot
      yield* store.remove(second.parts[0]!.path)
      assert.include((yield* Effect.flip(snapshots.current())).message, "is missing")
    }).pipe(Effect.provide(TestLayer({ [`${IN}/a.csv`]: a }))))

  it.effect(`with ${MAX_PARTS} files, a run writes the data set as one file again, its batch beside it`, () =>
    Effect.gen(function*() {
      const ingestion = yield* Ingestion
      const store = yield* FileStore
      const snapshots = yield* Snapshots
      yield* ingestion.ingest()
      for (let i = 1; i <= MAX_PARTS; i++) {
        yield* store.writeAtomic(`${IN}/n${i}.csv`, csv([row(`n${i}`, i, 10 * i, i, (i % 2) as 0 | 1)]))
        const s = (yield* ingestion.ingest()).snapshot!
        assert.strictEqual(s.parts.length, i === MAX_PARTS ? 1 : i + 1)
      }
      const s = yield* snapshots.current()
      assert.strictEqual(s.rows, 2 + MAX_PARTS)
      assert.match(s.parts[0]!.path, /snapshots\/snapshot-[0-9a-f]{64}\.parquet$/)
      assert.notStrictEqual(s.batchPath, s.parts[0]!.path)
      const frame = yield* snapshots.frameOf(s)
      assert.sameMembers(Array.from(frame.features[0]!), [1, 2, ...Array.from({ length: MAX_PARTS }, (_, i) => i + 1)])
      // pruning keeps the one file and the batch
      yield* snapshots.prune(5)
      assert.sameMembers(NodeFs.readdirSync(store.localPath(snapshots.dir)).filter((n) => n.endsWith(".parquet")),
        [s.parts[0]!.path, s.batchPath!].map((p) => p.split("/").at(-1)!))
    }).pipe(Effect.provide(TestLayer({ [`${IN}/a.csv`]: a }))))

  it.effect("refuses a symbolic link that leads outside the input folder, without reading it", () =>
    Effect.gen(function*() {
      const ingestion = yield* Ingestion
      const store = yield* FileStore
      NodeFs.symlinkSync("/etc/passwd", store.localPath(`${IN}/passwd.csv`))
      NodeFs.symlinkSync(store.localPath(`${IN}/a.csv`), store.localPath(`${IN}/inside.csv`))
      const r = yield* ingestion.ingest()
      assert.deepStrictEqual(r.newFiles.map((f) => f.name), ["a.csv"])
      const refused = r.skipped.find((x) => x.name === "passwd.csv")!
      assert.strictEqual(refused.reason, "refused: a symbolic link to a file outside the input folder")
      assert.deepStrictEqual(r.rejected, [])
      // a link inside the folder is just another name for the same content
      assert.strictEqual(r.skipped.find((x) => x.name === "inside.csv")!.reason, "same content as a.csv")
      assert.isTrue(NodeFs.existsSync("/etc/passwd"))
    }).pipe(Effect.provide(TestLayer({ [`${IN}/a.csv`]: a }))))

  it.effect("rebuilds a missing snapshot from the files still present, and refuses when they are gone", () =>
    Effect.gen(function*() {
      const ingestion = yield* Ingestion
      const store = yield* FileStore
      const first = yield* ingestion.ingest()
      yield* store.remove(first.snapshot!.parts[0]!.path)
      const snapshots = yield* Snapshots
      const broken = yield* Effect.flip(snapshots.current())
      assert.strictEqual(broken._tag, "SnapshotError")
      assert.include(broken.message, "is missing")
      yield* store.writeAtomic(`${IN}/b.csv`, b)
      const r = yield* ingestion.ingest()
      assert.include(r.rebuilt!, "rebuilt it from the 1 ingested file(s)")
      assert.strictEqual(r.totalRows, 3)
      assert.strictEqual((yield* snapshots.current()).rows, 3)
      // now the snapshot is corrupted and a file has left the folder: refuse, never train on less
      yield* store.writeAtomic(r.snapshot!.parts[0]!.path, "not parquet")
      yield* store.remove(`${IN}/a.csv`)
      yield* store.writeAtomic(`${IN}/c.csv`, csv([row("z", 9, 9, 9, 1)]))
      const refused = yield* Effect.flip(ingestion.ingest())
      assert.strictEqual(refused._tag, "SnapshotError")
      assert.include(refused.message, "does not match its recorded hash")
      assert.include(refused.message, "no longer in")
      assert.include(refused.message, "start over")
    }).pipe(Effect.provide(TestLayer({ [`${IN}/a.csv`]: a }))))
})

describe("Ingestion under a changed dataset schema", () => {
  it.effect("refuses to mix data of two schemas, saying how to start over", () =>
    Effect.gen(function*() {
      yield* Effect.flatMap(Ingestion, (i) => i.ingest())
    }).pipe(
      Effect.zipRight(Effect.gen(function*() {
        const e = yield* Effect.flip(Effect.flatMap(Snapshots, (s) => s.current()))
        assert.strictEqual(e._tag, "SnapshotError")
        assert.include(e.message, "never mixed")
        assert.include(e.message, "to start over")
      }).pipe(Effect.provide(Snapshots.Default.pipe(Layer.provide(AppConfig.layerTest({
        dataset: DatasetSchema.make({ id_column: "corporation", feature_columns: ["lastmonth_activity", "number_of_employees"], target_column: "exited" })
      })))))),
      Effect.provide(TestLayer({ [`${IN}/a.csv`]: a }))
    ))
})
