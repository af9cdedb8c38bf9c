/** Descriptive statistics and classification metrics, pure functions. */

export const mean = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return Number.NaN
  let s = 0
  for (const x of xs) s += x
  return s / xs.length
}

/** Sample standard deviation (ddof = 1), as pandas' `Series.std()`. */
export const std = (xs: ReadonlyArray<number>): number => {
  if (xs.length < 2) return Number.NaN
  const m = mean(xs)
  let ss = 0
  for (const x of xs) ss += (x - m) * (x - m)
  return Math.sqrt(ss / (xs.length - 1))
}

/** Population standard deviation (ddof = 0), as numpy's `np.std`: the reference's parametric drift test. */
export const stdPopulation = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return Number.NaN
  const m = mean(xs)
  let ss = 0
  for (const x of xs) ss += (x - m) * (x - m)
  return Math.sqrt(ss / xs.length)
}

/** Linear-interpolation quantile, as numpy's default `percentile`. */
export const quantile = (xs: ReadonlyArray<number>, q: number): number => {
  if (xs.length === 0) return Number.NaN
  const sorted = Float64Array.from(xs).sort()
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo)
}

export const median = (xs: ReadonlyArray<number>): number => quantile(xs, 0.5)

/** [[tn, fp], [fn, tp]]: rows are the true class, columns the predicted one (scikit-learn's layout). */
export type ConfusionMatrix = readonly [readonly [number, number], readonly [number, number]]

export const confusionMatrix = (actual: ArrayLike<number>, predicted: ArrayLike<number>): ConfusionMatrix => {
  if (actual.length !== predicted.length) {
    throw new Error(`confusion matrix needs equal lengths, got ${actual.length} and ${predicted.length}`)
  }
  let tn = 0, fp = 0, fn = 0, tp = 0
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] === 1
    const p = predicted[i] === 1
    if (a && p) tp++
    else if (a) fn++
    else if (p) fp++
    else tn++
  }
  return [[tn, fp], [fn, tp]]
}

/**
 * F1 of the positive class as the harmonic mean of precision and recall
 * (the reference system's scikit-learn formula, bit for bit); 0 where
 * precision or recall is undefined or zero.
 */
export const f1FromMatrix = (cm: ConfusionMatrix): number => {
  const tp = cm[1][1]
  const precision = tp + cm[0][1] === 0 ? 0 : tp / (tp + cm[0][1])
  const recall = tp + cm[1][0] === 0 ? 0 : tp / (tp + cm[1][0])
  return precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall)
}

export const f1Score = (actual: ArrayLike<number>, predicted: ArrayLike<number>): number =>
  f1FromMatrix(confusionMatrix(actual, predicted))
