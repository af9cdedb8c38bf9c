/**
 * The prediction log: every row POST /prediction scored, written in batches to Parquet files
 * under `prediction_log_path` (default `<output_folder_path>/predictions`).
 *
 * - The request path only appends references to the columns it already built (the features
 *   the model was given, its probabilities and predictions) to an in-memory batch: no copy,
 *   no I/O.
 * - A batch is written once it holds `prediction_log_max_rows` rows or its oldest row is
 *   `prediction_log_max_seconds` old, in a background fiber, one write at a time: DuckDB
 *   takes the columns as data chunks (bulk copies of the Float64Arrays) and writes the
 *   Parquet file to a temporary name, which is then renamed. Readers glob `*.parquet`, so
 *   they never see a partial file.
 * - The writes have their own DuckDB on one thread (created at the first write): a write
 *   takes at most one core from the requests, whatever else the process's DuckDB runs. A
 *   write costs about 1.5 ms of CPU per 1,000 rows plus a few ms per file, so large batches
 *   (the default 100,000 rows) keep it to a few percent of a busy server's CPU.
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
import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api"
import { Effect, Fiber, Layer, Metric, Ref, Schedule } from "effect"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import type { AppConfigSchema } from "../domain/Schemas.js"
import { AppConfig } from "../services/AppConfig.js"
import { FileStore } from "../services/FileStore.js"
import { DataError } from "../domain/Errors.js"
import { DuckDb, ident, lit } from "./DuckDb.js"

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
  readonly requests: Array<LoggedRequest>
  rows: number
  readonly openedAt: number
}

export const loggedRowsTotal = Metric.counter("drs_prediction_log_rows_total", { description: "rows written to the prediction log", incremental: true })
export const droppedRowsTotal = Metric.counter("drs_prediction_log_dropped_rows_total", { description: "rows the prediction log failed to write", incremental: true })

const VECTOR = 2048

/** Let the event loop serve other sockets (a macrotask: the appender's work is synchronous). */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * Append `n` rows of DOUBLE columns (and an optional VARCHAR column) to a table, one data
 * chunk of 2048 rows at a time, each flushed into the table before the event loop is let
 * go: DuckDB's appender works on the calling (main) thread, and one flush of 100,000 rows
 * held it for 40 to 120 ms; a chunk holds it for about 1 ms.
 */
const appendColumns = async (c: DuckDBConnection, table: string, doubles: ReadonlyArray<Float64Array>, text: ReadonlyArray<string | null> | null, n: number) => {
  const { DuckDBDataChunk, DOUBLE, VARCHAR } = await import("@duckdb/node-api")
  const appender = await c.createAppender(table)
  const types = [...doubles.map(() => DOUBLE), ...(text ? [VARCHAR] : [])]
  const chunk = DuckDBDataChunk.create(types, VECTOR)
  const vectors = types.map((_, j) => chunk.getColumnVector(j) as unknown as { items: Float64Array; setItem(i: number, v: unknown): void; flush(): void })
  for (let off = 0; off < n; off += VECTOR) {
    const k = Math.min(VECTOR, n - off)
    if (k !== VECTOR) chunk.rowCount = k
    for (let j = 0; j < doubles.length; j++) {
      const v = vectors[j]!
      v.items.set(doubles[j]!.subarray(off, off + k))
      v.flush()
    }
    if (text) {
      const v = vectors[doubles.length]!
      for (let i = 0; i < k; i++) v.setItem(i, text[off + i])
      v.flush()
    }
    appender.appendDataChunk(chunk)
    appender.flushSync()
    await yieldToEventLoop()
  }
  appender.closeSync()
}

/** Write one batch as a Parquet file (to `tmp`; the caller renames it). */
export const writeBatch = async (c: DuckDBConnection, requests: ReadonlyArray<LoggedRequest>, features: ReadonlyArray<string>, tmp: string) => {
  const n = requests.reduce((s, r) => s + r.rows, 0)
  const req = new Float64Array(n)
  const row = new Float64Array(n)
  const prob = new Float64Array(n)
  const pred = new Float64Array(n)
  const feats = features.map(() => new Float64Array(n))
  const anyIds = requests.some((r) => r.ids !== null)
  const ids: Array<string | null> | null = anyIds ? new Array<string | null>(n).fill(null) : null
  // a categorical feature: each request's codes mapped into one list of the batch's categories
  const batchLevels = features.map((_, j) => (requests.some((r) => r.levels?.[j]) ? new Map<string, number>() : null))
  let off = 0
  requests.forEach((r, k) => {
    req.fill(k, off, off + r.rows)
    for (let i = 0; i < r.rows; i++) row[off + i] = i
    prob.set(r.probabilities, off)
    pred.set(r.predictions, off)
    feats.forEach((col, j) => {
      const levels = r.levels?.[j]
      const dictionary = batchLevels[j]
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
    if (ids && r.ids) for (let i = 0; i < r.rows; i++) ids[off + i] = r.ids[i] ?? null
    off += r.rows
  })
  const suffix = `${process.pid}_${Date.now()}_${Math.floor(Math.random() * 1e9)}`
  const rowsTable = `plog_rows_${suffix}`
  const reqTable = `plog_requests_${suffix}`
  await c.run(`CREATE TEMP TABLE ${rowsTable} (req DOUBLE, "row" DOUBLE, probability DOUBLE, prediction DOUBLE, ${feats.map((_, j) => `f${j} DOUBLE`).join(", ")}${anyIds ? ", id VARCHAR" : ""})`)
  await c.run(`CREATE TEMP TABLE ${reqTable} (req DOUBLE, at_ms DOUBLE, request_id VARCHAR, release_id VARCHAR)`)
  try {
    await appendColumns(c, rowsTable, [req, row, prob, pred, ...feats], ids, n)
    const appender = await c.createAppender(reqTable)
    requests.forEach((r, k) => {
      appender.appendDouble(k)
      appender.appendDouble(r.at)
      appender.appendVarchar(r.requestId)
      appender.appendVarchar(r.releaseId)
      appender.endRow()
    })
    appender.flushSync()
    appender.closeSync()
    const featureSelect = features.map((f, j) => {
      const dictionary = batchLevels[j]
      const value = dictionary ? `([${[...dictionary.keys()].map(lit).join(", ")}]::VARCHAR[])[CAST(r.f${j} AS INTEGER) + 1]` : `r.f${j}`
      return `CASE WHEN isnan(r.f${j}) THEN NULL ELSE ${value} END AS ${ident(logFeatureColumn(f))}`
    })
    await c.run(`COPY (
      SELECT q.request_id, make_timestamp(CAST(q.at_ms * 1000 AS BIGINT)) AS ts, q.release_id, CAST(r."row" AS INTEGER) AS "row",
        ${anyIds ? "r.id" : "CAST(NULL AS VARCHAR)"} AS id, r.probability, CAST(r.prediction AS UTINYINT) AS prediction${featureSelect.length > 0 ? ", " : ""}${featureSelect.join(", ")}
      FROM ${rowsTable} r JOIN ${reqTable} q USING (req)
    ) TO ${lit(tmp)} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)`)
  } finally {
    await c.run(`DROP TABLE IF EXISTS ${rowsTable}`)
    await c.run(`DROP TABLE IF EXISTS ${reqTable}`)
  }
  return n
}

export class PredictionLog extends Effect.Service<PredictionLog>()("drs/PredictionLog", {
  scoped: Effect.gen(function*() {
    const config = yield* AppConfig
    const store = yield* FileStore
    const dir = predictionLogDir(config)
    const features = config.dataset.feature_columns
    const enabled = config.prediction_log
    const maxRows = config.prediction_log_max_rows
    const maxMs = config.prediction_log_max_seconds * 1000
    const prefix = `${NodeOs.hostname().replace(/[^A-Za-z0-9_.-]/g, "_")}-${process.pid}-${Date.now()}`
    const seq = yield* Ref.make(0)
    const lock = yield* Effect.makeSemaphore(1)
    const scope = yield* Effect.scope
    // the writer's DuckDB: one thread, created at the first write, closed with the layer
    let writer: Promise<DuckDBInstance> | null = null
    yield* Effect.addFinalizer(() =>
      writer === null ? Effect.void : Effect.promise(() => writer!.then((db) => db.closeSync(), () => undefined)))
    const writeWith = (f: (c: DuckDBConnection) => Promise<number>) =>
      Effect.tryPromise({
        try: async () => {
          writer ??= import("@duckdb/node-api").then(({ DuckDBInstance }) =>
            DuckDBInstance.create(":memory:", { threads: "1", memory_limit: config.duckdb_memory_limit, preserve_insertion_order: "false" }))
          const c = await (await writer).connect()
          try {
            return await f(c)
          } finally {
            c.closeSync()
          }
        },
        catch: (e) => new DataError({ message: `prediction log: ${e instanceof Error ? e.message : String(e)}` })
      })
    // the open batch: plain mutable state touched only synchronously (one JS thread)
    let open: Batch | null = null

    const write = (batch: Batch) =>
      lock.withPermits(1)(Effect.gen(function*() {
        const n = yield* Ref.getAndUpdate(seq, (k) => k + 1)
        const name = `${prefix}-${String(n).padStart(6, "0")}.parquet`
        const path = NodePath.join(dir, name)
        const tmp = `${path}.tmp`
        yield* store.makeDirectory(dir).pipe(Effect.orDie)
        const rows = yield* writeWith((c) => writeBatch(c, batch.requests, features, store.localPath(tmp)))
        yield* store.rename(tmp, path).pipe(Effect.orDie)
        yield* Metric.incrementBy(loggedRowsTotal, rows)
      })).pipe(
        Effect.catchAllCause((cause) =>
          Effect.zipRight(
            Metric.incrementBy(droppedRowsTotal, batch.rows),
            Effect.logWarning(`the prediction log could not write a batch of ${batch.rows} row(s) to ${dir}`, cause)
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
          if (open === null) open = { requests: [], rows: 0, openedAt: Date.now() }
          open.requests.push(r)
          open.rows += r.rows
          if (open.rows < maxRows) return Effect.void
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
