/**
 * The frames of snapshot parts read once per process (data/PartFrames.ts): a frame made from
 * frames read before is the frame a fresh read gives, categories mapped onto the union of
 * the parts' categories, and an owned frame is the caller's alone.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFrame, Snapshots } from "../src/data/Snapshots.js"
import { DuckDb, readPlacedColumnsInto } from "../src/data/DuckDb.js"
import { plan, remember, type Segment } from "../src/data/PartFrames.js"
import { DatasetSchema } from "../src/domain/Dataset.js"
import type { Frame } from "../src/lib/Frame.js"
import { FileStore } from "../src/services/FileStore.js"
import { Ingestion } from "../src/services/Ingestion.js"
import { TestLayer } from "./layers.js"

const IN = "/t/data/sourcedata"
const dataset = DatasetSchema.make({
  id_column: "id",
  feature_columns: ["plan", "amount", "region"],
  categorical_columns: ["plan", "region"],
  target_column: "churn",
  positive_label: "yes",
  negative_label: "no"
})
const file = (rows: ReadonlyArray<string>) => `id,churn,region,amount,plan\n${rows.join("\n")}\n`
// each file has categories the others lack, a missing category and a missing number; "Ärger"
// and "𝔷" sort by code point (after "z", and "𝔷" after "ￚ" though UTF-16 puts it first)
const first = file(["a,yes,north,1.5,basic", "b,no,south,NA,pro", "c,yes,,3,basic", "d,no,north,4,ￚ"])
const second = file(["e,no,east,5,Ärger", "f,yes,south,6,", "g,no,west,7,𝔷", "h,yes,north,NA,basic"])

/** The rows of a frame as text, sorted (a part's rows come in no particular order). */
const rowsOf = (f: Frame) =>
  Array.from({ length: f.rows }, (_, i) =>
    [...f.features.map((col, j) => {
      const v = col[i]!
      const levels = f.levels[j]
      return v !== v ? "NaN" : levels ? levels[v]! : String(v)
    }), String(f.target[i])].join("|")).sort()

/** The first file ingested, then the second: the snapshots before and after, and a fresh read of the second. */
const twoIngestions = Effect.gen(function*() {
  const ingestion = yield* Ingestion
  const store = yield* FileStore
  const snapshots = yield* Snapshots
  const duck = yield* DuckDb
  const before = (yield* ingestion.ingest()).snapshot!
  yield* store.writeAtomic(`${IN}/second.csv`, second)
  const s = (yield* ingestion.ingest()).snapshot!
  const fresh = yield* duck.use("fresh", (c) => readFrame(c, dataset, s.parts.map((p) => snapshots.source(p.path)), s.rows))
  return { snapshots, before, s, fresh }
})

describe("Frames of snapshot parts", () => {
  it("plans the longest cached run of parts at each place, reads for the rest", () => {
    const seg = (...paths: Array<string>): Segment => ({ paths, frame: { rows: 0, featureNames: [], features: [], levels: [], target: new Float64Array(0) } })
    const ab = seg("a", "b")
    const c = seg("c")
    const a = seg("a")
    assert.deepStrictEqual(plan(["a", "b", "c", "d"], [a, c, ab]), [{ segment: ab }, { segment: c }, { read: ["d"] }])
    assert.deepStrictEqual(plan(["x", "y", "c"], [c]), [{ read: ["x", "y"] }, { segment: c }])
    assert.deepStrictEqual(plan(["b"], [ab]), [{ read: ["b"] }])
    // the segment used goes to the front; at most three are kept; one of the same parts is replaced
    const kept = remember(remember(remember([a], c), ab), seg("a"))
    assert.deepStrictEqual(kept.map((s) => s.paths.join("")), ["a", "ab", "c"])
    assert.lengthOf(remember(kept, seg("z")), 3)
  })

  it.effect("a snapshot's frame made from frames read before equals a fresh read, categories recoded onto all the parts' categories", () =>
    Effect.gen(function*() {
      const { snapshots, s, fresh } = yield* twoIngestions
      assert.strictEqual(s.parts.length, 2)
      assert.deepStrictEqual(fresh.levels[0], ["basic", "pro", "Ärger", "ￚ", "𝔷"])

      // the parts one by one (as the drift check reads them), then the whole snapshot
      const parts = yield* Effect.forEach(s.parts, (p) => snapshots.frame(p.path, p.rows))
      assert.deepStrictEqual(parts[1]!.levels[0], ["basic", "Ärger", "𝔷"])
      const view = yield* snapshots.frameOf(s)
      assert.deepStrictEqual(view.levels, fresh.levels)
      assert.deepStrictEqual(rowsOf(view), rowsOf(fresh))
      // the rows come part by part, in the snapshot's order
      assert.deepStrictEqual(rowsOf({ ...view, rows: 4, features: view.features.map((c) => c.subarray(0, 4)), target: view.target.subarray(0, 4) }), rowsOf(parts[0]!))
      // a view read again is the same arrays; an owned frame is new arrays with the same rows
      assert.strictEqual((yield* snapshots.frameOf(s)).features[0], view.features[0])
      const owned = yield* snapshots.ownedFrameOf(s)
      assert.notStrictEqual(owned.features[0], view.features[0])
      assert.deepStrictEqual(rowsOf(owned), rowsOf(fresh))
      // changing the owned frame changes nothing read later; what it was copied from is no longer kept
      owned.features[1]!.fill(-1)
      const again = yield* snapshots.frameOf(s)
      assert.notStrictEqual(again.features[0], view.features[0])
      assert.deepStrictEqual(rowsOf(again), rowsOf(fresh))
    }).pipe(Effect.provide(TestLayer({ [`${IN}/first.csv`]: first }, { dataset }))))

  it.effect("owned frames made from the new rows and the data before: the training's frame as the run reads it", () =>
    Effect.gen(function*() {
      const { snapshots, before, s, fresh } = yield* twoIngestions
      // data drift's reference (the snapshot before) and the new rows, then the training's frame
      yield* snapshots.frameOf(before)
      yield* snapshots.frame(s.batchPath!, s.batchRows)
      const owned = yield* snapshots.ownedFrameOf(s)
      assert.deepStrictEqual(owned.levels, fresh.levels)
      assert.deepStrictEqual(owned.featureNames, fresh.featureNames)
      assert.strictEqual(owned.rows, 8)
      assert.deepStrictEqual(rowsOf(owned), rowsOf(fresh))
    }).pipe(Effect.provide(TestLayer({ [`${IN}/first.csv`]: first }, { dataset }))))

  it.effect("places rows that come in another order, and runs of consecutive rows, at their row numbers", () =>
    Effect.gen(function*() {
      const duck = yield* DuckDb
      const out = [new Float64Array(7)]
      // a chunk out of order (row by row), then the second query's rows after the first's
      const copied = yield* duck.use("placed", (c) => readPlacedColumnsInto(c, [
        `SELECT pos::DOUBLE, (pos * 10)::DOUBLE FROM (SELECT unnest([3, 0, 2, 1]) AS pos)`,
        `SELECT pos::DOUBLE, (100 + pos)::DOUBLE FROM range(3) t(pos)`
      ], out, 0))
      assert.strictEqual(copied, 7)
      assert.deepStrictEqual([...out[0]!], [0, 10, 20, 30, 100, 101, 102])
    }).pipe(Effect.provide(TestLayer({ [`${IN}/first.csv`]: first }, { dataset }))))

  it.effect("reads a part's rows in the file's order, the same on every read (the same snapshot trains the same model)", () =>
    Effect.gen(function*() {
      const snapshots = yield* Snapshots
      const store = yield* FileStore
      const duck = yield* DuckDb
      // 200,000 rows in row groups of 2,048: a parallel scan returns them in another order every time
      const n = 200_000
      const path = "/t/data/ordered.parquet"
      yield* duck.use("write", (c) =>
        c.run(`COPY (SELECT 'x' || i AS id, CAST(i % 2 AS INTEGER) AS churn, 'north' AS region, i::DOUBLE AS amount, 'basic' AS plan
          FROM range(${n}) t(i)) TO '${store.localPath(path)}' (FORMAT parquet, ROW_GROUP_SIZE 2048)`))
      for (let read = 0; read < 3; read++) {
        // an owned frame is a fresh read (the frames it would be made of are not kept)
        const f = yield* snapshots.ownedFrameOf({ parts: [{ path }], rows: n })
        const amount = f.features[1]!
        let misplaced = 0
        for (let i = 0; i < n; i++) if (amount[i] !== i) misplaced++
        assert.strictEqual(misplaced, 0, `read ${read}: ${misplaced} rows out of the file's order`)
        assert.strictEqual(f.target[1], 1)
      }
    }).pipe(Effect.provide(TestLayer({ [`${IN}/first.csv`]: first }, { dataset }))))
})
