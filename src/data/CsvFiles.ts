/**
 * Reading data CSVs with DuckDB's CSV reader: the declared columns with explicit types,
 * every bad line recorded by `store_rejects`, and a file with any bad line rejected whole
 * with its file, line and column. A valid file lands in a temporary table of the connection.
 */
import type { DuckDBConnection } from "@duckdb/node-api"
import { parse } from "csv-parse"
import { parse as parseCsvSync } from "csv-parse/sync"
import { createReadStream } from "node:fs"
import * as NodeFs from "node:fs/promises"
import { columnsOf, type DatasetSchema, isCategorical } from "../domain/Dataset.js"
import { CsvError } from "../domain/Errors.js"
import { MISSING, NA_STRINGS } from "../lib/Cells.js"
import { ident, lit } from "./DuckDb.js"


const HEADER_PROBE = 1 << 20

export interface CsvSource {
  /** what messages call the file */
  readonly label: string
  /** the operating-system path DuckDB opens */
  readonly path: string
}

/** The header of a CSV file, read and checked by hand (DuckDB skips it when the columns are given). */
export const readHeader = async (src: CsvSource, dataset: DatasetSchema): Promise<ReadonlyArray<string>> => {
  // one probe buffer serves successive calls (not a new megabyte per file, garbage until a GC)
  const buffer = spareProbe ?? new Uint8Array(HEADER_PROBE)
  spareProbe = undefined
  try {
    return await headerFrom(src, dataset, buffer)
  } finally {
    spareProbe = buffer
  }
}

let spareProbe: Uint8Array | undefined

const headerFrom = async (src: CsvSource, dataset: DatasetSchema, buffer: Uint8Array): Promise<ReadonlyArray<string>> => {
  const handle = await NodeFs.open(src.path, "r")
  let bytes: Uint8Array
  try {
    const { bytesRead } = await handle.read(buffer, 0, HEADER_PROBE, 0)
    bytes = buffer.subarray(0, bytesRead)
  } finally {
    await handle.close()
  }
  const fail = (reason: string) => new CsvError({ file: src.label, reason })
  if (bytes.length === 0) throw fail("the file is empty (no header row)")
  const nul = bytes.indexOf(0)
  if (nul >= 0) throw fail(`binary content (NUL byte at byte offset ${nul}); expected a UTF-8 CSV text file`)
  const end = bytes.indexOf(10)
  const headerBytes = end >= 0 ? bytes.subarray(0, end) : bytes.length < HEADER_PROBE ? bytes : undefined
  if (headerBytes === undefined) throw fail(`the header line is longer than ${HEADER_PROBE} bytes`)
  let text: string
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes).replace(/^\uFEFF/, "").replace(/\r$/, "")
  } catch {
    throw fail("the header is not UTF-8 text; expected a UTF-8 CSV text file")
  }
  if (text.trim().length === 0) throw fail("the file is empty (no header row)")
  let header: Array<string>
  try {
    header = (parseCsvSync(text, { relax_column_count: true }) as Array<Array<string>>)[0]!.map((h) => h.trim())
  } catch (e) {
    throw new CsvError({ file: src.label, line: 1, reason: `unreadable header: ${(e as Error).message}` })
  }
  const expected = columnsOf(dataset)
  const missing = expected.filter((c) => !header.includes(c))
  // undeclared columns are an error with extra_columns "reject"; otherwise named only beside a missing one (a renamed column?)
  const unknown = dataset.extra_columns === "reject" || missing.length > 0 ? extraColumns(header, dataset) : []
  const dupes = [...new Set(header.filter((h, i) => header.indexOf(h) !== i))]
  if (missing.length > 0 || unknown.length > 0 || dupes.length > 0) {
    const parts = [
      missing.length > 0 ? `missing column(s) ${missing.join(", ")}` : "",
      unknown.length > 0 ? `unexpected column(s) ${unknown.join(", ")}` : "",
      dupes.length > 0 ? `repeated column(s) ${dupes.join(", ")}` : ""
    ].filter((p) => p.length > 0)
    throw new CsvError({ file: src.label, line: 1, reason: `wrong header (${parts.join("; ")}); expected ${expected.join(",")}` })
  }
  return header
}

/** The columns of a header that the schema does not declare (read as text, then dropped). */
export const extraColumns = (header: ReadonlyArray<string>, dataset: DatasetSchema): ReadonlyArray<string> => {
  const expected = columnsOf(dataset)
  return header.filter((h) => !expected.includes(h))
}

/** A declared feature that holds numbers (not text categories). */
export const isNumeric = (dataset: DatasetSchema, column: string) =>
  dataset.feature_columns.includes(column) && !isCategorical(dataset, column)

const typeOf = (dataset: DatasetSchema, column: string) =>
  column === dataset.target_column ? "drs_label" : isNumeric(dataset, column) ? "DOUBLE" : "VARCHAR"

/**
 * The declared columns in declared order. The target is read as the label type, which only
 * validates it, and lands as a 0/1 number: its code in that type (DuckDb declares it as
 * ENUM ('0', '1'), so the code is the label; cheaper than a cast through text).
 */
const declaredColumns = (dataset: DatasetSchema) =>
  columnsOf(dataset).map((col) =>
    col === dataset.target_column ? `enum_code(${ident(col)}) AS ${ident(col)}` : ident(col)).join(", ")

/** A reject of DuckDB's CSV reader, in the words of this system. */
const describeReject = (dataset: DatasetSchema, maxLine: number, r: { error_type: string; error_message: string; column_name: string | null }) => {
  const value = /Could not convert string "(.*)" to/s.exec(r.error_message)?.[1]
  switch (r.error_type) {
    case "CAST":
      return r.column_name === dataset.target_column
        ? `"${value ?? ""}" is not a class label (expected ${dataset.negative_label} or ${dataset.positive_label})`
        : `"${value ?? ""}" is not a number`
    case "TOO MANY COLUMNS":
    case "MISSING COLUMNS": {
      const found = /Found: (\d+)/.exec(r.error_message)?.[1]
      const expected = columnsOf(dataset).length
      return r.error_type === "TOO MANY COLUMNS"
        ? `expected ${expected} fields, found more`
        : `expected ${expected} fields, found ${found ?? "fewer"}`
    }
    case "LINE SIZE OVER MAXIMUM":
      return `the line is longer than ${maxLine} bytes (a field is over max_field_bytes)`
    case "INVALID ENCODING":
    case "INVALID UNICODE":
      return "not UTF-8 text; expected a UTF-8 CSV text file"
    case "UNQUOTED VALUE":
      return "a quote is not closed"
    default:
      return r.error_message
  }
}

/** What the reader accepts but the system does not: infinite numbers, over-long text fields. */
const valueChecks = (dataset: DatasetSchema, maxFieldBytes: number) => [
  ...dataset.feature_columns.filter((f) => isNumeric(dataset, f)).map((f) => ({
    column: f, where: `isinf(${ident(f)})`, reason: "an infinite value is not a usable number",
    bad: (cell: string) => !Number.isFinite(Number(cell.trim())) && !MISSING.has(cell.trim())
  })),
  ...[...(dataset.id_column ? [dataset.id_column] : []), ...dataset.categorical_columns].map((column) => ({
    column, where: `strlen(${ident(column)}) > ${maxFieldBytes}`,
    reason: `the field is longer than max_field_bytes (${maxFieldBytes} bytes)`,
    bad: (cell: string) => Buffer.byteLength(cell) > maxFieldBytes
  }))
]

/** A line DuckDB's reader rejected, from its reject tables. */
type Reject = { line: bigint; column_name: string | null; error_type: string; error_message: string }

/** The longest line the reader takes: a field of max_field_bytes and room for the others. */
const maxLineOf = (header: ReadonlyArray<string>, maxFieldBytes: number) => maxFieldBytes + 64 * header.length

/** The CsvError for a rejected line: its file, line and (when the reject names one) column. */
const rejectError = (src: CsvSource, header: ReadonlyArray<string>, dataset: DatasetSchema, maxFieldBytes: number, r: Reject) => {
  const column = r.error_type === "LINE SIZE OVER MAXIMUM" || r.error_type === "UNQUOTED VALUE" ? undefined : r.column_name ?? undefined
  return new CsvError({ file: src.label, line: Number(r.line), column, reason: describeReject(dataset, maxLineOf(header, maxFieldBytes), r) })
}

/** The CsvError for a value check that failed, with the line of the first bad value when it can be found. */
const valueError = async (src: CsvSource, header: ReadonlyArray<string>, k: ReturnType<typeof valueChecks>[number]) => {
  const line = await locate(src.path, header.indexOf(k.column), k.bad)
  return new CsvError({ file: src.label, ...(line !== undefined ? { line } : {}), column: k.column, reason: k.reason })
}

/** Files share a header when they have the same columns in the same order. */
const headerKey = (header: ReadonlyArray<string>) => header.join("\u0000")

let sequence = 0

export interface LoadedCsv {
  readonly table: string
  readonly rows: number
}

/**
 * Load one CSV into a temporary table of `c` with the declared columns in declared order,
 * or throw a CsvError for the first problem (by line, then column).
 */
export const loadCsv = async (c: DuckDBConnection, src: CsvSource, dataset: DatasetSchema, maxFieldBytes: number): Promise<LoadedCsv> => {
  const header = await readHeader(src, dataset)
  const n = ++sequence
  const table = `csv_${process.pid}_${n}`
  const rejects = `rej_${process.pid}_${n}`
  const scans = `scan_${process.pid}_${n}`
  try {
    // every column of the file is read, undeclared ones too (then dropped): the reject
    // tables name a column by its place among the columns read
    const extras = extraColumns(header, dataset)
    const kept = extras.map((_, i) => freeName(header, `drs_extra_${i}`))
    await c.run(`CREATE TEMP TABLE ${table} AS SELECT ${declaredColumns(dataset)}${extras.map((e, i) => `, ${ident(e)} AS ${ident(kept[i]!)}`).join("")}
      FROM ${readCsv([src.path], header, dataset, maxFieldBytes, `, store_rejects = true, rejects_table = ${lit(rejects)}, rejects_scan = ${lit(scans)}`)}`)
    for (const k of kept) await c.run(`ALTER TABLE ${table} DROP COLUMN ${ident(k)}`)
    const bad = (await c.runAndReadAll(
      `SELECT line, column_name, error_type, error_message FROM ${rejects} ORDER BY line, column_idx LIMIT 1`
    )).getRowObjectsJS() as Array<Reject>
    if (bad.length > 0) throw rejectError(src, header, dataset, maxFieldBytes, bad[0]!)
    const checks = valueChecks(dataset, maxFieldBytes)
    const summary = (await c.runAndReadAll(
      `SELECT count(*) AS n${checks.map((k, i) => `, bool_or(${k.where}) AS c${i}`).join("")} FROM ${table}`
    )).getRowObjectsJS()[0] as Record<string, bigint | number | boolean | null>
    const failed = checks.find((_, i) => summary[`c${i}`] === true)
    if (failed !== undefined) throw await valueError(src, header, failed)
    const rows = Number(summary.n)
    if (rows === 0) throw new CsvError({ file: src.label, reason: "the file has a header but no data rows" })
    return { table, rows }
  } catch (e) {
    await c.run(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined)
    throw errorOf(src, e)
  } finally {
    await c.run(`DROP TABLE IF EXISTS ${rejects}; DROP TABLE IF EXISTS ${scans}`).catch(() => undefined)
  }
}

export interface CheckedCsv {
  readonly src: CsvSource
  /** the header as read (its order is the order of the fields) */
  readonly header: ReadonlyArray<string>
  readonly rows: number
}

const errorOf = (src: CsvSource, e: unknown) =>
  e instanceof CsvError ? e : new CsvError({ file: src.label, reason: `unreadable CSV: ${(e as Error).message.split("\n")[0]}` })

/** The read_csv(…) call for files that share `header`, with the declared column types. */
const readCsv = (paths: ReadonlyArray<string>, header: ReadonlyArray<string>, dataset: DatasetSchema, maxFieldBytes: number, extra = "") => {
  const maxLine = maxLineOf(header, maxFieldBytes)
  const columns = `{${header.map((h) => `${lit(h)}: ${lit(typeOf(dataset, h))}`).join(", ")}}`
  return `read_csv([${paths.map(lit).join(", ")}],
      header = true, auto_detect = false, delim = ',', quote = '"', escape = '"', columns = ${columns},
      nullstr = [${NA_STRINGS.map(lit).join(", ")}], strict_mode = true, max_line_size = ${Math.max(maxLine, 4096)}${extra})`
}

/**
 * Check files that share a header in one read of all of them (DuckDB reads them in
 * parallel): the same reader settings, rejects and checks as `loadCsv`, per file, without
 * keeping the rows. Throws when DuckDB fails outright (the caller then checks the files one
 * by one, for an error that names the file).
 */
const checkGroup = async (
  c: DuckDBConnection, group: ReadonlyArray<{ readonly src: CsvSource; readonly header: ReadonlyArray<string> }>,
  dataset: DatasetSchema, maxFieldBytes: number
): Promise<Array<CheckedCsv | CsvError>> => {
  const header = group[0]!.header
  const n = ++sequence
  const rejects = `rej_${process.pid}_${n}`
  const scans = `scan_${process.pid}_${n}`
  const fileColumn = freeName(header, "drs_file")
  const checks = valueChecks(dataset, maxFieldBytes)
  try {
    const paths = group.map((g) => g.src.path)
    // every column is read (and so converted and checked), as when the rows are kept
    const summary = (await c.runAndReadAll(
      `SELECT ${ident(fileColumn)} AS file, count(*) AS n${checks.map((k, i) => `, bool_or(${k.where}) AS c${i}`).join("")}${
        header.map((col, i) => `, count(${ident(col)}) AS v${i}`).join("")}
      FROM ${readCsv(paths, header, dataset, maxFieldBytes, `, filename = ${lit(fileColumn)}, store_rejects = true, rejects_table = ${lit(rejects)}, rejects_scan = ${lit(scans)}`)}
      GROUP BY ALL`
    )).getRowObjectsJS() as Array<Record<string, bigint | number | boolean | string | null>>
    const bad = (await c.runAndReadAll(
      `SELECT s.file_path AS file, r.line, r.column_name, r.error_type, r.error_message
      FROM ${rejects} r JOIN ${scans} s ON r.scan_id = s.scan_id AND r.file_id = s.file_id
      QUALIFY row_number() OVER (PARTITION BY s.file_path ORDER BY r.line, r.column_idx) = 1`
    )).getRowObjectsJS() as Array<Reject & { file: string }>
    const bySummary = new Map(summary.map((r) => [String(r.file), r]))
    const byReject = new Map(bad.map((r) => [r.file, r]))
    const out: Array<CheckedCsv | CsvError> = []
    for (const { src, header: h } of group) {
      const r = byReject.get(src.path)
      if (r !== undefined) {
        out.push(rejectError(src, h, dataset, maxFieldBytes, r))
        continue
      }
      const sum = bySummary.get(src.path)
      const failed = sum === undefined ? undefined : checks.find((_, i) => sum[`c${i}`] === true)
      if (failed !== undefined) {
        out.push(await valueError(src, h, failed))
        continue
      }
      const rows = sum === undefined ? 0 : Number(sum.n)
      out.push(rows === 0 ? new CsvError({ file: src.label, reason: "the file has a header but no data rows" }) : { src, header: h, rows })
    }
    return out
  } finally {
    await c.run(`DROP TABLE IF EXISTS ${rejects}; DROP TABLE IF EXISTS ${scans}`).catch(() => undefined)
  }
}

/**
 * Check CSV files as `loadCsv` does (header, every line, the same errors), without keeping
 * their rows: files with the same header are read together. One result per file, in order:
 * its header and row count, or the CsvError that rejects it.
 */
export const checkCsvs = async (
  c: DuckDBConnection, srcs: ReadonlyArray<CsvSource>, dataset: DatasetSchema, maxFieldBytes: number
): Promise<Array<CheckedCsv | CsvError>> => {
  const out: Array<CheckedCsv | CsvError> = new Array(srcs.length)
  const groups = new Map<string, Array<{ readonly i: number; readonly src: CsvSource; readonly header: ReadonlyArray<string> }>>()
  for (const [i, src] of srcs.entries()) {
    try {
      const header = await readHeader(src, dataset)
      const key = headerKey(header)
      groups.set(key, [...(groups.get(key) ?? []), { i, src, header }])
    } catch (e) {
      out[i] = errorOf(src, e)
    }
  }
  for (const group of groups.values()) {
    const together = group.length > 1 ? await checkGroup(c, group, dataset, maxFieldBytes).catch(() => undefined) : undefined
    for (const [j, g] of group.entries()) {
      out[g.i] = together?.[j] ?? (await checkGroup(c, [g], dataset, maxFieldBytes).then((r) => r[0]!, (e) => errorOf(g.src, e)))
    }
  }
  return out
}

/**
 * SQL, an aggregate: true when a number column has no missing value and only whole numbers,
 * which pandas writes as integers ("181", not "181.0").
 */
export const wholeNumbers = (column: string) =>
  `(count(${ident(column)}) = count(*) AND coalesce(bool_and(${ident(column)} = trunc(${ident(column)}) AND abs(${ident(column)}) < 9e15), true))`

/** `name`, or with as many leading underscores as it takes not to be one of `taken`. */
const freeName = (taken: ReadonlyArray<string>, name: string) => {
  let out = name
  while (taken.includes(out)) out = `_${out}`
  return out
}

/**
 * The records of CSV files as DuckDB's reader counts them, for files it has read without an
 * error: the non-empty lines after the header. Counted here, from the bytes (a fraction of a
 * read by DuckDB), but only for files with no quote and no carriage return, where a line
 * break always ends a record; undefined when any file has one (DuckDB then counts).
 */
export const countRecords = async (paths: ReadonlyArray<string>): Promise<Array<number> | undefined> => {
  const buffer = Buffer.allocUnsafe(1 << 20)
  const out: Array<number> = []
  for (const path of paths) {
    const handle = await NodeFs.open(path, "r")
    try {
      // `previous`: the byte before the chunk; as if a line break came before the file
      let lines = 0, empty = 0, previous = 10, size = 0
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, size)
        if (bytesRead === 0) break
        size += bytesRead
        const chunk = buffer.subarray(0, bytesRead)
        if (chunk.indexOf(34) !== -1 || chunk.indexOf(13) !== -1) return undefined
        for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) {
          lines++
          if ((at === 0 ? previous : chunk[at - 1]) === 10) empty++
        }
        previous = chunk[bytesRead - 1]!
      }
      // a last line without a line break is a line too
      if (size > 0 && previous !== 10) lines++
      out.push(lines - empty - 1)
    } finally {
      await handle.close()
    }
  }
  return out
}

export interface LoadedDistinct {
  /** each file, with its header and rows */
  readonly files: ReadonlyArray<CheckedCsv>
  /** for each feature, in declared order: whether the rows kept hold whole numbers only (see `wholeNumbers`) */
  readonly wholeNumbers: ReadonlyArray<boolean>
}

/**
 * The fast path of an ingestion: one read takes the files straight into a temporary `table`
 * of their distinct rows (declared columns in declared order) less the rows of `except` (a
 * relation with the same columns: the data ingested before), checked as `checkCsvs` checks
 * them: the reader fails on any bad line, and the value checks run on the rows kept (a row
 * left out is one ingested, so checked, before).
 * The rows of each file are counted meanwhile (`countRecords`). Returns undefined, and
 * leaves no table, when anything is off (a bad line, a bad value, an empty file, files with
 * different headers): the caller then checks the files one by one with `checkCsvs`, whose
 * errors name the file, line and column, and reads the good ones again.
 */
export const loadDistinct = async (
  c: DuckDBConnection, srcs: ReadonlyArray<CsvSource>, dataset: DatasetSchema, maxFieldBytes: number, table: string, except?: string
): Promise<LoadedDistinct | undefined> => {
  if (srcs.length === 0) return undefined
  const headers: Array<ReadonlyArray<string>> = []
  for (const src of srcs) {
    const header = await readHeader(src, dataset).catch(() => undefined)
    if (header === undefined || (headers.length > 0 && headerKey(header) !== headerKey(headers[0]!))) return undefined
    headers.push(header)
  }
  const header = headers[0]!
  const paths = srcs.map((s) => s.path)
  let ok = false
  try {
    // set semantics (see newRows), in the same pass as the read. No reject table (it keeps the
    // read's buffers: ~10% more memory, and slower): a bad line fails the read, and the slow path finds it
    const rows = `SELECT ${declaredColumns(dataset)} FROM ${readCsv(paths, header, dataset, maxFieldBytes)}`
    const distinct = c.run(`CREATE TEMP TABLE ${table} AS ${newRows(rows, dataset, except)}`)
      .then(() => true, () => false)
    // the rows of each file, counted meanwhile; or by DuckDB, in a read that keeps no column
    const counted = await countRecords(paths).catch(() => undefined)
    if (!(await distinct)) return undefined
    const perFile = counted ?? await (async () => {
      const fileColumn = freeName(header, "drs_file")
      const byFile = new Map((await c.runAndReadAll(
        `SELECT ${ident(fileColumn)}, count(*) FROM ${readCsv(paths, header, dataset, maxFieldBytes, `, filename = ${lit(fileColumn)}`)} GROUP BY 1`
      )).getRows().map((r) => [String(r[0]), Number(r[1])]))
      return paths.map((p) => byFile.get(p) ?? 0)
    })()
    if (perFile.some((k) => k === 0)) return undefined
    // the value checks, and in the same scan which features hold whole numbers only
    const checks = valueChecks(dataset, maxFieldBytes)
    const found = (await c.runAndReadAll(`SELECT ${[
      ...checks.map((k) => `coalesce(bool_or(${k.where}), false)`),
      ...dataset.feature_columns.map((f) => (isNumeric(dataset, f) ? wholeNumbers(f) : "false")), "true"
    ].join(", ")} FROM ${table}`)).getRows()[0]!
    if (found.slice(0, checks.length).some((f) => f === true)) return undefined
    ok = true
    return { files: srcs.map((src, i) => ({ src, header, rows: perFile[i]! })), wholeNumbers: found.slice(checks.length, -1).map((v) => v === true) }
  } catch {
    // a read that fails outright: the checks of the slow path say why, file by file
    return undefined
  } finally {
    if (!ok) await c.run(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined)
  }
}

/**
 * The distinct rows of `rows` (a query with the declared columns in declared order) that are
 * not rows of `except` (the data ingested before), as a query: set semantics, missing values
 * comparing equal, as pandas' drop_duplicates. DISTINCT first, then an anti-join of the
 * distinct rows against the rows before (cheaper than EXCEPT, which hashes every row read).
 */
export const newRows = (rows: string, dataset: DatasetSchema, except?: string) => {
  if (except === undefined) return `SELECT DISTINCT * FROM (${rows})`
  const same = columnsOf(dataset).map((col) => `n.${ident(col)} IS NOT DISTINCT FROM b.${ident(col)}`).join(" AND ")
  return `SELECT n.* FROM (SELECT DISTINCT * FROM (${rows})) n ANTI JOIN (SELECT * FROM ${except}) b ON ${same}`
}

/** The rows of checked CSV files, declared columns in declared order: a query to read them (again). */
export const csvRows = (files: ReadonlyArray<CheckedCsv>, dataset: DatasetSchema, maxFieldBytes: number) => {
  const groups = new Map<string, Array<CheckedCsv>>()
  for (const f of files) {
    const key = headerKey(f.header)
    groups.set(key, [...(groups.get(key) ?? []), f])
  }
  return [...groups.values()].map((g) =>
    `SELECT ${declaredColumns(dataset)} FROM ${readCsv(g.map((f) => f.src.path), g[0]!.header, dataset, maxFieldBytes)}`).join(" UNION ALL ")
}

/** The line of the first record whose `column` satisfies `bad` (the slow path, for a file already known to be bad). */
const locate = async (path: string, column: number, bad: (cell: string) => boolean): Promise<number | undefined> => {
  const parser = createReadStream(path).pipe(parse({ bom: true, relax_column_count: true, skip_empty_lines: true, info: true, from_line: 2 }))
  for await (const { record, info } of parser as AsyncIterable<{ record: Array<string>; info: { lines: number } }>) {
    const cell = record[column]
    if (cell !== undefined && bad(cell)) {
      parser.destroy()
      return info.lines
    }
  }
  return undefined
}

/**
 * SELECT list turning a loaded table's features into DOUBLEs with NaN for missing, then the
 * target: a numeric feature as its value, a categorical one as the index of its value in
 * `levels` (the feature's sorted categories in the data read).
 */
export const frameSelect = (dataset: DatasetSchema, levels: ReadonlyMap<string, ReadonlyArray<string>> = new Map()) =>
  [
    ...dataset.feature_columns.map((f) => {
      if (!isCategorical(dataset, f)) return `coalesce(${ident(f)}, 'nan'::DOUBLE)`
      const ls = levels.get(f) ?? []
      return ls.length === 0 ? `'nan'::DOUBLE` : `coalesce(enum_code(CAST(${ident(f)} AS ENUM (${ls.map(lit).join(", ")})))::DOUBLE, 'nan'::DOUBLE)`
    }),
    `CAST(${ident(dataset.target_column)} AS DOUBLE)`
  ].join(", ")

/** A query for the sorted distinct categories of each categorical feature of `source` (one row, one list per feature). */
export const levelsSelect = (dataset: DatasetSchema, source: string) =>
  `SELECT ${dataset.categorical_columns.map((f) => `list(DISTINCT ${ident(f)} ORDER BY ${ident(f)}) FILTER (WHERE ${ident(f)} IS NOT NULL)`).join(", ")} FROM ${source}`
