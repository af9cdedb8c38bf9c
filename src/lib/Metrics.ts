/** Classification metrics as scikit-learn computes them, on label and probability columns. Pure. */
import { radixSortInPlace } from "./Sort.js"

export interface ClassMetrics {
  readonly precision: number
  readonly recall: number
  readonly f1: number
  readonly support: number
}

export interface ClassificationReport {
  /** per class, keyed by the label ("0", "1") */
  readonly perClass: Readonly<Record<string, ClassMetrics>>
  readonly accuracy: number
  readonly macroAvg: ClassMetrics
  readonly weightedAvg: ClassMetrics
}

/** a / b, or 0 where b is 0 (scikit-learn's default zero_division, without its warning) */
const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b)

/** F1 as the harmonic mean of precision and recall, the reference system's formula bit for bit. */
const harmonic = (p: number, r: number) => (p + r === 0 ? 0 : (2 * p * r) / (p + r))

/**
 * scikit-learn's `classification_report(actual, predicted, output_dict=True)`: precision,
 * recall, F1 and support per class, accuracy, and the macro and support-weighted averages.
 * `labels` defaults to the sorted labels present in either column; `names` keys each class
 * (by default its number), e.g. by the label text the data uses.
 */
export const classificationReport = (
  actual: ArrayLike<number>,
  predicted: ArrayLike<number>,
  labels?: ReadonlyArray<number>,
  names?: ReadonlyArray<string>
): ClassificationReport => {
  const n = actual.length
  if (predicted.length !== n) throw new Error(`classification report needs equal lengths, got ${n} and ${predicted.length}`)
  const classes = labels ?? presentLabels(actual, predicted)
  let correct = 0
  for (let i = 0; i < n; i++) if (actual[i] === predicted[i]) correct++
  const perClass: Record<string, ClassMetrics> = {}
  const rows: Array<ClassMetrics> = []
  for (const [k, c] of classes.entries()) {
    let tp = 0
    let predictedC = 0
    let actualC = 0
    for (let i = 0; i < n; i++) {
      const a = actual[i] === c
      const p = predicted[i] === c
      if (a) actualC++
      if (p) predictedC++
      if (a && p) tp++
    }
    const precision = ratio(tp, predictedC)
    const recall = ratio(tp, actualC)
    const m = { precision, recall, f1: harmonic(precision, recall), support: actualC }
    perClass[names?.[k] ?? String(c)] = m
    rows.push(m)
  }
  const total = rows.reduce((s, m) => s + m.support, 0)
  const avg = (f: (m: ClassMetrics) => number) => ratio(rows.reduce((s, m) => s + f(m), 0), rows.length)
  const weighted = (f: (m: ClassMetrics) => number) => ratio(rows.reduce((s, m) => s + f(m) * m.support, 0), total)
  return {
    perClass,
    accuracy: ratio(correct, n),
    macroAvg: { precision: avg((m) => m.precision), recall: avg((m) => m.recall), f1: avg((m) => m.f1), support: total },
    weightedAvg: { precision: weighted((m) => m.precision), recall: weighted((m) => m.recall), f1: weighted((m) => m.f1), support: total }
  }
}

const presentLabels = (actual: ArrayLike<number>, predicted: ArrayLike<number>) => {
  const present = new Set<number>()
  for (let i = 0; i < actual.length; i++) {
    present.add(actual[i]!)
    present.add(predicted[i]!)
  }
  return [...present].sort((a, b) => a - b)
}

/**
 * Area under the ROC curve of a binary classifier (scikit-learn's `roc_auc_score`): the
 * Mann–Whitney statistic with tied scores counted half. Null where only one class is
 * present (scikit-learn raises an error there).
 */
export const rocAuc = (actual: ArrayLike<number>, scores: ArrayLike<number>): number | null => {
  const n = actual.length
  let positives = 0
  for (let i = 0; i < n; i++) {
    if (actual[i] === 1) positives++
    if (scores[i] !== scores[i]) return rocAucByRanks(actual, scores)
  }
  const negatives = n - positives
  if (positives === 0 || negatives === 0) return null
  // U = Σ over positives of (negatives scored lower) + ½·(negatives scored the same), from the
  // two classes' scores sorted: the rank sum less P(P+1)/2, the same half-integers added exactly
  const pos = new Float64Array(positives)
  const neg = new Float64Array(negatives)
  for (let i = 0, p = 0, q = 0; i < n; i++) {
    if (actual[i] === 1) pos[p++] = scores[i]!
    else neg[q++] = scores[i]!
  }
  radixSortInPlace(pos)
  radixSortInPlace(neg)
  let u = 0
  let below = 0
  for (let i = 0; i < positives;) {
    const s = pos[i]!
    let k = i + 1
    while (k < positives && pos[k] === s) k++
    while (below < negatives && neg[below]! < s) below++
    let same = below
    while (same < negatives && neg[same] === s) same++
    u += (k - i) * (below + (same - below) / 2)
    i = k
  }
  return u / (positives * negatives)
}

/** The same by ranks over every row (scores with NaN, whose order a sort leaves undefined). */
const rocAucByRanks = (actual: ArrayLike<number>, scores: ArrayLike<number>): number | null => {
  const n = actual.length
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!)
  let positives = 0
  let rankSum = 0
  for (let i = 0; i < n;) {
    let j = i
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++
    // ranks i+1 … j+1 share their mean
    const rank = (i + j + 2) / 2
    for (let k = i; k <= j; k++) {
      if (actual[order[k]!] === 1) {
        positives++
        rankSum += rank
      }
    }
    i = j + 1
  }
  const negatives = n - positives
  if (positives === 0 || negatives === 0) return null
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives)
}

/** float64 machine epsilon: scikit-learn's log_loss clips probabilities to [eps, 1 − eps] */
export const LOG_LOSS_EPS = 2.220446049250313e-16

/** Mean cross-entropy of binary labels under predicted P(class 1) (scikit-learn's `log_loss`). */
export const logLoss = (actual: ArrayLike<number>, probabilities: ArrayLike<number>): number => {
  const n = actual.length
  if (n === 0) return Number.NaN
  let sum = 0
  for (let i = 0; i < n; i++) {
    const p = Math.min(Math.max(probabilities[i]!, LOG_LOSS_EPS), 1 - LOG_LOSS_EPS)
    sum -= actual[i] === 1 ? Math.log(p) : Math.log(1 - p)
  }
  return sum / n
}
