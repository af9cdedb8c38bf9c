/** Reading the cells of a CSV given to the API (ingestion leaves this to DuckDB). */
export const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/

/** pandas' spellings of a missing value (`pandas.read_csv`'s default `na_values`), in every column */
export const NA_STRINGS = [
  "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
  "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"
] as const

export const MISSING: ReadonlySet<string> = new Set(NA_STRINGS)

/** A finite number, NaN where the value is missing, or a string that says why it is neither. */
export const parseNumberCell = (cell: string): number | { readonly invalid: string } => {
  const raw = cell.trim()
  if (MISSING.has(raw)) return Number.NaN
  if (!NUMBER.test(raw)) return { invalid: `"${raw}" is not a number` }
  const v = Number(raw)
  return Number.isFinite(v) ? v : { invalid: `"${raw}" is out of range` }
}

/** A category as written, or null where the value is missing (as pandas reads a text column). */
export const parseCategoryCell = (cell: string): string | null => (MISSING.has(cell) ? null : cell)
