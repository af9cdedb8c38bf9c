/**
 * The prediction log: every row POST /prediction scored, written in batches to Parquet files
 * under `prediction_log_path` (default `<output_folder_path>/predictions`).
 *
 * - The request path copies the columns it already built (the features the model was given,
 *   its probabilities and predictions) into the open batch's columns (BatchBuilder): a few
 *   microseconds, no I/O, and nothing of the request is kept.
 * - A batch is written once it holds `prediction_log_max_rows` rows or its oldest row is
 *   `prediction_log_max_seconds` old, in a background fiber, one write at a time: its
 *   columns (BatchBuilder's) go to the writer thread without a copy;
 *   there DuckDB takes them as data chunks and writes the Parquet file to a temporary name,
 *   which is then renamed. Readers glob `*.parquet`, so they never see a partial file.
 * - The writer is a worker thread with its own DuckDB on one thread (started at the first
 *   write): the appends, the join and the Parquet encoding (about 1 ms of CPU per 1,000
 *   rows) never hold the event loop. On the main thread, with a flush every 2,048 rows to
 *   keep each hold short, they took a tenth of a busy server's time and lengthened its
 *   slowest responses.
 * - Each process writes its own files (`<host>-<pid>-<start>-<seq>.parquet`): N processes on
 *   N machines never share a writer or a file.
 * - Closing the layer's scope (a graceful stop: SIGTERM interrupts the server, its scope
 *   closes) writes the open batch. A crash loses at most the open batch: at most
 *   `prediction_log_max_rows` rows or `prediction_log_max_seconds` seconds of requests.
 *
 * Columns: `request_id`, `ts` (TIMESTAMP, UTC), `release_id`, `row` (its index within the
 * request), `id` (the id column's value when the row carried one), `probability`,
 * `prediction`, and one typed column per declared feature, named `f:<feature>`: DuckDB
 * reads only the columns a query names, so drift per window scans each feature alone, with
 * no JSON to parse. A missing feature is NULL. A categorical feature is a VARCHAR column of
 * the categories as received.
 */
import type { DuckDBConnection } from "@duckdb/node-api"
import { Effect, Fiber, Layer, Metric, Ref, Schedule } from "effect"
import { createRequire } from "node:module"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { Worker } from "node:worker_threads"
import { isCategorical } from "../domain/Dataset.js"
import type { AppConfigSchema } from "../domain/Schemas.js"
import { AppConfig } from "../services/AppConfig.js"
import { FileStore } from "../services/FileStore.js"
import { DataError } from "../domain/Errors.js"
import { DuckDb } from "./DuckDb.js"

export const predictionLogDir = (config: AppConfigSchema) =>
  config.prediction_log_path ?? NodePath.join(config.output_folder_path, "predictions")

/** The name of a feature's column in the log. */
export const logFeatureColumn = (feature: string) => `f:${feature}`


/** Every logged file, for DuckDB (a glob: the files of every process on every machine). */
export const predictionLogGlob = (dir: string) => NodePath.join(dir, "*.parquet")

export interface LoggedRequest {
  readonly requestId: string
  readonly at: number
  readonly releaseId: string
  readonly rows: number
  /** the declared features in order, NaN where a value is missing; a categorical one as codes into `levels` */
  readonly features: ReadonlyArray<Float64Array>
  /** per feature: the categories a categorical feature's codes index, null for a numeric one (absent: all numeric) */
  readonly levels?: ReadonlyArray<ReadonlyArray<string> | null>
  readonly probabilities: Float64Array
  readonly predictions: Uint8Array
  /** the id column's values, null where a row has none; null when no row has one */
  readonly ids: ReadonlyArray<string | null> | null
}

interface Batch {
  readonly builder: BatchBuilder
  readonly openedAt: number
}

export const loggedRowsTotal = Metric.counter("drs_prediction_log_rows_total", { description: "rows written to the prediction log", incremental: true })
export const droppedRowsTotal = Metric.counter("drs_prediction_log_dropped_rows_total", { description: "rows the prediction log failed to write", incremental: true })

/** A batch as columns: what the writer thread takes (plain data, its arrays transferred). */
export interface BatchColumns {
  readonly rows: number
  /** per row: its request's index in the batch, its index in the request, probability, prediction, then the features */
  readonly doubles: ReadonlyArray<Float64Array>
  /** per row: the id column's value, or null; null when no row has one */
  readonly ids: ReadonlyArray<string | null> | null
  /** per request: when it came (ms since the epoch), its id, the release that scored it */
  readonly at: Float64Array
  readonly requestIds: ReadonlyArray<string>
  readonly releaseIds: ReadonlyArray<string>
  /** per feature: a categorical one's categories, which its column's codes index; null for a numeric one */
  readonly categories: ReadonlyArray<ReadonlyArray<string> | null>
  /** the log's column name of each feature */
  readonly featureColumns: ReadonlyArray<string>
}

/**
 * A batch being filled: each request's columns are copied in as it is recorded (the
 * request's own arrays die young, and writing the batch needs no pass over a thousand
 * requests on the event loop, which took 20 to 45 ms per 100,000 rows), its categorical codes
 * mapped into one list of the batch's categories. `capacity` rows are allocated at first;
 * a batch that outgrows them is copied into twice the room.
 */
export class BatchBuilder {
  rows = 0
  private capacity: number
  private doubles: Array<Float64Array>
  private ids: Array<string | null> | null = null
  private readonly at: Array<number> = []
  private readonly requestIds: Array<string> = []
  private readonly releaseIds: Array<string> = []
  private readonly dictionaries: ReadonlyArray<Map<string, number> | null>

  /** `spare`: the columns' memory of a batch already written, used again when it has the room (see PredictionLog) */
  constructor(private readonly features: ReadonlyArray<string>, categorical: ReadonlyArray<boolean>, capacity: number, spare: ReadonlyArray<ArrayBuffer> = []) {
    this.capacity = Math.max(1, capacity)
    const reuse = spare.length === 4 + features.length && spare.every((b) => b.byteLength >= this.capacity * 8)
    this.doubles = Array.from({ length: 4 + features.length }, (_, j) => (reuse ? new Float64Array(spare[j]!, 0, this.capacity) : new Float64Array(this.capacity)))
    this.dictionaries = features.map((_, j) => (categorical[j] ? new Map<string, number>() : null))
  }

  add(r: LoggedRequest): void {
    const off = this.rows
    if (off + r.rows > this.capacity) {
      this.capacity = Math.max(2 * this.capacity, off + r.rows)
      this.doubles = this.doubles.map((col) => {
        const wider = new Float64Array(this.capacity)
        wider.set(col.subarray(0, off))
        return wider
      })
    }
    const [req, row, prob, pred, ...feats] = this.doubles as [Float64Array, Float64Array, Float64Array, Float64Array, ...Array<Float64Array>]
    const k = this.at.length
    req.fill(k, off, off + r.rows)
    for (let i = 0; i < r.rows; i++) row[off + i] = i
    prob.set(r.probabilities, off)
    pred.set(r.predictions, off)
    feats.forEach((col, j) => {
      const levels = r.levels?.[j]
      const dictionary = this.dictionaries[j]
      if (!levels || !dictionary) {
        col.set(r.features[j]!, off)
        return
      }
      const map = levels.map((l) => {
        let code = dictionary.get(l)
        if (code === undefined) dictionary.set(l, code = dictionary.size)
        return code
      })
      const codes = r.features[j]!
      for (let i = 0; i < r.rows; i++) {
        const v = codes[i]!
        col[off + i] = v === v ? map[v]! : Number.NaN
      }
    })
    if (r.ids !== null && this.ids === null) this.ids = new Array<string | null>(off).fill(null)
    if (this.ids !== null) for (let i = 0; i < r.rows; i++) this.ids.push(r.ids?.[i] ?? null)
    this.at.push(r.at)
    this.requestIds.push(r.requestId)
    this.releaseIds.push(r.releaseId)
    this.rows += r.rows
  }

  /** The batch as columns (views of the builder's arrays: the builder is not used again). */
  columns(): BatchColumns {
    return {
      rows: this.rows, doubles: this.doubles.map((col) => col.subarray(0, this.rows)), ids: this.ids,
      at: Float64Array.from(this.at), requestIds: this.requestIds, releaseIds: this.releaseIds,
      categories: this.dictionaries.map((d) => (d ? [...d.keys()] : null)), featureColumns: this.features.map(logFeatureColumn)
    }
  }
}

/**
 * Write a batch's columns as a Parquet file at `tmp` (the caller renames it): the rows and
 * the requests go into two temporary tables (DuckDB's appender, a data chunk of 2048 rows at
 * a time), joined by COPY into the file. Self-contained (its source is the writer thread's
 * too): `api` is @duckdb/node-api. Returns the rows written.
 */
export const writeColumns = async (
  api: Pick<typeof import("@duckdb/node-api"), "DuckDBDataChunk" | "DOUBLE" | "VARCHAR">, c: DuckDBConnection, b: BatchColumns, tmp: string
): Promise<number> => {
  const VECTOR = 2048
  // DuckDb.ts's lit and ident, written here: the thread runs this function's source alone
  const quote = (s: string) => `'${s.replace(/'/g, "''")}'`
  const name = (s: string) => `"${s.replace(/"/g, '""')}"`
  const suffix = `${process.pid}_${Date.now()}_${Math.floor(Math.random() * 1e9)}`
  const rowsTable = `plog_rows_${suffix}`
  const reqTable = `plog_requests_${suffix}`
  const requestType = `plog_request_ids_${suffix}`
  const releaseType = `plog_release_ids_${suffix}`
  const features = b.featureColumns
  await c.run(`CREATE TEMP TABLE ${rowsTable} (req DOUBLE, "row" DOUBLE, probability DOUBLE, prediction DOUBLE, ${features.map((_, j) => `f${j} DOUBLE`).join(", ")}${b.ids ? ", id VARCHAR" : ""})`)
  await c.run(`CREATE TEMP TABLE ${reqTable} (req DOUBLE, at_ms DOUBLE, request_id VARCHAR, release_id VARCHAR)`)
  try {
    const appender = await c.createAppender(rowsTable)
    const types = [...b.doubles.map(() => api.DOUBLE), ...(b.ids ? [api.VARCHAR] : [])]
    const chunk = api.DuckDBDataChunk.create(types, VECTOR)
    const vectors = types.map((_, j) => chunk.getColumnVector(j) as unknown as { items: Float64Array; setItem(i: number, v: unknown): void; flush(): void })
    for (let off = 0; off < b.rows; off += VECTOR) {
      const k = Math.min(VECTOR, b.rows - off)
      if (k !== VECTOR) chunk.rowCount = k
      for (let j = 0; j < b.doubles.length; j++) {
        const v = vectors[j]!
        v.items.set(b.doubles[j]!.subarray(off, off + k))
        v.flush()
      }
      if (b.ids) {
        const v = vectors[b.doubles.length]!
        for (let i = 0; i < k; i++) v.setItem(i, b.ids[off + i])
        v.flush()
      }
      appender.appendDataChunk(chunk)
    }
    appender.flushSync()
    appender.closeSync()
    const requests = await c.createAppender(reqTable)
    for (let k = 0; k < b.at.length; k++) {
      requests.appendDouble(k)
      requests.appendDouble(b.at[k]!)
      requests.appendVarchar(b.requestIds[k]!)
      requests.appendVarchar(b.releaseIds[k]!)
      requests.endRow()
    }
    requests.flushSync()
    requests.closeSync()
    const featureSelect = features.map((f, j) => {
      const categories = b.categories[j]
      const value = categories ? `([${categories.map(quote).join(", ")}]::VARCHAR[])[CAST(r.f${j} AS INTEGER) + 1]` : `r.f${j}`
      return `CASE WHEN isnan(r.f${j}) THEN NULL ELSE ${value} END AS ${name(f)}`
    })
    // the request's and the release's ids as ENUMs of the batch's values: the Parquet writer
    // writes an ENUM's codes as the dictionary's indices, where text is hashed row by row (a
    // third of the write); the file's columns are the same text columns either way
    await c.run(`CREATE TYPE ${requestType} AS ENUM (SELECT DISTINCT request_id FROM ${reqTable})`)
    await c.run(`CREATE TYPE ${releaseType} AS ENUM (SELECT DISTINCT release_id FROM ${reqTable})`)
    await c.run(`COPY (
      SELECT q.request_id, make_timestamp(CAST(q.at_ms * 1000 AS BIGINT)) AS ts, q.release_id, CAST(r."row" AS INTEGER) AS "row",
        ${b.ids ? "r.id" : "CAST(NULL AS VARCHAR)"} AS id, r.probability, CAST(r.prediction AS UTINYINT) AS prediction${featureSelect.length > 0 ? ", " : ""}${featureSelect.join(", ")}
      FROM ${rowsTable} r
      JOIN (SELECT req, at_ms, CAST(request_id AS ${requestType}) AS request_id, CAST(release_id AS ${releaseType}) AS release_id FROM ${reqTable}) q USING (req)
    ) TO ${quote(tmp)} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)`)
  } finally {
    await c.run(`DROP TABLE IF EXISTS ${rowsTable}`)
    await c.run(`DROP TABLE IF EXISTS ${reqTable}`)
    await c.run(`DROP TYPE IF EXISTS ${requestType}`)
    await c.run(`DROP TYPE IF EXISTS ${releaseType}`)
  }
  return b.rows
}

/** The writer thread's loop: its own DuckDB (one thread), one batch a message, answered with the rows written or the error. */
const writerThread = async (load: (id: string) => unknown, options: { readonly duckdb: string; readonly memoryLimit: string }, write: typeof writeColumns) => {
  const { parentPort } = load("node:worker_threads") as typeof import("node:worker_threads")
  const api = load(options.duckdb) as typeof import("@duckdb/node-api")
  const db = await api.DuckDBInstance.create(":memory:", { threads: "1", memory_limit: options.memoryLimit, preserve_insertion_order: "false" })
  parentPort!.on("message", async (m: { readonly seq: number; readonly batch: BatchColumns; readonly tmp: string }) => {
    const c = await db.connect()
    // the columns' memory goes back once written, for the next batch (fresh memory costs page faults)
    const buffers = [...new Set(m.batch.doubles.map((d) => d.buffer as ArrayBuffer))]
    try {
      parentPort!.postMessage({ seq: m.seq, rows: await write(api, c, m.batch, m.tmp), buffers }, buffers)
    } catch (e) {
      parentPort!.postMessage({ seq: m.seq, error: e instanceof Error ? e.message : String(e) })
    } finally {
      c.closeSync()
    }
  })
}

/** The writer thread's source: the two functions above, started on its workerData. */
const writerSource = () =>
  [
    `const writeColumns = ${writeColumns.toString()};`,
    `const writerThread = ${writerThread.toString()};`,
    `const { workerData } = require("node:worker_threads");`,
    `writerThread(require, workerData, writeColumns).catch((e) => { require("node:worker_threads").parentPort.postMessage({ failed: String(e && e.message || e) }) });`
  ].join("\n")

/** A batch written: its rows, and its columns' memory given back. */
export interface Written {
  readonly rows: number
  readonly buffers: ReadonlyArray<ArrayBuffer>
}

/**
 * The prediction log's writer: a worker thread with its own DuckDB, so that a batch's
 * appends, join and Parquet encoding never hold the event loop (on the main thread they took
 * a tenth of a busy server's time and made its slowest responses). Batches are written one
 * at a time; `write` resolves once the file is written, with the columns' memory, which the
 * next batch fills again: fresh memory costs a page fault every 4 KB, 15 to 25 ms for the
 * 6 MB of a 100,000-row batch of 3 features on the machines measured.
 */
export const startWriter = (memoryLimit: string) => {
  const duckdb = createRequire(import.meta.url).resolve("@duckdb/node-api")
  const worker = new Worker(writerSource(), { eval: true, workerData: { duckdb, memoryLimit } })
  worker.unref()
  const pending = new Map<number, { resolve: (written: Written) => void; reject: (e: Error) => void }>()
  let seq = 0
  let broken: Error | null = null
  const fail = (e: Error) => {
    broken = e
    for (const p of pending.values()) p.reject(e)
    pending.clear()
  }
  worker.on("message", (m: { seq?: number; rows?: number; error?: string; failed?: string; buffers?: Array<ArrayBuffer> }) => {
    if (m.failed !== undefined) return fail(new Error(`the writer thread could not start: ${m.failed}`))
    if (m.seq === undefined) return
    const p = pending.get(m.seq)
    pending.delete(m.seq)
    if (m.error !== undefined) p?.reject(new Error(m.error))
    else p?.resolve({ rows: m.rows!, buffers: m.buffers ?? [] })
  })
  worker.on("error", (e) => fail(e))
  worker.on("exit", (code) => fail(new Error(`the writer thread exited (${code})`)))
  const write = (batch: BatchColumns, tmp: string) =>
    new Promise<Written>((resolve, reject) => {
      if (broken) return reject(broken)
      const k = seq++
      pending.set(k, { resolve, reject })
      // the arrays go to the thread (no copy): the batch is not used here again
      worker.postMessage({ seq: k, batch, tmp }, [...new Set([...batch.doubles, batch.at].map((a) => a.buffer as ArrayBuffer))])
    })
  return { write, close: () => worker.terminate().then(() => undefined) }
}

export class PredictionLog extends Effect.Service<PredictionLog>()("drs/PredictionLog", {
  scoped: Effect.gen(function*() {
    const config = yield* AppConfig
    const store = yield* FileStore
    const dir = predictionLogDir(config)
    const features = config.dataset.feature_columns
    const categorical = features.map((f) => isCategorical(config.dataset, f))
    const enabled = config.prediction_log
    const maxRows = config.prediction_log_max_rows
    const maxMs = config.prediction_log_max_seconds * 1000
    const prefix = `${NodeOs.hostname().replace(/[^A-Za-z0-9_.-]/g, "_")}-${process.pid}-${Date.now()}`
    const seq = yield* Ref.make(0)
    const lock = yield* Effect.makeSemaphore(1)
    const scope = yield* Effect.scope
    // the writer thread (with its own DuckDB), started at the first write, stopped with the layer
    let writer: ReturnType<typeof startWriter> | null = null
    yield* Effect.addFinalizer(() => (writer === null ? Effect.void : Effect.promise(() => writer!.close())))
    const writeWith = (batch: BatchColumns, tmp: string) =>
      Effect.tryPromise({
        try: () => (writer ??= startWriter(config.duckdb_memory_limit)).write(batch, tmp),
        catch: (e) => new DataError({ message: `prediction log: ${e instanceof Error ? e.message : String(e)}` })
      })
    // the open batch: plain mutable state touched only synchronously (one JS thread)
    let open: Batch | null = null
    // the columns' memory of the last batch written, which the next one fills again
    let spare: ReadonlyArray<ArrayBuffer> = []

    const write = (batch: Batch) =>
      lock.withPermits(1)(Effect.gen(function*() {
        const n = yield* Ref.getAndUpdate(seq, (k) => k + 1)
        const name = `${prefix}-${String(n).padStart(6, "0")}.parquet`
        const path = NodePath.join(dir, name)
        const tmp = `${path}.tmp`
        yield* store.makeDirectory(dir).pipe(Effect.orDie)
        const { rows, buffers } = yield* writeWith(batch.builder.columns(), store.localPath(tmp))
        spare = buffers
        yield* store.rename(tmp, path).pipe(Effect.orDie)
        yield* Metric.incrementBy(loggedRowsTotal, rows)
      })).pipe(
        Effect.catchAllCause((cause) =>
          Effect.zipRight(
            Metric.incrementBy(droppedRowsTotal, batch.builder.rows),
            Effect.logWarning(`the prediction log could not write a batch of ${batch.builder.rows} row(s) to ${dir}`, cause)
          )
        )
      )

    // batches being written in the background
    const inflight = new Set<Fiber.RuntimeFiber<void>>()

    /** Take the open batch (if any) and write it; then wait for the batches being written. */
    const flush = Effect.suspend(() => {
      const batch = open
      open = null
      return Effect.zipRight(batch === null ? Effect.void : write(batch), Effect.suspend(() => Fiber.awaitAll([...inflight])))
    }).pipe(Effect.asVoid, Effect.withSpan("PredictionLog.flush"))

    /** Add a scored request to the open batch; a full batch is written in the background. */
    const record = (r: LoggedRequest): Effect.Effect<void> =>
      enabled
        ? Effect.suspend(() => {
          // room for a full batch and the largest request that may close it
          if (open === null) {
            open = { builder: new BatchBuilder(features, categorical, maxRows + config.max_prediction_rows, spare), openedAt: Date.now() }
            spare = []
          }
          open.builder.add(r)
          if (open.builder.rows < maxRows) return Effect.void
          const batch = open
          open = null
          return Effect.forkIn(write(batch), scope).pipe(
            Effect.tap((fiber) => Effect.sync(() => {
              inflight.add(fiber)
              fiber.addObserver(() => inflight.delete(fiber))
            })),
            Effect.asVoid
          )
        })
        : Effect.void

    // a batch whose oldest row is maxMs old is written, full or not
    yield* Effect.suspend(() =>
      open !== null && Date.now() - open.openedAt >= maxMs ? flush : Effect.void
    ).pipe(Effect.repeat(Schedule.spaced(Math.min(1000, Math.max(50, Math.floor(maxMs / 4))))), Effect.interruptible, Effect.forkScoped)
    // a graceful stop writes the open batch (and waits for the ones being written)
    yield* Effect.addFinalizer(() => flush)

    return { record, flush, dir, enabled } as const
  })
}) {
  static readonly layerTest = (config: Parameters<typeof AppConfig.layerTest>[0] = {}) =>
    PredictionLog.Default.pipe(
      Layer.provideMerge(DuckDb.layerTest(AppConfig.layerTest(config))),
      Layer.provideMerge(Layer.mergeAll(AppConfig.layerTest(config), FileStore.layerTemp()))
    )
}
