/**
 * Snapshots: the ingested data set as immutable Parquet files under
 * `<output_folder_path>/snapshots/`, named by their sha256. A snapshot is a list of such
 * files (its parts): a run writes the file of its new rows and records the list before plus
 * that file, so the data ingested before is never rewritten. A writer only ever adds a new
 * file (written to a temporary name, then renamed); readers open a snapshot by its hash.
 * The tracking database names the current one; the two are checked against each other.
 */
import type { DuckDBConnection } from "@duckdb/node-api"
import { Effect, Layer, Ref } from "effect"
import * as NodePath from "node:path"
import { type DatasetSchema, isCategorical, schemaFingerprint } from "../domain/Dataset.js"
import { CsvError, DataError, NoDataError, SnapshotError } from "../domain/Errors.js"
import { sha256OfFile } from "../lib/Dataset.js"
import { type Frame, sortLevels } from "../lib/Frame.js"
import { AppConfig, trackingDbPath } from "../services/AppConfig.js"
import { FileStore } from "../services/FileStore.js"
import { type SnapshotRow, Tracking } from "../services/Tracking.js"
import { frameSelect, levelsSelect, loadCsv } from "./CsvFiles.js"
import { DuckDb, lit, readDoubleColumnsOf, readPlacedColumnsInto } from "./DuckDb.js"
import { copyInto, plan, remember, type Segment } from "./PartFrames.js"
import type { SnapshotPart } from "../domain/Run.js"
import { createHash } from "node:crypto"

export const snapshotDir = (outputFolder: string) => NodePath.join(outputFolder, "snapshots")

/**
 * With more parts than this, a run writes the whole data set as one file again (and the new
 * rows as their own file beside it): reading a snapshot stays a few files, whatever the runs.
 */
export const MAX_PARTS = 32

/** A snapshot's identity: its one part's hash, or the sha256 of its parts' hashes, in order, one a line. */
export const snapshotHash = (parts: ReadonlyArray<Pick<SnapshotPart, "hash">>) =>
  parts.length === 1 ? parts[0]!.hash : createHash("sha256").update(parts.map((p) => p.hash).join("\n")).digest("hex")

export type SnapshotStatus =
  | { readonly _tag: "None" }
  | { readonly _tag: "Ok"; readonly snapshot: SnapshotRow }
  | { readonly _tag: "Broken"; readonly snapshot: SnapshotRow; readonly problem: string }

/** The sorted categories of each categorical feature in `source` (none when the schema has no categorical feature). */
const categoryLevels = async (c: DuckDBConnection, ds: DatasetSchema, source: string): Promise<Map<string, ReadonlyArray<string>>> => {
  if (ds.categorical_columns.length === 0) return new Map()
  const row = (await c.runAndReadAll(levelsSelect(ds, source))).getRowsJS()[0]!
  return new Map(ds.categorical_columns.map((f, j) => [f, ((row[j] ?? []) as Array<string>)]))
}

/**
 * The rows of `source` (a table, a subquery in parentheses, or a read_parquet call) as a frame
 * of `rows` rows; or of several sources, one after the other (a snapshot's parts, in order).
 */
export const readFrame = async (c: DuckDBConnection, ds: DatasetSchema, source: string | ReadonlyArray<string>, rows: number): Promise<Frame> => {
  const sources = typeof source === "string" ? [source] : source
  // the categories of every source: one coding for all the rows
  const levels = await categoryLevels(c, ds, sources.length === 1 ? sources[0]! : `(${sources.map((s) => `SELECT * FROM ${s}`).join(" UNION ALL ")})`)
  const cols = await readDoubleColumnsOf(c, sources.map((s) => `SELECT ${frameSelect(ds, levels)} FROM ${s}`), rows)
  return {
    rows: cols[0]?.length ?? 0, featureNames: ds.feature_columns, features: cols.slice(0, -1),
    levels: ds.feature_columns.map((f) => levels.get(f) ?? null), target: cols.at(-1)!
  }
}

export class Snapshots extends Effect.Service<Snapshots>()("drs/Snapshots", {
  effect: Effect.gen(function*() {
    const store = yield* FileStore
    const duck = yield* DuckDb
    const tracking = yield* Tracking
    const config = yield* AppConfig
    const dir = snapshotDir(config.output_folder_path)
    const dataset = config.dataset
    // a snapshot never changes: hash each file once per process
    const verified = yield* Ref.make(new Set<string>())

    const startOver = () =>
      `to start over, move away ${config.output_folder_path} (its snapshots) and the tracking database ${trackingDbPath(config)}, then run fullprocess again`

    /** The current snapshot, checked: it exists, matches its hash, and has the declared schema. */
    const status = Effect.fn("Snapshots.status")(function*() {
      const s = yield* tracking.currentSnapshot()
      if (s === null) return { _tag: "None" } as SnapshotStatus
      if (s.datasetSchema !== schemaFingerprint(dataset)) {
        return yield* new SnapshotError({
          message: `config.json declares the dataset ${schemaFingerprint(dataset)}, but the data already ingested has ${s.datasetSchema}; the two are never mixed. To keep the old data, restore the old "dataset" in config.json; ${startOver()}`
        })
      }
      if (snapshotHash(s.parts) !== s.hash) {
        return { _tag: "Broken", snapshot: s, problem: `the snapshot ${s.hash.slice(0, 12)}… that the tracking database names does not match the list of its files` } as SnapshotStatus
      }
      for (const part of s.parts) {
        if (!(yield* store.exists(part.path).pipe(Effect.orDie))) {
          return { _tag: "Broken", snapshot: s, problem: `the snapshot file ${part.path} that the tracking database names is missing` } as SnapshotStatus
        }
        // hashed once per process and size: a replaced file of another size is hashed again
        const size = yield* store.size(part.path).pipe(Effect.orDie)
        if ((yield* Ref.get(verified)).has(`${part.hash}:${size}`)) continue
        const hash = yield* sha256OfFile(part.path).pipe(Effect.provideService(FileStore, store), Effect.orDie)
        if (hash !== part.hash) {
          return { _tag: "Broken", snapshot: s, problem: `the snapshot file ${part.path} does not match its recorded hash (${part.hash.slice(0, 12)}…, found ${hash.slice(0, 12)}…)` } as SnapshotStatus
        }
        yield* Ref.update(verified, (set) => new Set(set).add(`${part.hash}:${size}`))
      }
      return { _tag: "Ok", snapshot: s } as SnapshotStatus
    })

    /** The current snapshot, or why there is none to read. */
    const current = Effect.fn("Snapshots.current")(function*() {
      const st = yield* status()
      if (st._tag === "None") return yield* new NoDataError({ message: "nothing has been ingested yet; run the ingestion step (or fullprocess)" })
      if (st._tag === "Broken") return yield* new SnapshotError({ message: `${st.problem}; the next fullprocess rebuilds it from the input files if they are all still there, else ${startOver()}` })
      return st.snapshot
    })

    /**
     * Write the rows of `query` (over the connection's tables) as a new Parquet file in the
     * snapshot folder, atomically, named by its hash. Returns its path, hash and row count.
     */
    const writeParquet = (prefix: string, query: string, c: DuckDBConnection) =>
      Effect.gen(function*() {
        yield* store.makeDirectory(dir).pipe(Effect.orDie)
        const tmp = NodePath.join(dir, `.tmp-${process.pid}-${Date.now()}-${prefix}.parquet`)
        // zstd at level 1: smaller than at DuckDB's default level 3 on these data, and faster
        yield* Effect.tryPromise({
          try: () => c.run(`COPY (${query}) TO ${lit(store.localPath(tmp))} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)`),
          catch: (e) => new DataError({ message: `writing a ${prefix} snapshot: ${(e as Error).message.split("\n")[0]}` })
        }).pipe(Effect.tapError(() => store.remove(tmp).pipe(Effect.ignore)))
        const hash = yield* sha256OfFile(tmp).pipe(Effect.provideService(FileStore, store), Effect.orDie)
        const path = NodePath.join(dir, `${prefix}-${hash}.parquet`)
        const size = yield* store.size(tmp).pipe(Effect.orDie)
        // DuckDB wrote the file: fsync it before the rename, which fsyncs the folder, so the
        // database never names a snapshot that a power loss could leave empty
        yield* store.sync(tmp).pipe(Effect.orDie)
        yield* store.rename(tmp, path).pipe(Effect.orDie)
        yield* Ref.update(verified, (set) => new Set(set).add(`${hash}:${size}`))
        return { path, hash }
      })

    /** One Parquet file as a relation. */
    const source = (path: string) => `read_parquet(${lit(store.localPath(path))})`
    /**
     * A part's rows as frame columns, each with its place in the file (readPlacedColumnsInto
     * puts it there): a parallel scan returns them in a different order on every read
     * (preserve_insertion_order is off), and the early-stopping split and the histograms' sums
     * follow the rows' order, so two trainings on the same snapshot grew different trees (69
     * and 81 of them on 1M rows). An ORDER BY cost 40 to 60 MiB of peak RSS on 1M rows.
     */
    const partRows = (path: string, select: string) =>
      `SELECT CAST(file_row_number AS DOUBLE), ${select} FROM read_parquet(${lit(store.localPath(path))}, file_row_number = true)`

    /** A snapshot's rows as a relation: its parts read together (in no particular order). */
    const sourceOf = (s: { readonly parts: ReadonlyArray<Pick<SnapshotPart, "path">> }) =>
      s.parts.length === 1 ? source(s.parts[0]!.path) : `read_parquet([${s.parts.map((p) => lit(store.localPath(p.path))).join(", ")}])`

    // the frames of parts read before (see PartFrames.ts): views, never changed
    const segments = yield* Ref.make<ReadonlyArray<Segment>>([])

    /**
     * The rows of the parts at `paths` (`rows` in all, in the parts' order) as a frame, made
     * of the frames of parts read before where there are some. A view is kept for later reads
     * and must not be changed; an owned frame is the caller's alone (new arrays), and the frames
     * it was copied from are no longer kept.
     */
    const readParts = (paths: ReadonlyArray<string>, rows: number, owned: boolean) =>
      Effect.gen(function*() {
        const kept = yield* Ref.get(segments)
        const steps = plan(paths, kept)
        const first = steps[0]
        if (!owned && steps.length === 1 && first !== undefined && "segment" in first) {
          yield* Ref.set(segments, remember(kept, first.segment))
          return first.segment.frame
        }
        const frame = yield* duck.use("frame", async (c): Promise<Frame> => {
          // one coding of the categories for all the rows: the reused segments' and those of the parts read
          const reads = steps.flatMap((s) => ("read" in s ? s.read : []))
          const readLevels = reads.length > 0
            ? await categoryLevels(c, dataset, reads.length === 1 ? source(reads[0]!) : `(${reads.map((p) => `SELECT * FROM ${source(p)}`).join(" UNION ALL ")})`)
            : new Map<string, ReadonlyArray<string>>()
          const levels = dataset.feature_columns.map((f, j) => {
            if (!isCategorical(dataset, f)) return null
            const sources = [...(reads.length > 0 ? [readLevels.get(f) ?? []] : []), ...steps.flatMap((s) => ("segment" in s ? [s.segment.frame.levels[j] ?? []] : []))]
            // DuckDB's order (by code point) when the categories come from more than one place
            return sources.length === 1 ? sources[0]! : sortLevels(new Set(sources.flat()))
          })
          const byName = new Map(dataset.feature_columns.flatMap((f, j) => (levels[j] ? [[f, levels[j]!] as const] : [])))
          const out = Array.from({ length: dataset.feature_columns.length + 1 }, () => new Float64Array(rows))
          let offset = 0
          for (const step of steps) {
            offset += "segment" in step
              ? copyInto(step.segment.frame, levels, out, offset)
              : await readPlacedColumnsInto(c, step.read.map((p) => partRows(p, frameSelect(dataset, byName))), out, offset)
          }
          const cols = offset === rows ? out : out.map((col) => col.slice(0, offset))
          return { rows: offset, featureNames: dataset.feature_columns, features: cols.slice(0, -1), levels, target: cols.at(-1)! }
        })
        // an owned read is the last use of what it copied (the training's): those frames go, so
        // that the memory they hold can be given back while the model trains
        yield* Ref.set(segments, owned ? kept.filter((s) => !steps.some((t) => "segment" in t && t.segment === s)) : remember(kept, { paths, frame }))
        return frame
      })

    /** All columns of a Parquet file as a frame; features NaN where missing. A view: never change it. */
    const frame = Effect.fn("Snapshots.frame")(function*(path: string, rows: number, ds: DatasetSchema = dataset) {
      if (ds !== dataset) return yield* duck.use("frame", (c) => readFrame(c, ds, source(path), rows))
      return yield* readParts([path], rows, false)
    })

    /** A snapshot's rows as a frame, its parts one after the other. A view: never change it. */
    const frameOf = Effect.fn("Snapshots.frameOf")(function*(s: { readonly parts: ReadonlyArray<Pick<SnapshotPart, "path">>; readonly rows: number }, ds: DatasetSchema = dataset) {
      if (ds !== dataset) return yield* duck.use("frame", (c) => readFrame(c, ds, s.parts.map((p) => source(p.path)), s.rows))
      return yield* readParts(s.parts.map((p) => p.path), s.rows, false)
    })

    /** A snapshot's rows as a frame the caller owns (a fit may change its columns). */
    const ownedFrameOf = Effect.fn("Snapshots.ownedFrameOf")(function*(s: { readonly parts: ReadonlyArray<Pick<SnapshotPart, "path">>; readonly rows: number }) {
      return yield* readParts(s.parts.map((p) => p.path), s.rows, true)
    })

    /** The rows of CSV files (validated like ingestion, not de-duplicated) as one frame: the test data. */
    const csvFrame = Effect.fn("Snapshots.csvFrame")(function*(paths: ReadonlyArray<string>) {
      return yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* duck.connect
        const tables: Array<{ table: string; rows: number }> = []
        for (const p of paths) {
          tables.push(yield* Effect.tryPromise({
            try: () => loadCsv(c, { label: NodePath.basename(p), path: store.localPath(p) }, dataset, config.max_field_bytes),
            catch: (e) => (e instanceof CsvError ? e : new CsvError({ file: NodePath.basename(p), reason: String(e) }))
          }))
        }
        const rows = tables.reduce((n, t) => n + t.rows, 0)
        if (rows === 0) return yield* new NoDataError({ message: `no data rows in ${paths.join(", ") || "(no CSV file)"}` })
        const all = `(${tables.map((t) => `SELECT * FROM ${t.table}`).join(" UNION ALL ")})`
        return yield* Effect.tryPromise({
          try: () => readFrame(c, dataset, all, rows),
          catch: (e) => new DataError({ message: `reading ${paths.join(", ")}: ${(e as Error).message}` })
        })
      }))
    })

    /**
     * Remove the Parquet files nothing needs any more: all but the current snapshot's parts and
     * its batch, and the parts of the snapshots that recent releases were trained on (their
     * data-drift reference after a rollback). Returns the names removed.
     */
    const prune = Effect.fn("Snapshots.prune")(function*(keepReleases: number) {
      const current = yield* tracking.currentSnapshot()
      if (current === null) return [] as Array<string>
      const keep = new Set([...current.parts.map((p) => p.path), current.batchPath].filter((p): p is string => p !== null).map((p) => NodePath.basename(p)))
      const deployed = (yield* tracking.deployments()).slice(-(keepReleases + 1)).map((d) => d.model_hash)
      const versions = yield* tracking.modelVersions()
      for (const hash of deployed) {
        const dataHash = versions.find((v) => v.model_hash === hash)?.data_hash
        const s = dataHash ? yield* tracking.snapshotByHash(dataHash) : null
        if (s) for (const p of s.parts) keep.add(NodePath.basename(p.path))
      }
      const removed: Array<string> = []
      for (const e of yield* store.list(dir).pipe(Effect.orDie)) {
        if (e.isDirectory || !/^(snapshot|batch)-[0-9a-f]{64}\.parquet$/.test(e.name) || keep.has(e.name)) continue
        yield* store.remove(NodePath.join(dir, e.name)).pipe(Effect.orDie)
        removed.push(e.name)
      }
      return removed
    })

    return { dir, status, current, writeParquet, source, sourceOf, frame, frameOf, ownedFrameOf, csvFrame, prune } as const
  })
}) {
  static readonly layerTest = (files: Record<string, string | Uint8Array> = {}) =>
    Snapshots.Default.pipe(
      Layer.provideMerge(DuckDb.Default),
      Layer.provideMerge(Layer.mergeAll(FileStore.layerTemp(files), Tracking.layerTest, AppConfig.layerTest()))
    )
}
