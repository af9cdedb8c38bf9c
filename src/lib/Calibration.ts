/**
 * Probability calibration on rows held out of training, for performance estimation without
 * labels (CBPE): the expected confusion matrix is only as right as P(y = 1 | p) = p.
 *
 * - **Isotonic regression** (pool-adjacent-violators, scikit-learn's `IsotonicRegression`
 *   with `out_of_bounds="clip"`: linear between its knots, flat outside) when the held-out
 *   rows number at least ISOTONIC_MIN_ROWS. It is what NannyML's CBPE uses: it assumes only
 *   that the true probability rises with the score, so it corrects any monotone distortion
 *   (over-confident trees, a shifted intercept).
 * - **Platt scaling** (a sigmoid of the log-odds, fitted by Newton's method on Platt's
 *   smoothed targets, as scikit-learn's `_sigmoid_calibration`) on fewer rows, where
 *   isotonic steps would follow the noise: two parameters are stable on a few dozen rows.
 * - None below PLATT_MIN_ROWS held-out rows, or with one class: the raw probabilities stand.
 *
 * Pure; learner-agnostic (the learner's fit-and-predict is passed in).
 */
import type { Calibration } from "../domain/Monitoring.js"

export const ISOTONIC_MIN_ROWS = 1000
export const PLATT_MIN_ROWS = 20

const brier = (p: ArrayLike<number>, y: ArrayLike<number>) => {
  let s = 0
  for (let i = 0; i < p.length; i++) s += (p[i]! - y[i]!) ** 2
  return p.length === 0 ? Number.NaN : s / p.length
}

const clamp01 = (p: number) => Math.min(1 - 1e-12, Math.max(1e-12, p))
const logit = (p: number) => {
  const q = clamp01(p)
  return Math.log(q / (1 - q))
}

/** Pool-adjacent-violators on (x, y) sorted by x, equal x merged first; returns the knots. */
export const isotonicKnots = (probabilities: ArrayLike<number>, labels: ArrayLike<number>): { x: Array<number>; y: Array<number> } => {
  const n = probabilities.length
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => probabilities[a]! - probabilities[b]!)
  // blocks: [xMin, xMax, sum of y, weight]
  const xMin: Array<number> = []
  const xMax: Array<number> = []
  const sum: Array<number> = []
  const weight: Array<number> = []
  for (const i of order) {
    const x = probabilities[i]!
    const y = labels[i]!
    const last = xMin.length - 1
    if (last >= 0 && xMax[last] === x) {
      sum[last] = sum[last]! + y
      weight[last] = weight[last]! + 1
    } else {
      xMin.push(x); xMax.push(x); sum.push(y); weight.push(1)
    }
    // pool while the newest block's mean is below its predecessor's
    while (xMin.length > 1) {
      const k = xMin.length - 1
      if (sum[k - 1]! / weight[k - 1]! <= sum[k]! / weight[k]!) break
      sum[k - 1] = sum[k - 1]! + sum[k]!
      weight[k - 1] = weight[k - 1]! + weight[k]!
      xMax[k - 1] = xMax[k]!
      xMin.pop(); xMax.pop(); sum.pop(); weight.pop()
    }
  }
  const kx: Array<number> = []
  const ky: Array<number> = []
  for (let k = 0; k < xMin.length; k++) {
    const v = sum[k]! / weight[k]!
    kx.push(xMin[k]!); ky.push(v)
    if (xMax[k]! !== xMin[k]!) { kx.push(xMax[k]!); ky.push(v) }
  }
  return { x: kx, y: ky }
}

/** Platt's sigmoid p' = σ(a·logit(p) + b), by Newton's method on the smoothed targets. */
export const plattParameters = (probabilities: ArrayLike<number>, labels: ArrayLike<number>): { a: number; b: number } => {
  const n = probabilities.length
  let positives = 0
  for (let i = 0; i < n; i++) if (labels[i] === 1) positives++
  const hi = (positives + 1) / (positives + 2)
  const lo = 1 / (n - positives + 2)
  const f = Float64Array.from({ length: n }, (_, i) => logit(probabilities[i]!))
  const t = Float64Array.from({ length: n }, (_, i) => (labels[i] === 1 ? hi : lo))
  let a = 1
  let b = 0
  for (let it = 0; it < 100; it++) {
    let ga = 0, gb = 0, haa = 1e-12, hab = 0, hbb = 1e-12
    for (let i = 0; i < n; i++) {
      const p = 1 / (1 + Math.exp(-(a * f[i]! + b)))
      const d = p - t[i]!
      const w = p * (1 - p)
      ga += d * f[i]!; gb += d
      haa += w * f[i]! * f[i]!; hab += w * f[i]!; hbb += w
    }
    const det = haa * hbb - hab * hab
    if (!(Math.abs(det) > 0)) break
    const da = (hbb * ga - hab * gb) / det
    const db = (haa * gb - hab * ga) / det
    a -= da
    b -= db
    if (Math.abs(da) < 1e-10 && Math.abs(db) < 1e-10) break
  }
  return { a, b }
}

/** One probability through a calibration (the identity without one). */
export const calibrate = (c: Calibration | undefined, p: number): number => {
  if (c === undefined || Number.isNaN(p)) return p
  if (c.method === "platt") return 1 / (1 + Math.exp(-(c.a * logit(p) + c.b)))
  const { x, y } = c
  if (p <= x[0]!) return y[0]!
  if (p >= x[x.length - 1]!) return y[y.length - 1]!
  let lo = 0
  let hi = x.length - 1
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1
    if (x[mid]! <= p) lo = mid
    else hi = mid
  }
  return x[hi] === x[lo] ? y[hi]! : y[lo]! + ((p - x[lo]!) * (y[hi]! - y[lo]!)) / (x[hi]! - x[lo]!)
}

export const calibrateAll = (c: Calibration | undefined, p: ArrayLike<number>): Float64Array =>
  Float64Array.from({ length: p.length }, (_, i) => calibrate(c, p[i]!))

/**
 * The calibration of `probabilities` (a model's, on rows it was not trained on) against
 * their 0/1 `labels`: isotonic on many rows, Platt on few, none on too few or one class.
 */
export const fitCalibration = (probabilities: ArrayLike<number>, labels: ArrayLike<number>): Calibration | undefined => {
  const n = probabilities.length
  let positives = 0
  for (let i = 0; i < n; i++) if (labels[i] === 1) positives++
  if (n < PLATT_MIN_ROWS || positives === 0 || positives === n) return undefined
  const before = brier(probabilities, labels)
  if (n >= ISOTONIC_MIN_ROWS) {
    const { x, y } = isotonicKnots(probabilities, labels)
    const c: Calibration = { method: "isotonic", x, y, rows: n, brierBefore: before, brierAfter: 0 }
    return { ...c, brierAfter: brier(calibrateAll(c, probabilities), labels) }
  }
  const { a, b } = plattParameters(probabilities, labels)
  const c: Calibration = { method: "platt", a, b, rows: n, brierBefore: before, brierAfter: 0 }
  return { ...c, brierAfter: brier(calibrateAll(c, probabilities), labels) }
}

/** the held-out share of the training rows, and the caps that keep the extra fit cheap */
export const HOLDOUT_SHARE = 0.2
export const HOLDOUT_MAX_ROWS = 25_000
export const CALIBRATION_FIT_MAX_ROWS = 100_000

/**
 * The rows to calibrate on and the rows to fit a twin on: a fixed pseudo-random fifth of the
 * rows (at most HOLDOUT_MAX_ROWS) held out, and at most CALIBRATION_FIT_MAX_ROWS of the rest;
 * undefined when too few rows would be held out.
 */
export const heldOutSplit = (n: number): { readonly fit: Uint32Array; readonly heldOut: Uint32Array } | undefined => {
  const heldOutRows = Math.min(HOLDOUT_MAX_ROWS, Math.floor(n * HOLDOUT_SHARE))
  if (heldOutRows < PLATT_MIN_ROWS) return undefined
  // a fixed pseudo-random order of the rows (Weyl sequence): no periodic pattern of the file's order
  const held = new Uint8Array(n)
  const share = heldOutRows / n
  let k = 0
  for (let i = 0; i < n && k < heldOutRows; i++) {
    if (((i * 0.6180339887498949) % 1) < share) { held[i] = 1; k++ }
  }
  const rest = n - k
  const step = Math.max(1, Math.ceil(rest / CALIBRATION_FIT_MAX_ROWS))
  const fit: Array<number> = []
  const heldOut: Array<number> = []
  let r = 0
  for (let i = 0; i < n; i++) {
    if (held[i] === 1) heldOut.push(i)
    else if (r++ % step === 0) fit.push(i)
  }
  return { fit: Uint32Array.from(fit), heldOut: Uint32Array.from(heldOut) }
}

/**
 * Calibration on held-out rows (see `heldOutSplit`): the learner is fitted on the fit rows,
 * predicts the held-out ones, and `fitCalibration` maps those predictions to the labels. The
 * model that is deployed is still fitted on every row; its calibration is the one of its twin
 * fitted without the held-out rows (scikit-learn's `CalibratedClassifierCV(ensemble=False)`
 * does the same with cross-validation). NaN features stay NaN (the learner imputes).
 */
export const heldOutCalibration = (
  features: ReadonlyArray<Float64Array>,
  target: ArrayLike<number>,
  fitPredict: (train: { features: Array<Float64Array>; target: Float64Array; rows: number }, heldOut: { features: Array<Float64Array>; rows: number }) => Float64Array
): Calibration | undefined => {
  const split = heldOutSplit(target.length)
  if (split === undefined) return undefined
  const pick = (idx: Uint32Array) => features.map((col) => Float64Array.from(idx, (i) => col[i]!))
  const p = fitPredict(
    { features: pick(split.fit), target: Float64Array.from(split.fit, (i) => target[i]!), rows: split.fit.length },
    { features: pick(split.heldOut), rows: split.heldOut.length }
  )
  return fitCalibration(p, Float64Array.from(split.heldOut, (i) => target[i]!))
}
