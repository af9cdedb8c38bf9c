/** Reading attrition datasets through the FileStore. */
import { Effect, Stream } from "effect"
import * as NodeCrypto from "node:crypto"
import * as NodePath from "node:path"
import { CsvError, FileStoreError, NoDataError } from "../domain/Errors.js"
import type { Row } from "../domain/Schemas.js"
import { FileStore } from "../services/FileStore.js"
import { readRows } from "./Csv.js"

const causeMessage = (e: unknown): string => {
  if (e instanceof Error) return e.message
  return String(e)
}

/** Stream one CSV file, calling `onRow` per validated row. */
export const streamCsv = (path: string, onRow: (r: Row) => void, label = NodePath.basename(path)) =>
  Effect.gen(function*() {
    const store = yield* FileStore
    const source = Stream.toAsyncIterable(store.stream(path))
    return yield* Effect.tryPromise({
      try: () => readRows(label, source, onRow),
      catch: (e) => (e instanceof CsvError ? e : new CsvError({ file: label, reason: `cannot read: ${causeMessage(e)}` }))
    })
  }).pipe(Effect.withSpan("Dataset.streamCsv", { attributes: { path } }))

export const readCsv = (path: string) =>
  Effect.gen(function*() {
    const rows: Array<Row> = []
    yield* streamCsv(path, (r) => rows.push(r))
    return rows
  })

export const isCsvName = (name: string) => !name.startsWith(".") && name.toLowerCase().endsWith(".csv")

/** The CSV files of a folder, or the file itself when `path` names a file. */
export const csvFilesAt = (path: string): Effect.Effect<ReadonlyArray<string>, FileStoreError | NoDataError, FileStore> =>
  Effect.gen(function*() {
    const store = yield* FileStore
    if (yield* store.isDirectory(path)) {
      const entries = yield* store.list(path)
      return entries.filter((e) => !e.isDirectory && isCsvName(e.name)).map((e) => NodePath.join(path, e.name))
    }
    if (yield* store.exists(path)) return [path]
    return yield* new NoDataError({ message: `no such file or folder: ${path}` })
  })

/** All rows of a dataset (a CSV file, or every CSV in a folder); fails when there are none. */
export const readDataset = (path: string) =>
  Effect.gen(function*() {
    const files = yield* csvFilesAt(path)
    const rows: Array<Row> = []
    for (const f of files) yield* streamCsv(f, (r) => rows.push(r))
    if (rows.length === 0) return yield* new NoDataError({ message: `no data rows in ${path}` })
    return rows
  })

export const sha256 = (data: string | Uint8Array) => NodeCrypto.createHash("sha256").update(data).digest("hex")

export const sha256OfFile = (path: string) =>
  Effect.gen(function*() {
    const store = yield* FileStore
    const hash = NodeCrypto.createHash("sha256")
    yield* Stream.runForEach(store.stream(path), (chunk) => Effect.sync(() => hash.update(chunk)))
    return hash.digest("hex")
  })
