/**
 * Logistic regression on the shared encoding: numeric features (training medians for
 * missing values) and one-hot encoded categorical features (the most frequent category for
 * missing values, no column for an unknown one), as scikit-learn's
 * `ColumnTransformer([SimpleImputer(median) | SimpleImputer(most_frequent) + OneHotEncoder(handle_unknown="ignore")])`
 * followed by `LogisticRegression`. Pure: frames in, numbers out.
 */
import type { LogisticArtifact } from "../../domain/Schemas.js"
import type { Frame } from "../Frame.js"
import { contributions, fit, type FitOptions, type FittedModel, type OneHot, probabilities } from "../Logistic.js"
import { categoryCodes, type FeatureEncoding, frameColumn, imputedColumn, learnEncoding, oneHotNames, type Unseen } from "./Encoding.js"

/** The encoding of a model: stored in format 2; format 1's features are numeric, missing values its `impute`. */
export const linearEncoding = (m: LogisticArtifact): ReadonlyArray<FeatureEncoding> =>
  m.encoding ?? m.features.map((name, j) => ({ name, kind: "numeric" as const, impute: m.impute?.[j] ?? 0 }))

type FrameColumns = Pick<Frame, "featureNames" | "features" | "levels" | "rows">

/**
 * The model's inputs from a frame: the numeric features' columns (missing values filled by
 * `impute` as they are read) and the categorical features' codes; unknown categories are
 * counted into `unseen`.
 */
const inputs = (encoding: ReadonlyArray<FeatureEncoding>, frame: FrameColumns, unseen?: Array<Unseen>) => {
  const dense: Array<Float64Array> = []
  const impute: Array<number> = []
  const oneHot: Array<OneHot> = []
  for (const enc of encoding) {
    const { values, levels } = frameColumn(frame, enc)
    if (enc.kind === "numeric") {
      dense.push(values)
      impute.push(enc.impute)
    } else {
      oneHot.push({ codes: categoryCodes(enc, values, levels!, true, unseen), levels: enc.categories.length })
    }
  }
  return { dense, impute, oneHot }
}

/** Probabilities of the positive class. */
export const linearProbabilities = (m: LogisticArtifact, frame: FrameColumns, unseen?: Array<Unseen>): Float64Array => {
  const x = inputs(linearEncoding(m), frame, unseen)
  return probabilities(m, x.dense, frame.rows, x.impute, x.oneHot)
}

/**
 * Each feature's contribution to each row's log-odds, in the encoding's feature order (a
 * categorical feature's one-hot columns summed), and the base they add to.
 */
export const linearContributions = (m: LogisticArtifact, frame: FrameColumns) => {
  const encoding = linearEncoding(m)
  const x = inputs(encoding, frame)
  const { base, contributions: terms } = contributions(m, x.dense, frame.rows, x.impute, x.oneHot)
  // the terms come dense first, then one-hot: back to feature order
  const numeric = encoding.filter((e) => e.kind === "numeric").map((e) => e.name)
  const categorical = encoding.filter((e) => e.kind === "categorical").map((e) => e.name)
  const order = [...numeric, ...categorical]
  return { base, features: encoding.map((e) => e.name), contributions: encoding.map((e) => terms[order.indexOf(e.name)]!) }
}

export interface LinearFit {
  readonly encoding: ReadonlyArray<FeatureEncoding>
  /** the encoded columns' names: numeric features, then one-hot columns */
  readonly columns: ReadonlyArray<string>
  readonly fitted: FittedModel
}

/**
 * Fit on a training frame. The frame's numeric columns are imputed in place: the frame
 * belongs to the fit from here on (no second copy of the data).
 */
export const fitLinear = (frame: Frame, options: FitOptions): LinearFit => {
  const encoding = learnEncoding(frame)
  const x = inputs(encoding, frame)
  // the solver reads no NaN: the numeric columns imputed in place
  const dense = x.dense.map((col, j) => imputedColumn(col, x.impute[j]!, true))
  const fitted = fit(dense, frame.target, options, x.oneHot)
  const columns = [
    ...encoding.filter((e) => e.kind === "numeric").map((e) => e.name),
    ...encoding.flatMap((e) => (e.kind === "categorical" ? oneHotNames(e) : []))
  ]
  return { encoding, columns, fitted }
}
