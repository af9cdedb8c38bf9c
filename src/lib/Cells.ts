/** Reading one numeric cell of a CSV given to the API (ingestion leaves this to DuckDB). */
export const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/
/** pandas' usual missing-value spellings */
export const MISSING = new Set(["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"])

/** A finite number, NaN where the value is missing, or a string that says why it is neither. */
export const parseNumberCell = (cell: string): number | { readonly invalid: string } => {
  const raw = cell.trim()
  if (MISSING.has(raw)) return Number.NaN
  if (!NUMBER.test(raw)) return { invalid: `"${raw}" is not a number` }
  const v = Number(raw)
  return Number.isFinite(v) ? v : { invalid: `"${raw}" is out of range` }
}
