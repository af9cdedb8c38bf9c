/**
 * Ingestion: every new CSV of the input folder is read by DuckDB with the declared column
 * types; a file with any bad line is rejected whole and moved to quarantine. The accepted
 * rows are de-duplicated in SQL against everything ingested before; the rows that were new
 * become one more immutable Parquet file, and the new snapshot is the list of files before
 * plus that one (nothing ingested before is rewritten). Files are tracked by sha256, so the
 * same content is never ingested twice.
 */
import type { IngestionResult } from "../domain/Run.js"
import type { DuckDBConnection } from "@duckdb/node-api"
import { Effect, Layer, Option, Ref } from "effect"
import * as NodePath from "node:path"
import { columnsOf, schemaFingerprint } from "../domain/Dataset.js"
import { CsvError, DataError, SnapshotError } from "../domain/Errors.js"
import { type CheckedCsv, checkCsvs, csvRows, extraColumns, isNumeric, loadDistinct, newRows, wholeNumbers } from "../data/CsvFiles.js"
import { DuckDb, ident, lit, releaseThreadMemory } from "../data/DuckDb.js"
import { MAX_PARTS, snapshotHash, Snapshots } from "../data/Snapshots.js"
import type { SnapshotPart } from "../domain/Run.js"
import { isCsvName, sha256OfFile } from "../lib/Dataset.js"
import { AppConfig } from "./AppConfig.js"
import { FileStore } from "./FileStore.js"
import { Progress } from "./Progress.js"
import { type SnapshotRow, Tracking } from "./Tracking.js"

export interface PendingFile {
  readonly name: string
  readonly path: string
  readonly sha256: string
}

export type { IngestionResult }
export type SkippedFile = IngestionResult["skipped"][number]
export type RejectedFile = IngestionResult["rejected"][number]

export const finalDataPath = (outputFolder: string) => NodePath.join(outputFolder, "finaldata.csv")
export const ingestedListPath = (outputFolder: string) => NodePath.join(outputFolder, "ingestedfiles.txt")

const stamp = () => new Date().toISOString().replace(/[:.]/g, "-")

const sqlRun = (c: DuckDBConnection, label: string, sql: string) =>
  Effect.tryPromise({ try: () => c.run(sql), catch: (e) => new DataError({ message: `${label}: ${(e as Error).message.split("\n")[0]}` }) })

const sqlCount = (c: DuckDBConnection, sql: string) =>
  Effect.tryPromise({
    try: async () => Number((await c.runAndReadAll(sql)).getRows()[0]![0]),
    catch: (e) => new DataError({ message: `count: ${(e as Error).message.split("\n")[0]}` })
  })

export class Ingestion extends Effect.Service<Ingestion>()("drs/Ingestion", {
  effect: Effect.gen(function*() {
    const store = yield* FileStore
    const tracking = yield* Tracking
    const config = yield* AppConfig
    const duck = yield* DuckDb
    const snapshots = yield* Snapshots
    const progress = yield* Progress
    const dataset = config.dataset
    const input = config.input_folder_path

    /**
     * The CSV files of the input folder with their hashes, and those not ingested before.
     * A symbolic link that leads outside the input folder is refused, never read. With
     * `warm`, a file name not ingested before starts the data engine while the files are hashed.
     */
    const scan = Effect.fn("Ingestion.scan")(function*(warm = false) {
      const entries = yield* store.list(input).pipe(Effect.orDie)
      // with `warm`, the ingested files' names too: one query gives names and hashes
      const ingested = warm ? yield* tracking.ingestedFiles() : undefined
      if (ingested !== undefined) {
        const names = new Set(ingested.map((f) => f.fileName))
        if (entries.some((e) => !e.isDirectory && isCsvName(e.name) && !names.has(e.name))) yield* duck.warm
      }
      const known = ingested !== undefined ? new Set(ingested.map((f) => f.sha256)) : yield* tracking.ingestedHashes()
      // a file rejected before, and still here (it could not be moved aside), is not retried
      const rejectedBefore = new Map((yield* tracking.rejectedFiles()).map((r) => [r.sha256, r.reason]))
      const inputReal = entries.length > 0 ? yield* store.realPath(input).pipe(Effect.orDie) : input
      const all: Array<PendingFile> = []
      const pending: Array<PendingFile> = []
      const skipped: Array<SkippedFile> = []
      const seen = new Map<string, string>()
      // a file's hash, or why it is refused; the files are hashed a few at a time (their reads
      // overlap), then taken in their order
      const checked = yield* Effect.forEach(entries.filter((e) => !e.isDirectory && isCsvName(e.name)), (e) =>
        Effect.gen(function*() {
          const path = NodePath.join(input, e.name)
          const real = yield* store.realPath(path).pipe(Effect.option)
          if (real._tag === "None") return { name: e.name, path, refused: "refused: a link to nothing" } as const
          if (!real.value.startsWith(inputReal + NodePath.sep)) {
            return { name: e.name, path, refused: "refused: a symbolic link to a file outside the input folder" } as const
          }
          return { name: e.name, path, sha256: yield* sha256OfFile(path).pipe(Effect.provideService(FileStore, store), Effect.orDie) } as const
        }), { concurrency: 4 })
      for (const c of checked) {
        if ("refused" in c) {
          skipped.push({ name: c.name, reason: c.refused })
          continue
        }
        const hash = c.sha256
        const file = { name: c.name, path: c.path, sha256: hash }
        all.push(file)
        if (known.has(hash)) {
          skipped.push({ name: c.name, reason: "already ingested (same content)" })
        } else if (rejectedBefore.has(hash)) {
          skipped.push({ name: c.name, reason: `rejected earlier: ${rejectedBefore.get(hash)}` })
        } else if (seen.has(hash)) {
          skipped.push({ name: c.name, reason: `same content as ${seen.get(hash)}` })
        } else {
          seen.set(hash, c.name)
          pending.push(file)
        }
      }
      return { all, pending, skipped }
    })

    const pending = Effect.fn("Ingestion.pending")(function*() {
      return (yield* scan()).pending
    })

    const quarantine = Effect.fn("Ingestion.quarantine")(function*(file: PendingFile, error: CsvError) {
      const target = NodePath.join(config.quarantine_folder_path, `${stamp()}-${file.name}`)
      const moved = yield* store.rename(file.path, target).pipe(
        Effect.zipRight(store.writeAtomic(`${target}.error.txt`, `${error.message}\n`)),
        Effect.as(target as string | null),
        Effect.catchAll((e) => Effect.logWarning(`could not move ${file.path} aside: ${e.message}`).pipe(Effect.as(null)))
      )
      yield* tracking.recordRejected({ sha256: file.sha256, fileName: file.name, movedTo: moved, reason: error.message })
      yield* Effect.logError(`rejected ${file.name}: ${error.message}`).pipe(Effect.annotateLogs({ movedTo: moved ?? "not moved" }))
      return { name: file.name, error: error.message, movedTo: moved }
    })

    /** Which features of a relation hold whole numbers only (see CsvFiles.wholeNumbers), in declared order. */
    const wholeNumbersIn = (c: DuckDBConnection, rows: string) => {
      const features = dataset.feature_columns
      return features.length === 0 ? Effect.succeed([] as Array<boolean>) : Effect.tryPromise({
        try: async () => (await c.runAndReadAll(`SELECT ${features.map((f) => (isNumeric(dataset, f) ? wholeNumbers(f) : "false")).join(", ")} FROM ${rows}`)).getRows()[0]!.map((v) => v === true),
        catch: (e) => new DataError({ message: `writing finaldata.csv: ${(e as Error).message.split("\n")[0]}` })
      })
    }

    /**
     * finaldata.csv and ingestedfiles.txt, for users; the system never reads them back.
     * `rows` is a relation with the snapshot's rows: the snapshot file, or the table it was
     * written from; `wholeKnown`, which features hold whole numbers only, when already known.
     */
    const writeCompatibilityFiles = Effect.fn("Ingestion.writeCompatibilityFiles")(function*(c: DuckDBConnection, rows: string, wholeKnown?: ReadonlyArray<boolean>) {
      const target = finalDataPath(config.output_folder_path)
      const tmp = NodePath.join(config.output_folder_path, `.drs-tmp-${process.pid}-finaldata.csv`)
      yield* store.makeDirectory(config.output_folder_path).pipe(Effect.orDie)
      // as pandas writes it: a feature with no missing value and only whole numbers is an
      // integer column ("181", not "181.0"); formatting integers is also twice as fast
      const features = dataset.feature_columns
      const whole = wholeKnown ?? (yield* wholeNumbersIn(c, rows))
      // the label as the files have it (the snapshot holds its 0/1 code)
      const select = columnsOf(dataset).map((col) => {
        const j = features.indexOf(col)
        if (col === dataset.target_column) {
          return `CASE ${ident(col)} WHEN 1 THEN ${lit(dataset.positive_label)} WHEN 0 THEN ${lit(dataset.negative_label)} END AS ${ident(col)}`
        }
        return j >= 0 && whole[j] ? `CAST(${ident(col)} AS BIGINT) AS ${ident(col)}` : ident(col)
      }).join(", ")
      yield* sqlRun(c, "writing finaldata.csv", `COPY (SELECT ${select} FROM ${rows}) TO ${lit(store.localPath(tmp))} (HEADER, DELIMITER ',')`)
      yield* store.rename(tmp, target).pipe(Effect.orDie)
      const all = yield* tracking.ingestedFiles()
      yield* store.writeAtomic(ingestedListPath(config.output_folder_path), all.map((f) => f.fileName).join("\n") + "\n").pipe(Effect.orDie)
    })

    /**
     * For a snapshot just made by the fast path: which features of its batch hold whole numbers
     * only, and the base snapshot's rows, still to be asked (finaldata.csv's number formats).
     */
    const wholeKnown = yield* Ref.make(new Map<string, { readonly batch: ReadonlyArray<boolean>; readonly base: string | null }>())

    /**
     * finaldata.csv and ingestedfiles.txt of a snapshot, from its files. Nothing reads them back,
     * so a run writes them while it goes on (see FullProcess.pipeline).
     */
    const writeUserFiles = Effect.fn("Ingestion.writeUserFiles")(function*(snapshot: Pick<SnapshotRow, "hash" | "parts">) {
      const known = (yield* Ref.get(wholeKnown)).get(snapshot.hash)
      yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* duck.connect
        const whole = known === undefined
          ? undefined
          : known.base === null
            ? known.batch
            : (yield* wholeNumbersIn(c, known.base)).map((w, j) => w && known.batch[j]!)
        yield* writeCompatibilityFiles(c, snapshots.sourceOf(snapshot), whole)
      }))
    })

    /** New files into a new snapshot, and the user files written. */
    const ingest = Effect.fn("Ingestion.ingest")(function*(runId: number | null = null) {
      const result = yield* commit(runId)
      if (result.snapshot !== null && result.newFiles.length > 0) yield* writeUserFiles(result.snapshot)
      return result
    })

    /**
     * New files into a new snapshot, up to the commit point (the database names it), without
     * the user files (`writeUserFiles`).
     */
    const commit = Effect.fn("Ingestion.commit")(function*(runId: number | null = null) {
      const { all, pending: files, skipped } = yield* scan(true)
      const status = yield* snapshots.status()
      let base = status._tag === "Ok" ? status.snapshot : null
      let rebuilt: string | undefined
      let reload: ReadonlyArray<PendingFile> = []
      if (status._tag === "Broken") {
        // rebuild from the files still present, or refuse: never train on less than was ingested
        const ingested = yield* tracking.ingestedFiles()
        const present = new Map(all.map((f) => [f.sha256, f]))
        const gone = ingested.filter((f) => !present.has(f.sha256))
        if (gone.length > 0) {
          return yield* new SnapshotError({
            message: `${status.problem}, and ${gone.length} of the ${ingested.length} ingested file(s) are no longer in ${input} (${gone.slice(0, 3).map((f) => f.fileName).join(", ")}${gone.length > 3 ? ", …" : ""}), so it cannot be rebuilt; restore the snapshot or those files, or start over: move away ${config.output_folder_path} and its tracking database, then run fullprocess again`
          })
        }
        reload = ingested.map((f) => present.get(f.sha256)!)
        rebuilt = `${status.problem}; rebuilt it from the ${reload.length} ingested file(s) still in ${input}`
        yield* Effect.logWarning(rebuilt)
        base = null
      }
      if (files.length === 0 && reload.length === 0) {
        return {
          newFiles: [], skipped, rejected: [], rowsRead: 0, newRows: 0, totalRows: base?.rows ?? 0, duplicatesDropped: 0,
          finalDataPath: finalDataPath(config.output_folder_path), dataHash: base?.hash ?? null, snapshot: base
        } satisfies IngestionResult as IngestionResult
      }
      return yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* duck.connect
        // DuckDB's worker threads hand back the memory of the pass before (best effort)
        const handBackMemory = Effect.promise(() => releaseThreadMemory(c).catch(() => undefined))
        const rejected: Array<RejectedFile> = []
        const accepted: Array<{ name: string; sha256: string; rows: number; checked: CheckedCsv }> = []
        const sources = (fs: ReadonlyArray<PendingFile>) => fs.map((f) => ({ label: f.name, path: store.localPath(f.path) }))
        const readInputs = <A>(read: () => Promise<A>) =>
          Effect.tryPromise({ try: read, catch: (e) => new DataError({ message: `reading the input files: ${(e as Error).message.split("\n")[0]}` }) })
        // the slow path: every file checked whole (files with the same header in one parallel
        // read) before any row is used; the rows are then read again straight into the de-duplication
        const check = (fs: ReadonlyArray<PendingFile>) => readInputs(() => checkCsvs(c, sources(fs), dataset, config.max_field_bytes))
        if (reload.length > 0) {
          for (const [k, t] of (yield* check(reload)).entries()) {
            const f = reload[k]!
            if (t instanceof CsvError) return yield* new SnapshotError({ message: `rebuilding the snapshot: an ingested file no longer reads: ${t.message}` })
            accepted.push({ name: f.name, sha256: f.sha256, rows: t.rows, checked: t })
          }
        }
        const reloaded = accepted.length
        const line = progress.start("ingestion")
        // the batch is kept in a table of the connection for its Parquet file and, on a first
        // ingestion, finaldata.csv (then the same rows), rather than read back from the file
        const batchTable = `batch_${process.pid}_${Date.now()}`
        const batchColumns = columnsOf(dataset).map(ident).join(", ")
        // the usual case, new files that are all good: read once, checked and de-duplicated
        // (against the data set too) on the way, into the batch table itself
        const fast = reload.length === 0
          ? yield* readInputs(() => loadDistinct(c, sources(files), dataset, config.max_field_bytes, batchTable, base ? snapshots.sourceOf(base) : undefined))
          : undefined
        if (fast !== undefined) {
          for (const [k, f] of files.entries()) accepted.push({ name: f.name, sha256: f.sha256, rows: fast.files[k]!.rows, checked: fast.files[k]! })
          line.update(fast.files.reduce((n, t) => n + t.rows, 0), `file ${files.length}/${files.length}`)
        } else {
          // otherwise every file is checked whole (files with the same header in one parallel
          // read) before any row is used, and the good ones are read again
          let rowsSoFar = 0
          const checked = files.length > 0 ? yield* check(files) : []
          for (const [k, f] of files.entries()) {
            const t = checked[k]!
            if (t instanceof CsvError) rejected.push(yield* quarantine(f, t))
            else {
              accepted.push({ name: f.name, sha256: f.sha256, rows: t.rows, checked: t })
              rowsSoFar += t.rows
            }
            line.update(rowsSoFar, `file ${k + 1}/${files.length}`)
          }
        }
        line.done()
        // the reading buffers (and the hash tables of the fast path's de-duplication)
        yield* handBackMemory
        const fresh = accepted.slice(reloaded)
        if (accepted.length === 0) {
          return {
            newFiles: [], skipped, rejected, rowsRead: 0, newRows: 0, totalRows: base?.rows ?? 0, duplicatesDropped: 0,
            finalDataPath: finalDataPath(config.output_folder_path), dataHash: base?.hash ?? null, snapshot: base
          } satisfies IngestionResult as IngestionResult
        }
        if (fast === undefined) {
          const union = csvRows(accepted.map((a) => a.checked), dataset, config.max_field_bytes)
          yield* sqlRun(c, "de-duplicating the new rows", `CREATE TEMP TABLE ${batchTable} AS ${newRows(union, dataset, base ? snapshots.sourceOf(base) : undefined)}`)
          // the hash tables of the de-duplication are gone: their memory too, before the writes
          yield* handBackMemory
        }
        const batch = yield* snapshots.writeParquet("batch", `SELECT ${batchColumns} FROM ${batchTable}`, c)
        const batchRows = yield* sqlCount(c, `SELECT count(*) FROM ${batchTable}`)
        // the data set's rows, when it is written as one file: the base snapshot's, and the
        // batch's from the table they are still in (not read back from the file just written)
        const allRows = base ? `(SELECT * FROM ${snapshots.sourceOf(base)} UNION ALL SELECT ${batchColumns} FROM ${batchTable})` : batchTable
        const rows = (base?.rows ?? 0) + batchRows
        // the new snapshot: the base's files and the batch's (none when nothing was new); with
        // too many files, the whole data set in one file again
        const parts: ReadonlyArray<SnapshotPart> = base === null
          ? [{ ...batch, rows: batchRows }]
          : batchRows === 0
            ? base.parts
            : base.parts.length < MAX_PARTS
              ? [...base.parts, { ...batch, rows: batchRows }]
              : [{ ...(yield* snapshots.writeParquet("snapshot", `SELECT * FROM ${allRows}`, c)), rows }]
        const rowsRead = fresh.reduce((n, a) => n + a.rows, 0)
        const snapshot: Omit<SnapshotRow, "id" | "createdAt"> = {
          hash: snapshotHash(parts), parts, rows, batchPath: batch.path, batchRows,
          rowsRead, datasetSchema: schemaFingerprint(dataset), runId
        }
        // the commit point: the database names the new snapshot and the files in it
        yield* tracking.recordSnapshot(snapshot, accepted.map((a) => ({ sha256: a.sha256, fileName: a.name, rows: a.rows })))
        const recorded = (yield* tracking.currentSnapshot())!
        yield* sqlRun(c, "dropping the batch table", `DROP TABLE IF EXISTS ${batchTable}`)
        yield* handBackMemory
        // which features hold whole numbers: the fast path's checks found it for the batch; the
        // base's rows are asked when the user files are written (the slow path asks about all rows)
        if (fast !== undefined) {
          const known = { batch: fast.wholeNumbers, base: base === null ? null : snapshots.sourceOf(base) }
          yield* Ref.update(wholeKnown, (m) => new Map(m).set(snapshot.hash, known))
        }
        yield* Effect.logInfo(`ingested ${fresh.length} file(s), ${rowsRead} rows, ${batchRows} new; the data set has ${snapshot.rows} rows (snapshot ${snapshot.hash.slice(0, 12)}, ${parts.length} file(s))`)
        const ignoredColumns = fresh
          .map((a) => ({ file: a.name, columns: extraColumns(a.checked.header, dataset) }))
          .filter((f) => f.columns.length > 0)
        for (const f of ignoredColumns) yield* Effect.logWarning(`${f.file}: ignored the undeclared column(s) ${f.columns.join(", ")} (extra_columns: "ignore")`)
        return {
          newFiles: fresh.map(({ checked: _c, ...f }) => f), skipped, rejected, rowsRead, newRows: batchRows,
          totalRows: snapshot.rows, duplicatesDropped: accepted.reduce((n, a) => n + a.rows, 0) - batchRows,
          finalDataPath: finalDataPath(config.output_folder_path), dataHash: snapshot.hash, snapshot: recorded,
          ...(rebuilt !== undefined ? { rebuilt } : {}),
          ...(ignoredColumns.length > 0 ? { ignoredColumns } : {})
        } satisfies IngestionResult as IngestionResult
      }))
    })

    /**
     * What a run already ingested, if its snapshot is recorded: a run resumed on another worker
     * after the commit point gets the same result back, and nothing is ingested twice.
     */
    const ingestedBy = Effect.fn("Ingestion.ingestedBy")(function*(runId: number) {
      const snapshot = yield* tracking.snapshotOfRun(runId)
      if (snapshot === null) return Option.none<IngestionResult>()
      const newFiles = yield* tracking.ingestedByRun(runId)
      return Option.some<IngestionResult>({
        newFiles, skipped: [], rejected: [], rowsRead: snapshot.rowsRead, newRows: snapshot.batchRows, totalRows: snapshot.rows,
        duplicatesDropped: snapshot.rowsRead - snapshot.batchRows, finalDataPath: finalDataPath(config.output_folder_path),
        dataHash: snapshot.hash, snapshot
      })
    })

    return { scan, pending, ingest, commit, writeUserFiles, ingestedBy } as const
  })
}) {
  static readonly layerTest = (files: Record<string, string | Uint8Array> = {}) =>
    Ingestion.Default.pipe(
      Layer.provideMerge(Snapshots.Default),
      Layer.provideMerge(DuckDb.Default),
      Layer.provideMerge(Layer.mergeAll(FileStore.layerTemp(files), Tracking.layerTest, AppConfig.layerTest(), Progress.layerTest))
    )
}
