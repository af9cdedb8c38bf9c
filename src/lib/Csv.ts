/**
 * Streaming CSV reading and validation of attrition data.
 * csv-parse yields string fields; conversion is done here (a cast callback is ~20× slower).
 */
import { parse } from "csv-parse"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { CsvError } from "../domain/Errors.js"
import { COLUMNS, FEATURES, type Row } from "../domain/Schemas.js"

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/
/** pandas' usual missing-value spellings */
const MISSING = new Set(["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"])

/**
 * One numeric cell: a finite number, null where the value is missing, or a string that
 * says why it is neither.
 */
export const parseFeature = (cell: string): number | null | { readonly invalid: string } => {
  const raw = cell.trim()
  if (MISSING.has(raw)) return null
  if (!NUMBER.test(raw)) return { invalid: `"${raw}" is not a number` }
  const v = Number(raw)
  return Number.isFinite(v) ? v : { invalid: `"${raw}" is out of range` }
}

class RowProblem extends Error {
  constructor(readonly row: number | undefined, readonly column: string | undefined, readonly reason: string) {
    super(reason)
  }
}

/** Decode bytes to text, failing on NUL bytes or invalid UTF-8 (binary files). */
async function* textChunks(source: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder("utf-8", { fatal: true })
  let offset = 0
  for await (const chunk of source) {
    const nul = chunk.indexOf(0)
    if (nul >= 0) throw new RowProblem(undefined, undefined, `binary content (NUL byte at byte offset ${offset + nul}); expected a UTF-8 CSV text file`)
    let text: string
    try {
      text = decoder.decode(chunk, { stream: true })
    } catch {
      throw new RowProblem(undefined, undefined, `binary or non-UTF-8 content near byte offset ${offset}; expected a UTF-8 CSV text file`)
    }
    offset += chunk.length
    if (text.length > 0) yield text
  }
  try {
    const rest = decoder.decode()
    if (rest.length > 0) yield rest
  } catch {
    throw new RowProblem(undefined, undefined, "the file ends inside a UTF-8 character; expected a UTF-8 CSV text file")
  }
}

export interface ReadStats {
  readonly rows: number
}

/**
 * Stream one CSV of attrition data, validating the header and every field, and hand each
 * row to `onRow`. Rejects with a CsvError naming the file, the data row (1-based, after the
 * header) and the column.
 */
export const readRows = async (
  file: string,
  source: AsyncIterable<Uint8Array>,
  onRow: (row: Row) => void
): Promise<ReadStats> => {
  let index: Array<number> | undefined
  let rows = 0
  const handle = (record: Array<string>) => {
    if (index === undefined) {
      const header = record.map((h) => h.trim())
      const missing = COLUMNS.filter((c) => !header.includes(c))
      const unknown = header.filter((h) => !(COLUMNS as ReadonlyArray<string>).includes(h))
      const dupes = header.filter((h, i) => header.indexOf(h) !== i)
      if (missing.length > 0 || unknown.length > 0 || dupes.length > 0) {
        const parts = [
          missing.length > 0 ? `missing column(s) ${missing.join(", ")}` : "",
          unknown.length > 0 ? `unexpected column(s) ${unknown.join(", ")}` : "",
          dupes.length > 0 ? `repeated column(s) ${dupes.join(", ")}` : ""
        ].filter((p) => p.length > 0)
        throw new RowProblem(undefined, undefined, `wrong header (${parts.join("; ")}); expected ${COLUMNS.join(",")}`)
      }
      index = COLUMNS.map((c) => header.indexOf(c))
      return
    }
    rows++
    if (record.length !== COLUMNS.length) {
      throw new RowProblem(rows, undefined, `expected ${COLUMNS.length} fields, found ${record.length}`)
    }
    const cell = (c: number) => record[index![c]!]!
    const num = (c: number): number | null => {
      const v = parseFeature(cell(c))
      if (v !== null && typeof v === "object") throw new RowProblem(rows, COLUMNS[c], v.invalid)
      return v
    }
    const exitedRaw = cell(4).trim()
    const exited = NUMBER.test(exitedRaw) ? Number(exitedRaw) : Number.NaN
    if (exited !== 0 && exited !== 1) {
      throw new RowProblem(rows, "exited", `"${exitedRaw}" is not a class label (expected 0 or 1)`)
    }
    onRow({
      corporation: cell(0).trim(),
      lastmonth_activity: num(1),
      lastyear_activity: num(2),
      number_of_employees: num(3),
      exited
    })
  }
  const parser = parse({ bom: true, skip_empty_lines: true, relax_column_count: true, relax_quotes: false })
  parser.on("data", (record: Array<string>) => {
    try {
      handle(record)
    } catch (e) {
      parser.destroy(e as Error)
    }
  })
  try {
    await pipeline(Readable.from(textChunks(source)), parser)
  } catch (e) {
    if (e instanceof RowProblem) throw new CsvError({ file, row: e.row, column: e.column, reason: e.reason })
    const err = e as Error & { lines?: number }
    const where = typeof err.lines === "number" ? ` (line ${err.lines})` : ""
    throw new CsvError({ file, reason: `unreadable CSV${where}: ${err.message}` })
  }
  if (index === undefined) throw new CsvError({ file, reason: "the file is empty (no header row)" })
  return { rows }
}

const quote = (s: string) => (/[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s)
const cellOf = (v: number | null) => (v === null ? "" : String(v))

export const rowKey = (r: Row): string =>
  `${r.corporation}\u0000${r.lastmonth_activity}\u0000${r.lastyear_activity}\u0000${r.number_of_employees}\u0000${r.exited}`

export const toCsv = (rows: ReadonlyArray<Row>): string => {
  const lines = new Array<string>(rows.length + 1)
  lines[0] = COLUMNS.join(",")
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!
    lines[i + 1] = `${quote(r.corporation)},${cellOf(r.lastmonth_activity)},${cellOf(r.lastyear_activity)},${cellOf(r.number_of_employees)},${r.exited}`
  }
  return lines.join("\n") + "\n"
}

export const featureVector = (r: Row): Array<number | null> => FEATURES.map((f) => r[f])
