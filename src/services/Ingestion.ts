/**
 * Ingestion: stream every new CSV of the input folder, validate, merge with what was
 * ingested before, de-duplicate and write finaldata.csv; track files by sha256.
 */
import { Effect, Layer } from "effect"
import * as NodePath from "node:path"
import { CsvError } from "../domain/Errors.js"
import type { Row } from "../domain/Schemas.js"
import { rowKey, toCsv } from "../lib/Csv.js"
import { isCsvName, readCsv, sha256, sha256OfFile, streamCsv } from "../lib/Dataset.js"
import { AppConfig } from "./AppConfig.js"
import { FileStore } from "./FileStore.js"
import { Tracking } from "./Tracking.js"

export interface PendingFile {
  readonly name: string
  readonly path: string
  readonly sha256: string
}

export interface SkippedFile {
  readonly name: string
  readonly reason: string
}

export interface RejectedFile {
  readonly name: string
  readonly error: string
  readonly movedTo: string | null
}

export interface IngestionResult {
  readonly newFiles: ReadonlyArray<{ readonly name: string; readonly sha256: string; readonly rows: number }>
  readonly skipped: ReadonlyArray<SkippedFile>
  readonly rejected: ReadonlyArray<RejectedFile>
  /** rows read from the new files */
  readonly rowsRead: number
  /** rows in finaldata.csv after merging and de-duplication */
  readonly totalRows: number
  readonly duplicatesDropped: number
  readonly finalDataPath: string
  readonly dataHash: string | null
}

export const finalDataPath = (outputFolder: string) => NodePath.join(outputFolder, "finaldata.csv")
export const ingestedListPath = (outputFolder: string) => NodePath.join(outputFolder, "ingestedfiles.txt")

const stamp = () => new Date().toISOString().replace(/[:.]/g, "-")

export class Ingestion extends Effect.Service<Ingestion>()("drs/Ingestion", {
  effect: Effect.gen(function*() {
    const store = yield* FileStore
    const tracking = yield* Tracking
    const config = yield* AppConfig
    const provide = Effect.provideService(FileStore, store)

    /** New CSV files of the input folder: content not ingested before (by sha256). */
    const scan = Effect.fn("Ingestion.scan")(function*() {
      const entries = yield* store.list(config.input_folder_path).pipe(Effect.orDie)
      const known = yield* tracking.ingestedHashes()
      // a file rejected before, and still here (it could not be moved aside), is not retried
      const rejectedBefore = new Map((yield* tracking.rejectedFiles()).map((r) => [r.sha256, r.reason]))
      const pending: Array<PendingFile> = []
      const skipped: Array<SkippedFile> = []
      const seen = new Map<string, string>()
      for (const e of entries) {
        if (e.isDirectory || !isCsvName(e.name)) continue
        const path = NodePath.join(config.input_folder_path, e.name)
        const hash = yield* provide(sha256OfFile(path)).pipe(Effect.orDie)
        if (known.has(hash)) {
          skipped.push({ name: e.name, reason: "already ingested (same content)" })
        } else if (rejectedBefore.has(hash)) {
          skipped.push({ name: e.name, reason: `rejected earlier: ${rejectedBefore.get(hash)}` })
        } else if (seen.has(hash)) {
          skipped.push({ name: e.name, reason: `same content as ${seen.get(hash)}` })
        } else {
          seen.set(hash, e.name)
          pending.push({ name: e.name, path, sha256: hash })
        }
      }
      return { pending, skipped }
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

    const ingest = Effect.fn("Ingestion.ingest")(function*(runId: number | null = null) {
      const { pending: files, skipped } = yield* scan()
      const finalPath = finalDataPath(config.output_folder_path)
      const rejected: Array<RejectedFile> = []
      const accepted: Array<{ name: string; sha256: string; rows: number }> = []
      const newRows: Array<Row> = []
      for (const f of files) {
        // a file's rows join only once the whole file has validated
        const rows: Array<Row> = []
        const result = yield* provide(streamCsv(f.path, (r) => rows.push(r), f.name)).pipe(Effect.either)
        if (result._tag === "Left") {
          rejected.push(yield* quarantine(f, result.left))
          continue
        }
        if (rows.length === 0) {
          rejected.push(yield* quarantine(f, new CsvError({ file: f.name, reason: "the file has a header but no data rows" })))
          continue
        }
        for (const r of rows) newRows.push(r)
        accepted.push({ name: f.name, sha256: f.sha256, rows: rows.length })
      }
      if (accepted.length === 0) {
        const exists = yield* store.exists(finalPath).pipe(Effect.orDie)
        return {
          newFiles: [], skipped, rejected, rowsRead: 0, totalRows: 0, duplicatesDropped: 0, finalDataPath: finalPath,
          dataHash: exists ? sha256(yield* store.readFile(finalPath).pipe(Effect.orDie)) : null
        } satisfies IngestionResult
      }
      // merge with what earlier runs ingested: nothing already ingested is lost
      const previous = (yield* store.exists(finalPath).pipe(Effect.orDie))
        ? yield* provide(readCsv(finalPath)).pipe(Effect.orDie)
        : []
      const seen = new Set<string>()
      const merged: Array<Row> = []
      let duplicates = 0
      for (const list of [previous, newRows]) {
        for (const r of list) {
          const k = rowKey(r)
          if (seen.has(k)) {
            duplicates++
          } else {
            seen.add(k)
            merged.push(r)
          }
        }
      }
      const csv = toCsv(merged)
      yield* store.writeAtomic(finalPath, csv).pipe(Effect.orDie)
      yield* tracking.recordIngested(accepted.map((a) => ({ sha256: a.sha256, fileName: a.name, rows: a.rows })), runId)
      const all = yield* tracking.ingestedFiles()
      yield* store.writeAtomic(ingestedListPath(config.output_folder_path), all.map((f) => f.fileName).join("\n") + "\n").pipe(Effect.orDie)
      yield* Effect.logInfo(`ingested ${accepted.length} file(s), ${newRows.length} rows; finaldata.csv has ${merged.length} rows`)
      return {
        newFiles: accepted, skipped, rejected, rowsRead: newRows.length, totalRows: merged.length,
        duplicatesDropped: duplicates, finalDataPath: finalPath, dataHash: sha256(csv)
      } satisfies IngestionResult
    })

    /** The merged data set (finaldata.csv). */
    const finalData = Effect.fn("Ingestion.finalData")(function*() {
      return yield* provide(readCsv(finalDataPath(config.output_folder_path)))
    })

    return { scan, pending, ingest, finalData } as const
  })
}) {
  static readonly layerTest = (files: Record<string, string | Uint8Array> = {}) =>
    Ingestion.Default.pipe(Layer.provideMerge(Layer.mergeAll(FileStore.layerMemory(files), Tracking.layerTest, AppConfig.layerTest())))
}
