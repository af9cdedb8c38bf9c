/**
 * The column transforms both learners share, learnt from the training frame and stored in
 * the model artifact: a numeric feature's missing values take the training median; a
 * categorical feature's categories are the sorted ones seen in training, its missing values
 * take the most frequent (scikit-learn's `SimpleImputer(strategy="most_frequent")`, the
 * smallest on a tie), and a category never seen in training is unknown: no one-hot column
 * (`OneHotEncoder(handle_unknown="ignore")`), or missing for the trees. Pure.
 */
import { type Frame, presentMedian } from "../Frame.js"

export type FeatureEncoding =
  | { readonly name: string; readonly kind: "numeric"; readonly impute: number }
  | { readonly name: string; readonly kind: "categorical"; readonly categories: ReadonlyArray<string>; readonly impute: string | null }

/** Learn each feature's encoding from a training frame. */
export const learnEncoding = (frame: Frame): Array<FeatureEncoding> =>
  frame.featureNames.map((name, j) => {
    const col = frame.features[j]!
    const levels = frame.levels[j]
    if (levels === null || levels === undefined) {
      const m = presentMedian(col)
      return { name, kind: "numeric" as const, impute: Number.isFinite(m) ? m : 0 }
    }
    const counts = new Float64Array(levels.length)
    for (let i = 0; i < col.length; i++) {
      const v = col[i]!
      if (v === v) counts[v] = counts[v]! + 1
    }
    // only the categories the rows hold (a frame's levels are its own, so all of them)
    const categories: Array<string> = []
    let best = -1
    for (let l = 0; l < levels.length; l++) {
      if (counts[l]! === 0) continue
      categories.push(levels[l]!)
      if (best < 0 || counts[l]! > counts[best]!) best = l
    }
    return { name, kind: "categorical" as const, categories, impute: best < 0 ? null : levels[best]! }
  })

/** What a frame holds that the encoding has not seen: per categorical feature, each unknown category and its rows. */
export interface Unseen {
  readonly feature: string
  readonly values: ReadonlyArray<{ readonly value: string; readonly rows: number }>
}

/**
 * A categorical column of `frame` as codes into the encoding's categories: −1 where the
 * category is unknown, and where it is missing unless `imputeMissing` (then the most
 * frequent category's code). Unknown categories are counted into `unseen`.
 */
export const categoryCodes = (
  enc: Extract<FeatureEncoding, { kind: "categorical" }>, column: Float64Array, levels: ReadonlyArray<string>,
  imputeMissing: boolean, unseen?: Array<Unseen>
): Int32Array => {
  const index = new Map(enc.categories.map((c, k) => [c, k]))
  const map = Int32Array.from(levels, (l) => index.get(l) ?? -1)
  const missing = imputeMissing && enc.impute !== null ? index.get(enc.impute)! : -1
  const out = new Int32Array(column.length)
  const unknown = new Float64Array(levels.length)
  for (let i = 0; i < column.length; i++) {
    const v = column[i]!
    if (v !== v) out[i] = missing
    else {
      const k = map[v]!
      out[i] = k
      if (k < 0) unknown[v] = unknown[v]! + 1
    }
  }
  if (unseen !== undefined) {
    const values = levels.flatMap((value, l) => (unknown[l]! > 0 ? [{ value, rows: unknown[l]! }] : []))
    if (values.length > 0) unseen.push({ feature: enc.name, values })
  }
  return out
}

/** A numeric column with its missing values filled (in place when `inPlace`). */
export const imputedColumn = (column: Float64Array, fill: number, inPlace: boolean): Float64Array => {
  const out = inPlace ? column : new Float64Array(column.length)
  for (let i = 0; i < column.length; i++) {
    const v = column[i]!
    out[i] = v === v ? v : fill
  }
  return out
}

/** The frame's column of each encoded feature, checked against the frame's kinds. */
export const frameColumn = (frame: Pick<Frame, "featureNames" | "features" | "levels">, enc: FeatureEncoding) => {
  const j = frame.featureNames.indexOf(enc.name)
  if (j < 0) throw new Error(`the data has no feature ${enc.name}`)
  const levels = frame.levels[j] ?? null
  if ((enc.kind === "categorical") !== (levels !== null)) {
    throw new Error(`the feature ${enc.name} is ${enc.kind} in the model but ${levels === null ? "numeric" : "categorical"} in the data`)
  }
  return { values: frame.features[j]!, levels }
}

/** The names of the one-hot columns of a categorical feature (scikit-learn's `feature_category`). */
export const oneHotNames = (enc: Extract<FeatureEncoding, { kind: "categorical" }>) => enc.categories.map((c) => `${enc.name}_${c}`)
