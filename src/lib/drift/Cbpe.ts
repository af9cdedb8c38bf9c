/**
 * Confidence-based performance estimation (NannyML's CBPE), without labels: with calibrated
 * probabilities p (P(y = 1 | p) = p), a row predicted 1 is a true positive with probability
 * p and a false positive with 1 − p; a row predicted 0 is a false negative with p and a true
 * negative with 1 − p. Summed over a window, that is the expected confusion matrix, and
 * from it the expected precision, recall and F1 (NannyML's formulas). The expected ROC AUC
 * takes each row as p of a positive and 1 − p of a negative and integrates the expected ROC
 * curve (rows sorted by p, ties as one step, trapezoids).
 *
 * The SQL in services/Monitor computes the same sums over the prediction log; these pure
 * functions are its reference (and are tested against it). Pure.
 */
import type { WindowMetrics } from "../../domain/Monitoring.js"

export interface ExpectedConfusion {
  readonly tp: number
  readonly fp: number
  readonly fn: number
  readonly tn: number
}

/** a / b, 0 where b is 0 (scikit-learn's zero_division) */
const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b)

/** The expected confusion matrix of calibrated probabilities and the predictions made from them. */
export const expectedConfusion = (calibrated: ArrayLike<number>, predictions: ArrayLike<number>): ExpectedConfusion => {
  let tp = 0, fp = 0, fn = 0, tn = 0
  for (let i = 0; i < calibrated.length; i++) {
    const p = calibrated[i]!
    if (predictions[i] === 1) { tp += p; fp += 1 - p } else { fn += p; tn += 1 - p }
  }
  return { tp, fp, fn, tn }
}

/** Precision, recall and F1 of class 1 from a (possibly expected) confusion matrix. */
export const metricsOf = (c: ExpectedConfusion) => {
  const precision = ratio(c.tp, c.tp + c.fp)
  const recall = ratio(c.tp, c.tp + c.fn)
  return { precision, recall, f1: ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn) }
}

/**
 * The expected ROC AUC: points (Σ(1 − p), Σp) over the rows with a probability at least
 * each distinct value, from the highest down, normalised; the area by trapezoids. Null when
 * Σp or Σ(1 − p) is 0.
 */
export const estimatedRocAuc = (calibrated: ArrayLike<number>): number | null => {
  const n = calibrated.length
  const sorted = Float64Array.from(calibrated).sort().reverse()
  let totalP = 0
  for (let i = 0; i < n; i++) totalP += sorted[i]!
  const totalN = n - totalP
  if (!(totalP > 0) || !(totalN > 0)) return null
  let tp = 0, fp = 0, area = 0
  for (let i = 0; i < n;) {
    let dp = 0, dn = 0
    const v = sorted[i]!
    while (i < n && sorted[i] === v) { dp += sorted[i]!; dn += 1 - sorted[i]!; i++ }
    area += (dn / totalN) * ((tp + tp + dp) / (2 * totalP))
    tp += dp
    fp += dn
  }
  return area
}

/** CBPE's estimate for one window. */
export const estimate = (calibrated: ArrayLike<number>, predictions: ArrayLike<number>): WindowMetrics => ({
  ...metricsOf(expectedConfusion(calibrated, predictions)),
  rocAuc: estimatedRocAuc(calibrated)
})
