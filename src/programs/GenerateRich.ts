/**
 * Generated data with the traits of real customer tables (churn, credit): numeric features
 * with thresholds and missing values written `NA`, categorical features of 2 to 50 levels with
 * skewed frequencies that carry signal, an interaction between a category and a number, and
 * text labels. Deterministic: the same seed gives the same rows.
 */
import { DatasetSchema, isCategorical } from "../domain/Dataset.js"

const STATES = [
  "AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "HI", "IA", "ID", "IL", "IN", "KS", "KY", "LA", "MA",
  "MD", "ME", "MI", "MN", "MO", "MS", "MT", "NC", "ND", "NE", "NH", "NJ", "NM", "NV", "NY", "OH", "OK", "OR", "PA", "RI",
  "SC", "SD", "TN", "TX", "UT", "VA", "VT", "WA", "WI", "WV"
]

/** The categorical columns `--categorical K` adds, in order: name and categories (2 to 50 levels). */
export const GENERATED_CATEGORIES: ReadonlyArray<{ readonly name: string; readonly levels: ReadonlyArray<string> }> = [
  { name: "state", levels: STATES },
  { name: "plan", levels: ["basic", "plus", "premium"] },
  { name: "channel", levels: ["app", "partner", "phone", "store", "web"] },
  { name: "international_plan", levels: ["no", "yes"] },
  { name: "home", levels: ["ignore", "other", "owner", "parents", "priv", "rent"] },
  { name: "job", levels: ["fixed", "freelance", "others", "partime"] },
  { name: "segment", levels: ["A1", "A2", "B1", "B2", "C1", "C2", "D1", "D2", "E1", "E2", "F1", "F2"] },
  { name: "region", levels: Array.from({ length: 20 }, (_, k) => `region ${String(k + 1).padStart(2, "0")}`) }
]

/** The declared dataset with `k` generated categorical columns added and the given labels. */
export const withGeneratedCategories = (d: DatasetSchema, k: number, labels?: readonly [positive: string, negative: string]) => {
  const added = GENERATED_CATEGORIES.slice(0, Math.max(0, Math.min(k, GENERATED_CATEGORIES.length)))
    .map((c) => c.name).filter((n) => !d.feature_columns.includes(n))
  return DatasetSchema.make({
    id_column: d.id_column, target_column: d.target_column, extra_columns: d.extra_columns,
    feature_columns: [...d.feature_columns, ...added],
    categorical_columns: [...d.categorical_columns, ...added],
    positive_label: labels?.[0] ?? d.positive_label,
    negative_label: labels?.[1] ?? d.negative_label
  })
}

/** The levels of a categorical feature: a generated column's own, else `<name>_<k>` (12 of them). */
const levelsOf = (name: string) =>
  GENERATED_CATEGORIES.find((c) => c.name === name)?.levels ?? Array.from({ length: 12 }, (_, k) => `${name}_${k}`)

const quote = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s)

/** A fixed effect in about [−1.3, 1.3] for level `l` of the m-th categorical feature. */
const effect = (m: number, l: number) => 1.3 * Math.sin(1.7 * (l + 1) * (m + 2) + m)

/**
 * CSV lines (no header) in the declared column order. The hidden model: the numeric features
 * as in the plain generator, a threshold on the first two, each category's effect, and an
 * interaction: the first categorical feature's upper half of levels flips the sign of the
 * first numeric feature's threshold. `shift` moves the hidden model (drift).
 */
export const generateRichLines = (
  n: number, rand: () => number, dataset: DatasetSchema, makeId: () => string, options: { shift?: number } = {}
): Array<string> => {
  const numeric = dataset.feature_columns.filter((f) => !isCategorical(dataset, f))
  const categorical = dataset.feature_columns.filter((f) => isCategorical(dataset, f))
  const levels = categorical.map(levelsOf)
  const lines: Array<string> = []
  const cells = new Map<string, string>()
  for (let i = 0; i < n; i++) {
    const id = makeId()
    let z = (options.shift ?? 0) - 0.4
    const xs: Array<number> = []
    for (const [j, f] of numeric.entries()) {
      const x = Math.round(rand() * 100 * (j + 1))
      xs.push(x)
      z += ((j % 2 === 0 ? 1 : -1) * 1.5 * (x / (50 * (j + 1)) - 1)) / Math.sqrt(numeric.length)
      // about 3% missing in every other numeric column
      cells.set(f, j % 2 === 1 && rand() < 0.03 ? "NA" : String(x))
    }
    const codes: Array<number> = []
    for (const [m, f] of categorical.entries()) {
      const L = levels[m]!.length
      // skewed: low levels are frequent
      const l = Math.min(L - 1, Math.floor(rand() * rand() * L * 1.6))
      codes.push(l)
      z += effect(m, l)
      cells.set(f, rand() < 0.02 ? "" : quote(levels[m]![l]!))
    }
    if (xs.length > 0) {
      const up = codes.length > 0 && codes[0]! >= levels[0]!.length / 4
      z += (xs[0]! > 60 ? 1.6 : -0.4) * (up ? -1 : 1)
    }
    if (xs.length > 1 && xs[1]! > 130) z -= 1.2
    const label = rand() < 1 / (1 + Math.exp(-z)) ? dataset.positive_label : dataset.negative_label
    lines.push([
      ...(dataset.id_column ? [quote(id)] : []), ...dataset.feature_columns.map((f) => cells.get(f)!), quote(label)
    ].join(","))
  }
  return lines
}
