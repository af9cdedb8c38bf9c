/**
 * Rows given to `/prediction` (JSON objects, or the records of a CSV document) as a frame's
 * columns, by the declared schema: a numeric feature's cells are numbers, a categorical
 * one's are text (its levels the sorted categories of the request). Pure.
 */
import { type DatasetSchema, isCategorical } from "../domain/Dataset.js"
import { parseCategoryCell, parseNumberCell } from "./Cells.js"
import { type Frame, sortLevels } from "./Frame.js"

export type InputFrame = Pick<Frame, "rows" | "featureNames" | "features" | "levels"> & {
  /** the id column's values (null where a row has none); null when no row has one */
  readonly ids: ReadonlyArray<string | null> | null
}

/** Categorical cells (null: missing) as codes into their sorted distinct values. */
const categoryColumn = (cells: ReadonlyArray<string | null>) => {
  const levels = sortLevels(new Set(cells.filter((c): c is string => c !== null)))
  const index = new Map(levels.map((l, k) => [l, k]))
  return { values: Float64Array.from(cells, (c) => (c === null ? Number.NaN : index.get(c)!)), levels }
}

/** A JSON value as text: a string as it is, a number as its text, anything else (null) missing. */
const textOf = (v: unknown): string | null => (typeof v === "string" ? v : typeof v === "number" ? String(v) : null)

/** A frame from JSON rows (validated by the payload schema: a number or null, or for a categorical feature text). */
export const frameFromJson = (dataset: DatasetSchema, rows: ReadonlyArray<Readonly<Record<string, unknown>>>): InputFrame => {
  const features: Array<Float64Array> = []
  const levels: Array<ReadonlyArray<string> | null> = []
  for (const f of dataset.feature_columns) {
    if (isCategorical(dataset, f)) {
      const column = categoryColumn(rows.map((r) => textOf(r[f])))
      features.push(column.values)
      levels.push(column.levels)
    } else {
      features.push(Float64Array.from(rows, (r) => (typeof r[f] === "number" ? r[f] : Number.NaN)))
      levels.push(null)
    }
  }
  const id = dataset.id_column ?? null
  const ids = id === null ? null : rows.map((r) => textOf(r[id]))
  return { rows: rows.length, featureNames: dataset.feature_columns, features, levels, ids: ids?.some((x) => x !== null) ? ids : null }
}

/**
 * A frame filled cell by cell from CSV text (`set` for a cell of feature f in a row, `missing`
 * for a cell the line lacks), then built: what a CSV reader writes into.
 */
export const frameBuilder = (dataset: DatasetSchema, rows: number) => {
  const names = dataset.feature_columns
  const numeric = names.map((f) => (isCategorical(dataset, f) ? null : new Float64Array(rows)))
  const text = names.map((f) => (isCategorical(dataset, f) ? new Array<string | null>(rows).fill(null) : null))
  let ids: Array<string | null> | null = null
  return {
    /** the row's id, when the document has the id column */
    setId: (row: number, cell: string) => {
      ids ??= new Array<string | null>(rows).fill(null)
      ids[row] = parseCategoryCell(cell)
    },
    /** the cell's value, or why it is unusable */
    set: (f: number, row: number, cell: string): string | undefined => {
      const t = text[f]
      if (t) {
        t[row] = parseCategoryCell(cell)
        return undefined
      }
      const v = parseNumberCell(cell)
      if (typeof v === "object") return v.invalid
      numeric[f]![row] = v
      return undefined
    },
    missing: (f: number, row: number) => {
      const t = text[f]
      if (t) t[row] = null
      else numeric[f]![row] = Number.NaN
    },
    build: (): InputFrame => {
      const features: Array<Float64Array> = []
      const levels: Array<ReadonlyArray<string> | null> = []
      for (let f = 0; f < names.length; f++) {
        const t = text[f]
        if (t) {
          const c = categoryColumn(t)
          features.push(c.values)
          levels.push(c.levels)
        } else {
          features.push(numeric[f]!)
          levels.push(null)
        }
      }
      return { rows, featureNames: names, features, levels, ids: ids !== null && ids.some((x) => x !== null) ? ids : null }
    }
  }
}
