/**
 * Rows given to `/prediction` (JSON objects, or the records of a CSV document) as a frame's
 * columns, by the declared schema: a numeric feature's cells are numbers, a categorical
 * one's are text (its levels the sorted categories of the request). Pure.
 */
import { type DatasetSchema, isCategorical } from "../domain/Dataset.js"
import { parseCategoryCell, parseNumberCell } from "./Cells.js"
import { type Frame, sortLevels } from "./Frame.js"

export type InputFrame = Pick<Frame, "rows" | "featureNames" | "features" | "levels">

/** Categorical cells (null: missing) as codes into their sorted distinct values. */
const categoryColumn = (cells: ReadonlyArray<string | null>) => {
  const levels = sortLevels(new Set(cells.filter((c): c is string => c !== null)))
  const index = new Map(levels.map((l, k) => [l, k]))
  return { values: Float64Array.from(cells, (c) => (c === null ? Number.NaN : index.get(c)!)), levels }
}

/** A frame from JSON rows (validated by the payload schema: a number or null, or for a categorical feature text). */
export const frameFromJson = (dataset: DatasetSchema, rows: ReadonlyArray<Readonly<Record<string, unknown>>>): InputFrame => {
  const features: Array<Float64Array> = []
  const levels: Array<ReadonlyArray<string> | null> = []
  for (const f of dataset.feature_columns) {
    if (isCategorical(dataset, f)) {
      const column = categoryColumn(rows.map((r) => {
        const v = r[f]
        return typeof v === "string" ? v : typeof v === "number" ? String(v) : null
      }))
      features.push(column.values)
      levels.push(column.levels)
    } else {
      features.push(Float64Array.from(rows, (r) => (typeof r[f] === "number" ? r[f] : Number.NaN)))
      levels.push(null)
    }
  }
  return { rows: rows.length, featureNames: dataset.feature_columns, features, levels }
}

/** A frame from CSV records (the first the header, matched by name), or why a cell is unusable: its line and column. */
export const frameFromCsv = (dataset: DatasetSchema, records: ReadonlyArray<ReadonlyArray<string>>): InputFrame | { readonly invalid: string } => {
  const header = records[0]!.map((h) => h.trim())
  const missing = dataset.feature_columns.filter((f) => !header.includes(f))
  if (missing.length > 0) return { invalid: `missing column(s) ${missing.join(", ")}` }
  const rows = records.length - 1
  const features: Array<Float64Array> = []
  const levels: Array<ReadonlyArray<string> | null> = []
  for (const f of dataset.feature_columns) {
    const at = header.indexOf(f)
    if (isCategorical(dataset, f)) {
      const column = categoryColumn(records.slice(1).map((r) => parseCategoryCell(r[at] ?? "")))
      features.push(column.values)
      levels.push(column.levels)
      continue
    }
    const column = new Float64Array(rows)
    for (let i = 0; i < rows; i++) {
      const v = parseNumberCell(records[i + 1]![at] ?? "")
      if (typeof v === "object") return { invalid: `line ${i + 2}, column "${f}": ${v.invalid}` }
      column[i] = v
    }
    features.push(column)
    levels.push(null)
  }
  return { rows, featureNames: dataset.feature_columns, features, levels }
}
