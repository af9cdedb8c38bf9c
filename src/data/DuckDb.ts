/**
 * DuckDb: the data engine, one in-memory DuckDB instance per process, created on first use
 * (a command that reads no data never loads it). Data lives in Parquet snapshots and CSV
 * files, never in a DuckDB database file, so processes never lock each other.
 */
import type { DuckDBConnection, DuckDBInstance, DuckDBResult } from "@duckdb/node-api"
import { Effect, Layer, Option, Ref, type Scope } from "effect"
import * as NodePath from "node:path"
import { DataError } from "../domain/Errors.js"
import { AppConfig } from "../services/AppConfig.js"

/** A SQL string literal. */
export const lit = (s: string) => `'${s.replace(/'/g, "''")}'`
/** A SQL identifier. */
export const ident = (s: string) => `"${s.replace(/"/g, '""')}"`

const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0]!

export interface DuckDbShape {
  /** Run work on a fresh connection of the process's instance. */
  readonly use: <A>(label: string, f: (c: DuckDBConnection) => Promise<A>) => Effect.Effect<A, DataError>
  /** A small result as plain objects (aggregates, metadata). */
  readonly rows: (sql: string) => Effect.Effect<ReadonlyArray<Record<string, unknown>>, DataError>
  /**
   * DOUBLE columns of a query as Float64Arrays, streamed chunk by chunk into arrays sized
   * by `count`; NULL must be mapped by the query (e.g. to NaN).
   */
  readonly columns: (sql: string, count: number) => Effect.Effect<ReadonlyArray<Float64Array>, DataError>
  /** A connection held for the scope (its temporary tables live as long as it does). */
  readonly connect: Effect.Effect<DuckDBConnection, DataError, Scope.Scope>
  /**
   * Start the engine in the background, for work about to need it: its library loads and its
   * instance is made while the caller does other work (a failure shows at the first use).
   */
  readonly warm: Effect.Effect<void>
}

/** Copy every DOUBLE column of a streamed result into preallocated Float64Arrays. */
export const readDoubleColumns = async (c: DuckDBConnection, sql: string, count: number): Promise<Array<Float64Array>> => {
  const result = await c.stream(sql)
  const out = Array.from({ length: result.columnCount }, () => new Float64Array(count))
  const rows = await streamDoubleColumns(result, out, 0)
  return rows === count ? out : out.map((col) => col.slice(0, rows))
}

/**
 * Copy the DOUBLE columns of the queries, one after the other, into Float64Arrays of `count`
 * rows: the rows of several Parquet files of a snapshot, in the order of the files.
 */
export const readDoubleColumnsOf = async (c: DuckDBConnection, sqls: ReadonlyArray<string>, count: number): Promise<Array<Float64Array>> => {
  if (sqls.length === 0) return []
  // the first result says how many columns to allocate
  const first = await c.stream(sqls[0]!)
  const out = Array.from({ length: first.columnCount }, () => new Float64Array(count))
  let rows = await streamDoubleColumns(first, out, 0)
  rows += await readDoubleColumnsInto(c, sqls.slice(1), out, rows)
  return rows === count ? out : out.map((col) => col.slice(0, rows))
}

/** Copy the DOUBLE columns of the queries, one after the other, into `out` from row `offset`. Returns the rows copied. */
const readDoubleColumnsInto = async (c: DuckDBConnection, sqls: ReadonlyArray<string>, out: ReadonlyArray<Float64Array>, offset: number): Promise<number> => {
  let at = offset
  for (const sql of sqls) at += await streamDoubleColumns(await c.stream(sql), out, at)
  return at - offset
}

/**
 * Copy the DOUBLE columns of the queries, one after the other, into `out` from row `offset`,
 * each row at its place in its file: each query's first column is the row's number in the
 * file (read_parquet's file_row_number, as a DOUBLE), and a parallel scan returns the rows in
 * a different order on every read. No sort: a chunk of consecutive rows (nearly all of them)
 * is copied at its place, any other row by row. Returns the rows copied.
 */
export const readPlacedColumnsInto = async (c: DuckDBConnection, sqls: ReadonlyArray<string>, out: ReadonlyArray<Float64Array>, offset: number): Promise<number> => {
  let at = offset
  for (const sql of sqls) at += await streamPlacedColumns(await c.stream(sql), out, at)
  return at - offset
}

const streamPlacedColumns = async (result: DuckDBResult, out: ReadonlyArray<Float64Array>, start: number): Promise<number> => {
  const count = out[0]?.length ?? 0
  let rows = 0
  for (;;) {
    const chunk = await result.fetchChunk()
    if (chunk === null || chunk.rowCount === 0) break
    const n = chunk.rowCount
    const place = (chunk.getColumnVector(0) as unknown as { readonly items: Float64Array }).items
    const first = place[0]!
    let consecutive = true
    for (let i = 1; i < n && consecutive; i++) consecutive = place[i] === first + i
    for (let j = 0; j < out.length; j++) {
      const items = (chunk.getColumnVector(j + 1) as unknown as { readonly items: Float64Array }).items
      const col = out[j]!
      if (consecutive) {
        if (start + first + n > count) throw new Error(`the query returned more than the expected ${count} rows`)
        col.set(items.subarray(0, n), start + first)
      } else {
        for (let i = 0; i < n; i++) {
          const to = start + place[i]!
          if (to >= count) throw new Error(`the query returned more than the expected ${count} rows`)
          col[to] = items[i]!
        }
      }
    }
    rows += n
  }
  return rows
}

/** The rows of a streamed result into `out` from row `start`; returns how many rows it had. */
const streamDoubleColumns = async (result: DuckDBResult, out: ReadonlyArray<Float64Array>, start: number): Promise<number> => {
  const count = out[0]?.length ?? 0
  let offset = start
  for (;;) {
    const chunk = await result.fetchChunk()
    if (chunk === null || chunk.rowCount === 0) break
    const n = chunk.rowCount
    if (offset + n > count) throw new Error(`the query returned more than the expected ${count} rows`)
    for (let j = 0; j < out.length; j++) {
      const vector = chunk.getColumnVector(j) as unknown as { readonly items?: Float64Array; getItem(i: number): unknown }
      const items = vector.items
      if (items instanceof Float64Array && items.length >= n) {
        out[j]!.set(items.subarray(0, n), offset)
      } else {
        for (let i = 0; i < n; i++) out[j]![offset + i] = Number(vector.getItem(i))
      }
    }
    offset += n
  }
  return offset - start
}

/**
 * Give the memory DuckDB's worker threads hold back to the system: each thread keeps what
 * its allocator freed for reuse, and ending the threads (one thread, then as many as
 * before) returns it. Between the large steps of an ingestion this lowers the peak RSS by
 * tens of MB; it costs a few milliseconds.
 */
export const releaseThreadMemory = async (c: DuckDBConnection): Promise<void> => {
  const threads = Number((await c.runAndReadAll(`SELECT current_setting('threads')`)).getRows()[0]![0])
  if (!(threads > 1)) return
  await c.run(`SET threads = 1`)
  await c.run(`SET threads = ${threads}`)
}

export class DuckDb extends Effect.Service<DuckDb>()("drs/DuckDb", {
  scoped: Effect.gen(function*() {
    const config = yield* AppConfig
    const instance = yield* Ref.make(Option.none<Promise<DuckDBInstance>>())
    yield* Effect.addFinalizer(() =>
      Ref.get(instance).pipe(Effect.flatMap(Option.match({
        onNone: () => Effect.void,
        onSome: (p) => Effect.promise(() => p.then((i) => i.closeSync(), () => undefined))
      })))
    )
    const create = async () => {
      const { DuckDBInstance } = await import("@duckdb/node-api")
      const db = await DuckDBInstance.create(":memory:", {
        memory_limit: config.duckdb_memory_limit,
        temp_directory: NodePath.resolve(config.output_folder_path, ".duckdb-tmp"),
        preserve_insertion_order: "false"
      })
      const c = await db.connect()
      // the class label: enum_code() of a value is 0 for negative_label, 1 for positive_label (see CsvFiles.declaredColumns)
      await c.run(`CREATE TYPE drs_label AS ENUM (${lit(config.dataset.negative_label)}, ${lit(config.dataset.positive_label)})`)
      c.closeSync()
      return db
    }
    const get = Ref.modify(instance, (o) => {
      if (Option.isSome(o)) return [o.value, o] as const
      const p = create()
      return [p, Option.some(p)] as const
    })

    const use = <A>(label: string, f: (c: DuckDBConnection) => Promise<A>) =>
      Effect.flatMap(get, (p) =>
        Effect.tryPromise({
          try: async () => {
            const c = await (await p).connect()
            try {
              return await f(c)
            } finally {
              c.closeSync()
            }
          },
          catch: (e) => new DataError({ message: `${label}: ${message(e)}` })
        })).pipe(Effect.withSpan(`DuckDb.${label}`))

    const rows = (sql: string) =>
      use("query", async (c) => (await c.runAndReadAll(sql)).getRowObjectsJS() as ReadonlyArray<Record<string, unknown>>)

    const columns = (sql: string, count: number) => use("columns", (c) => readDoubleColumns(c, sql, count))

    const connect = Effect.acquireRelease(
      Effect.flatMap(get, (p) => Effect.tryPromise({ try: async () => (await p).connect(), catch: (e) => new DataError({ message: `connect: ${message(e)}` }) })),
      (c) => Effect.sync(() => c.closeSync())
    )

    const warm = Effect.asVoid(Effect.tap(get, (p) => Effect.sync(() => p.catch(() => undefined))))

    return { use, rows, columns, connect, warm } satisfies DuckDbShape
  })
}) {
  /** DuckDB is real in tests too: an in-memory instance is cheap. */
  static readonly layerTest = (config: Layer.Layer<AppConfig> = AppConfig.layerTest()) =>
    DuckDb.Default.pipe(Layer.provide(config))
}
