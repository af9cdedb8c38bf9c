/**
 * Binary logistic regression, pure and deterministic.
 *
 * Two solvers share one artifact shape (weights in standardised feature space
 * plus the scaling that produced them):
 *
 * - "liblinear": minimises exactly the objective of scikit-learn's
 *   `LogisticRegression(solver="liblinear", C)`:
 *     0.5·‖θ_raw‖² + C·Σ log(1 + exp(−yᵢ·θ_rawᵀ[1, xᵢ]))
 *   where the intercept is part of θ_raw and is regularised too (liblinear's
 *   intercept_scaling = 1). The Newton iterations run in standardised space
 *   (well conditioned) with the penalty mapped through the scaling, so the
 *   optimum is the raw-space liblinear optimum.
 * - "gradient-descent": ml-logistic-regression (fixed-step gradient descent,
 *   no intercept, no penalty) on standardised features with an added
 *   intercept column.
 */
import { createRequire } from "node:module"

// the gradient-descent packages load only when that solver runs
const require = createRequire(import.meta.url)
const gradientDescentPackages = () => ({
  Matrix: (require("ml-matrix") as typeof import("ml-matrix")).Matrix,
  LogisticRegression: require("ml-logistic-regression") as typeof import("ml-logistic-regression").default
})

export type Solver = "liblinear" | "gradient-descent"

export interface FitOptions {
  readonly solver: Solver
  /** Inverse regularisation strength (liblinear only). */
  readonly C: number
  /** Newton tolerance on the gradient's max-norm (liblinear) */
  readonly tolerance: number
  readonly maxIterations: number
  /** gradient-descent only */
  readonly learningRate: number
  /** called after each Newton iteration (progress reporting) */
  readonly onIteration?: (iteration: number) => void
  /**
   * Standardise Float64Array columns in place instead of copying them (Newton only): for a
   * caller that owns the columns and no longer needs them, it saves one copy of the data.
   */
  readonly inPlace?: boolean
}

export const defaultFitOptions: FitOptions = {
  solver: "liblinear",
  C: 1,
  tolerance: 1e-10,
  maxIterations: 100,
  learningRate: 0.1
}

export interface FittedModel {
  readonly means: ReadonlyArray<number>
  readonly scales: ReadonlyArray<number>
  /** intercept in standardised space */
  readonly interceptStd: number
  /** weights in standardised space */
  readonly weightsStd: ReadonlyArray<number>
  /** equivalent raw-space coefficients (comparable to scikit-learn's coef_) */
  readonly coefficients: ReadonlyArray<number>
  /** equivalent raw-space intercept (scikit-learn's intercept_) */
  readonly intercept: number
  readonly iterations: number
  readonly converged: boolean
}

/** Column-major feature matrix: features[j][i] is feature j of row i. */
export type Columns = ReadonlyArray<ArrayLike<number>>

/**
 * A categorical feature, one-hot encoded without ever being expanded: row i's category is
 * codes[i] in 0…levels−1 (one indicator column per level, after the dense columns), or −1
 * for none (all its indicators 0).
 */
export interface OneHot {
  readonly codes: Int32Array
  readonly levels: number
}

/** Means and population standard deviations of the indicator columns of one-hot features (1 where constant). */
const oneHotScaling = (blocks: ReadonlyArray<OneHot>, n: number) => {
  const means: Array<number> = []
  const scales: Array<number> = []
  for (const b of blocks) {
    const counts = new Float64Array(b.levels)
    for (let i = 0; i < n; i++) {
      const k = b.codes[i]!
      if (k >= 0) counts[k] = counts[k]! + 1
    }
    for (let l = 0; l < b.levels; l++) {
      const mu = n > 0 ? counts[l]! / n : 0
      const sd = Math.sqrt(mu * (1 - mu))
      means.push(mu)
      scales.push(sd > 0 && Number.isFinite(sd) ? sd : 1)
    }
  }
  return { means, scales }
}

const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)))


export const columnScaling = (columns: Columns, n: number) => {
  const means: Array<number> = []
  const scales: Array<number> = []
  for (const col of columns) {
    let sum = 0
    for (let i = 0; i < n; i++) sum += col[i]!
    const mean = n > 0 ? sum / n : 0
    let ss = 0
    for (let i = 0; i < n; i++) {
      const d = col[i]! - mean
      ss += d * d
    }
    const sd = n > 0 ? Math.sqrt(ss / n) : 0
    means.push(mean)
    scales.push(sd > 0 && Number.isFinite(sd) ? sd : 1)
  }
  return { means, scales }
}

/** Solve A·x = b for a small dense symmetric system (Gaussian elimination, partial pivoting). */
export const solveLinear = (A: ReadonlyArray<ReadonlyArray<number>>, b: ReadonlyArray<number>): Array<number> => {
  const k = b.length
  const M = A.map((row, i) => [...row, b[i]!])
  for (let c = 0; c < k; c++) {
    let p = c
    for (let r = c + 1; r < k; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r
    if (Math.abs(M[p]![c]!) < 1e-300) throw new Error("singular system in Newton step")
    ;[M[c], M[p]] = [M[p]!, M[c]!]
    for (let r = c + 1; r < k; r++) {
      const f = M[r]![c]! / M[c]![c]!
      for (let cc = c; cc <= k; cc++) M[r]![cc]! -= f * M[c]![cc]!
    }
  }
  const x = new Array<number>(k).fill(0)
  for (let r = k - 1; r >= 0; r--) {
    let s = M[r]![k]!
    for (let cc = r + 1; cc < k; cc++) s -= M[r]![cc]! * x[cc]!
    x[r] = s / M[r]![r]!
  }
  return x
}

/** raw θ = T·θ_std, θ = [intercept, w1..wd] */
const toRaw = (thetaStd: ReadonlyArray<number>, means: ReadonlyArray<number>, scales: ReadonlyArray<number>) => {
  const d = means.length
  const w = new Array<number>(d)
  let b = thetaStd[0]!
  for (let j = 0; j < d; j++) {
    w[j] = thetaStd[j + 1]! / scales[j]!
    b -= (thetaStd[j + 1]! * means[j]!) / scales[j]!
  }
  return { intercept: b, coefficients: w }
}

// The loops of the Newton solver's pass over a block of rows: small functions, so that they
// are optimised after a few blocks (one large loop nest would run unoptimised until
// on-stack replacement, in every pass).

/** z[i] += t·x[off + i] */
const addScaled = (z: Float64Array, x: Float64Array, off: number, t: number, m: number) => {
  for (let i = 0; i < m; i++) z[i] = z[i]! + t * x[off + i]!
}

/**
 * The logistic loss of the margins z against y[off…] (unpenalised), and C·(p − y) and
 * C·p·(1 − p) into r and w. softplus(z) = max(z, 0) + log(1 + e) with e = exp(−|z|): the logs
 * of (1 + e), each in (1, 2], are summed as one log of their product per 512 rows (a product
 * that cannot overflow), and the same e gives the probability.
 */
const lossAndWeights = (z: Float64Array, y: Float64Array, off: number, m: number, C: number, r: Float64Array, w: Float64Array) => {
  let loss = 0
  let product = 1
  for (let i = 0; i < m; i++) {
    const zi = z[i]!
    const yi = y[off + i]!
    const e = Math.exp(-Math.abs(zi))
    const onePlus = 1 + e
    loss += (zi > 0 ? zi : 0) - yi * zi
    product *= onePlus
    if ((i & 511) === 511) {
      loss += Math.log(product)
      product = 1
    }
    const p = zi >= 0 ? 1 / onePlus : e / onePlus
    r[i] = C * (p - yi)
    w[i] = C * p * (1 - p)
  }
  return loss + Math.log(product)
}

/** s + Σ v[i] */
const sumFrom = (s: number, v: Float64Array, m: number) => {
  for (let i = 0; i < m; i++) s += v[i]!
  return s
}

/** s + Σ v[i]·x[off + i] */
const dotFrom = (s: number, v: Float64Array, x: Float64Array, off: number, m: number) => {
  for (let i = 0; i < m; i++) s += v[i]! * x[off + i]!
  return s
}

/** s + Σ (w[i]·a[off + i])·b[off + i] */
const weightedDotFrom = (s: number, w: Float64Array, a: Float64Array, b: Float64Array, off: number, m: number) => {
  for (let i = 0; i < m; i++) s += (w[i]! * a[off + i]!) * b[off + i]!
  return s
}

/** sums[codes[off + i]] += v[i], for rows with a category */
const sumByCode = (sums: Float64Array, codes: Int32Array, v: Float64Array, off: number, m: number) => {
  for (let i = 0; i < m; i++) {
    const k = codes[off + i]!
    if (k >= 0) sums[k] = sums[k]! + v[i]!
  }
}

/** sums[codes[off + i]·stride + a] += w[i]·x[off + i]: a dense column's weighted sums per category */
const weightedSumByCode = (sums: Float64Array, codes: Int32Array, w: Float64Array, x: Float64Array, off: number, m: number, stride: number, a: number) => {
  for (let i = 0; i < m; i++) {
    const k = codes[off + i]!
    if (k >= 0) sums[k * stride + a] = sums[k * stride + a]! + w[i]! * x[off + i]!
  }
}

/** sums[ca[off + i]·lb + cb[off + i]] += w[i]: the weights of each pair of categories of two features */
const sumByCodePair = (sums: Float64Array, ca: Int32Array, cb: Int32Array, lb: number, w: Float64Array, off: number, m: number) => {
  for (let i = 0; i < m; i++) {
    const x = ca[off + i]!
    const y = cb[off + i]!
    if (x >= 0 && y >= 0) sums[x * lb + y] = sums[x * lb + y]! + w[i]!
  }
}

/** z[i] += t[codes[off + i]] for rows with a category */
const addByCode = (z: Float64Array, codes: Int32Array, t: Float64Array, off: number, m: number) => {
  for (let i = 0; i < m; i++) {
    const k = codes[off + i]!
    if (k >= 0) z[i] = z[i]! + t[k]!
  }
}

const fitNewton = (
  columns: Columns,
  y: ArrayLike<number>,
  n: number,
  means: ReadonlyArray<number>,
  scales: ReadonlyArray<number>,
  options: FitOptions,
  oneHot: ReadonlyArray<OneHot> = []
) => {
  // parameters: the intercept, the dense columns, then each one-hot feature's indicators
  const d = columns.length
  const e = oneHot.reduce((s, b) => s + b.levels, 0)
  const k = d + e + 1
  const firstOf = oneHot.map((_, f) => 1 + d + oneHot.slice(0, f).reduce((s, b) => s + b.levels, 0))
  // T maps standardised parameters to raw ones; the penalty is 0.5·θᵀ(TᵀT)θ.
  const T: Array<Array<number>> = Array.from({ length: k }, () => new Array<number>(k).fill(0))
  T[0]![0] = 1
  for (let j = 0; j < d + e; j++) {
    T[0]![j + 1] = -means[j]! / scales[j]!
    T[j + 1]![j + 1] = 1 / scales[j]!
  }
  const P: Array<Array<number>> = Array.from({ length: k }, (_, a) =>
    Array.from({ length: k }, (_, b) => {
      let s = 0
      for (let r = 0; r < k; r++) s += T[r]![a]! * T[r]![b]!
      return s
    })
  )
  const C = options.C
  const xs = columns.map((col) => (options.inPlace === true && col instanceof Float64Array ? col : new Float64Array(n)))
  for (let j = 0; j < d; j++) {
    const col = columns[j]!
    const m = means[j]!
    const s = scales[j]!
    const out = xs[j]!
    for (let i = 0; i < n; i++) out[i] = (col[i]! - m) / s
  }
  const yv = y instanceof Float64Array ? y : Float64Array.from({ length: n }, (_, i) => y[i]!)
  // Rows are processed in blocks that stay in the CPU cache: for each block the margins,
  // then one exp per row for the loss and the probability, then the gradient and the upper
  // triangle of the Hessian summed column pair by column pair. Every sum but the loss's runs
  // over the rows in order, so the result does not depend on the block size.
  const BLOCK = 2048
  const zb = new Float64Array(BLOCK)
  const rb = new Float64Array(BLOCK)
  const wb = new Float64Array(BLOCK)
  const tri = (k * (k + 1)) / 2
  // the dense part: the intercept and the dense columns (k0 parameters)
  const k0 = d + 1
  /** the flat index of the Hessian's entry (a, b), a ≤ b, in `acc` */
  const at = (a: number, b: number) => k + a * k - (a * (a - 1)) / 2 + (b - a)
  // one-hot sums per block of rows (see `oneHotTerms`): r and w by category, the dense
  // columns' weighted sums by category, and the weights of each pair of categories of two features
  const rBy = oneHot.map((b) => new Float64Array(b.levels))
  const wBy = oneHot.map((b) => new Float64Array(b.levels))
  const xBy = oneHot.map((b) => new Float64Array(b.levels * d))
  const pairBy = oneHot.map((b, f) => oneHot.slice(f + 1).map((c) => new Float64Array(b.levels * c.levels)))
  /**
   * The one-hot parameters' gradient and Hessian entries in standardised space, from sums
   * over the raw indicators: with u = (1[code = l] − μ)/σ, Σ r·u = (R_l − μ·Σr)/σ, and so on.
   * The dense part of `acc` (already summed) gives Σr, Σw and Σ w·x.
   */
  const oneHotTerms = (acc: Float64Array) => {
    const sumR = acc[0]!
    const sumW = acc[at(0, 0)]!
    for (let f = 0; f < oneHot.length; f++) {
      const L = oneHot[f]!.levels
      const p = firstOf[f]!
      for (let l = 0; l < L; l++) {
        const pa = p + l
        const mu = means[pa - 1]!
        const sd = scales[pa - 1]!
        const W = wBy[f]![l]!
        acc[pa] = (rBy[f]![l]! - mu * sumR) / sd
        acc[at(0, pa)] = (W - mu * sumW) / sd
        for (let a = 1; a < k0; a++) acc[at(a, pa)] = (xBy[f]![l * d + a - 1]! - mu * acc[at(0, a)]!) / sd
        for (let l2 = l; l2 < L; l2++) {
          const mu2 = means[p + l2 - 1]!
          const W2 = wBy[f]![l2]!
          acc[at(pa, p + l2)] = ((l2 === l ? W : 0) - mu2 * W - mu * W2 + mu * mu2 * sumW) / (sd * scales[p + l2 - 1]!)
        }
        for (let g = f + 1; g < oneHot.length; g++) {
          const M = oneHot[g]!.levels
          const q = firstOf[g]!
          const pairs = pairBy[f]![g - f - 1]!
          for (let m2 = 0; m2 < M; m2++) {
            const mu2 = means[q + m2 - 1]!
            acc[at(pa, q + m2)] = (pairs[l * M + m2]! - mu2 * W - mu * wBy[g]![m2]! + mu * mu2 * sumW) / (sd * scales[q + m2 - 1]!)
          }
        }
      }
    }
  }
  // per one-hot feature: theta_l / σ_l by category, and the margin's constant part −Σ theta_l·μ_l/σ_l
  const byCode = oneHot.map((b) => new Float64Array(b.levels))
  /**
   * The objective at theta; its gradient and Hessian (upper triangle, flat, without the
   * penalty) are summed into `acc` on the way: they serve the next Newton step when the
   * line search accepts theta.
   */
  const evaluate = (theta: ReadonlyArray<number>, acc: Float64Array) => {
    acc.fill(0)
    let t0 = theta[0]!
    for (let f = 0; f < oneHot.length; f++) {
      for (let l = 0; l < oneHot[f]!.levels; l++) {
        const pa = firstOf[f]! + l
        byCode[f]![l] = theta[pa]! / scales[pa - 1]!
        t0 -= (theta[pa]! * means[pa - 1]!) / scales[pa - 1]!
      }
      rBy[f]!.fill(0)
      wBy[f]!.fill(0)
      xBy[f]!.fill(0)
      for (const pairs of pairBy[f]!) pairs.fill(0)
    }
    let loss = 0
    for (let start = 0; start < n; start += BLOCK) {
      const m = Math.min(BLOCK, n - start)
      zb.fill(t0, 0, m)
      for (let j = 0; j < d; j++) addScaled(zb, xs[j]!, start, theta[j + 1]!, m)
      for (let f = 0; f < oneHot.length; f++) addByCode(zb, oneHot[f]!.codes, byCode[f]!, start, m)
      loss += lossAndWeights(zb, yv, start, m, C, rb, wb)
      // a = 0 is the intercept's column of ones
      acc[0] = sumFrom(acc[0]!, rb, m)
      acc[k] = sumFrom(acc[k]!, wb, m)
      for (let b = 1; b < k0; b++) acc[k + b] = dotFrom(acc[k + b]!, wb, xs[b - 1]!, start, m)
      for (let a = 1; a < k0; a++) {
        const xa = xs[a - 1]!
        acc[a] = dotFrom(acc[a]!, rb, xa, start, m)
        let idx = at(a, a)
        for (let b = a; b < k0; b++) {
          acc[idx] = weightedDotFrom(acc[idx]!, wb, xa, xs[b - 1]!, start, m)
          idx++
        }
      }
      for (let f = 0; f < oneHot.length; f++) {
        const codes = oneHot[f]!.codes
        sumByCode(rBy[f]!, codes, rb, start, m)
        sumByCode(wBy[f]!, codes, wb, start, m)
        for (let a = 0; a < d; a++) weightedSumByCode(xBy[f]!, codes, wb, xs[a]!, start, m, d, a)
        for (let g = f + 1; g < oneHot.length; g++) sumByCodePair(pairBy[f]![g - f - 1]!, codes, oneHot[g]!.codes, oneHot[g]!.levels, wb, start, m)
      }
    }
    if (oneHot.length > 0) oneHotTerms(acc)
    let pen = 0
    for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) pen += theta[a]! * P[a]![b]! * theta[b]!
    return 0.5 * pen + C * loss
  }
  // the sums at theta, and at the point the line search is trying
  let acc = new Float64Array(k + tri)
  let trial = new Float64Array(k + tri)
  let theta = new Array<number>(k).fill(0)
  let f = evaluate(theta, acc)
  let iterations = 0
  let converged = false
  while (iterations < options.maxIterations) {
    iterations++
    options.onIteration?.(iterations)
    const g = new Array<number>(k)
    const H: Array<Array<number>> = Array.from({ length: k }, () => new Array<number>(k).fill(0))
    let idx = k
    for (let a = 0; a < k; a++) {
      g[a] = acc[a]!
      for (let b = a; b < k; b++) H[a]![b] = acc[idx++]!
    }
    for (let a = 0; a < k; a++) {
      for (let b = 0; b < k; b++) {
        g[a]! += P[a]![b]! * theta[b]!
        if (b >= a) H[a]![b]! += P[a]![b]!
      }
      for (let b = 0; b < a; b++) H[a]![b] = H[b]![a]!
    }
    const gmax = Math.max(...g.map(Math.abs))
    if (gmax <= options.tolerance * Math.max(1, C * n)) {
      converged = true
      break
    }
    const step = solveLinear(H, g)
    // The decrease the Newton step promises (half the squared Newton decrement). Once it is
    // below what the summed objective can resolve, comparing objective values only compares
    // rounding noise (the line search would halve the step dozens of times for nothing):
    // the quadratic model is exact there, so take the full step and stop.
    let decrement = 0
    for (let a = 0; a < k; a++) decrement += g[a]! * step[a]!
    if (decrement / 2 <= 1e-12 * Math.max(1, Math.abs(f))) {
      theta = theta.map((v, a) => v - step[a]!)
      converged = true
      break
    }
    // backtracking line search keeps every step a descent step
    let t = 1
    let next = theta
    let fNext = f
    for (let ls = 0; ls < 50; ls++) {
      next = theta.map((v, a) => v - t * step[a]!)
      fNext = evaluate(next, trial)
      if (fNext <= f) break
      t /= 2
    }
    const change = Math.abs(f - fNext)
    theta = next
    f = fNext
    ;[acc, trial] = [trial, acc]
    if (change <= 1e-15 * Math.max(1, Math.abs(f))) {
      converged = true
      break
    }
  }
  return { theta, iterations, converged }
}

const fitGradientDescent = (
  columns: Columns,
  y: ArrayLike<number>,
  n: number,
  means: ReadonlyArray<number>,
  scales: ReadonlyArray<number>,
  options: FitOptions
) => {
  const { LogisticRegression, Matrix } = gradientDescentPackages()
  const d = columns.length
  const X = new Matrix(n, d + 1)
  const Y = new Matrix(n, 1)
  for (let i = 0; i < n; i++) {
    X.set(i, 0, 1)
    for (let j = 0; j < d; j++) X.set(i, j + 1, (columns[j]![i]! - means[j]!) / scales[j]!)
    Y.set(i, 0, y[i]!)
  }
  // The package sums (not averages) the gradient, so the step is scaled by 1/n.
  const lr = new LogisticRegression({ numSteps: options.maxIterations, learningRate: options.learningRate / n })
  lr.train(X, Y)
  // It trains one-vs-rest with classes 0..k-1, and classifier i scores P(y ≠ i):
  // classifier 0 therefore scores P(y = 1), also when only one class is present.
  const theta = lr.classifiers[0]!.weights.to1DArray()
  return { theta, iterations: options.maxIterations, converged: true }
}

/**
 * Fit on dense columns and, with the Newton solver, one-hot encoded categorical features;
 * the model's columns are the dense ones, then each one-hot feature's indicators.
 */
export const fit = (columns: Columns, y: ArrayLike<number>, options: FitOptions = defaultFitOptions, oneHot: ReadonlyArray<OneHot> = []): FittedModel => {
  const n = y.length
  if (n === 0) throw new Error("cannot fit a model on zero rows")
  if (oneHot.length > 0 && options.solver === "gradient-descent") throw new Error("the gradient-descent solver takes numeric features only; use liblinear")
  const dense = columnScaling(columns, n)
  const indicators = oneHotScaling(oneHot, n)
  const means = [...dense.means, ...indicators.means]
  const scales = [...dense.scales, ...indicators.scales]
  const { theta, iterations, converged } = options.solver === "gradient-descent"
    ? fitGradientDescent(columns, y, n, means, scales, options)
    : fitNewton(columns, y, n, means, scales, options, oneHot)
  const raw = toRaw(theta, means, scales)
  return {
    means,
    scales,
    interceptStd: theta[0]!,
    weightsStd: theta.slice(1),
    coefficients: raw.coefficients,
    intercept: raw.intercept,
    iterations,
    converged
  }
}

export interface LinearParams {
  readonly means: ReadonlyArray<number>
  readonly scales: ReadonlyArray<number>
  readonly interceptStd: number
  readonly weightsStd: ReadonlyArray<number>
}

export const probability = (m: LinearParams, x: ReadonlyArray<number>): number => {
  let z = m.interceptStd
  for (let j = 0; j < m.weightsStd.length; j++) z += (m.weightsStd[j]! * (x[j]! - m.means[j]!)) / m.scales[j]!
  return sigmoid(z)
}

export const predict = (m: LinearParams, x: ReadonlyArray<number>): 0 | 1 => (probability(m, x) > 0.5 ? 1 : 0)

/**
 * Each column's term of the margin (log-odds) for `n` rows, in standardised space: the
 * margin is interceptStd plus the terms. A dense column j gives w_j·(x − μ_j)/σ_j, a NaN
 * value (missing) replaced by `impute[j]`; a one-hot feature the sum over its indicators,
 * θ_l·(1[code = l] − μ_l)/σ_l. `add` receives each term array with its feature's index
 * (dense columns first, then the one-hot features).
 */
const marginTerms = (
  m: LinearParams, dense: Columns, n: number, impute: ReadonlyArray<number> | undefined, oneHot: ReadonlyArray<OneHot>,
  add: (feature: number, term: Float64Array) => void
) => {
  const d = dense.length
  const term = new Float64Array(n)
  for (let j = 0; j < d; j++) {
    const col = dense[j]!
    const w = m.weightsStd[j]! / m.scales[j]!
    const mu = m.means[j]!
    const fill = impute?.[j] ?? Number.NaN
    for (let i = 0; i < n; i++) {
      const v = col[i]!
      term[i] = w * ((v === v ? v : fill) - mu)
    }
    add(j, term)
  }
  let p = d
  for (const [f, b] of oneHot.entries()) {
    let constant = 0
    const byCode = new Float64Array(b.levels)
    for (let l = 0; l < b.levels; l++) {
      const w = m.weightsStd[p + l]! / m.scales[p + l]!
      constant -= w * m.means[p + l]!
      byCode[l] = w
    }
    for (let i = 0; i < n; i++) {
      const c = b.codes[i]!
      term[i] = c >= 0 ? constant + byCode[c]! : constant
    }
    add(d + f, term)
    p += b.levels
  }
}

/** The margin (log-odds) of each of `n` rows: see `marginTerms`. */
export const margins = (m: LinearParams, dense: Columns, n: number, impute?: ReadonlyArray<number>, oneHot: ReadonlyArray<OneHot> = []): Float64Array => {
  const z = new Float64Array(n).fill(m.interceptStd)
  marginTerms(m, dense, n, impute, oneHot, (_, term) => {
    for (let i = 0; i < n; i++) z[i] = z[i]! + term[i]!
  })
  return z
}

/**
 * Each feature's contribution to each row's log-odds (a one-hot feature's indicators summed
 * into it): the coefficient times the value's deviation from the training mean. With the
 * base, interceptStd (the log-odds at the training means), they add up to the margin.
 */
export const contributions = (m: LinearParams, dense: Columns, n: number, impute?: ReadonlyArray<number>, oneHot: ReadonlyArray<OneHot> = []) => {
  const out: Array<Float64Array> = []
  marginTerms(m, dense, n, impute, oneHot, (_, term) => out.push(term.slice()))
  return { base: m.interceptStd, contributions: out }
}

/**
 * Probabilities for `n` rows given as columns; a NaN value (missing) is replaced by
 * `impute[j]`. Works column by column on one accumulator array.
 */
export const probabilities = (m: LinearParams, columns: Columns, n: number, impute?: ReadonlyArray<number>, oneHot: ReadonlyArray<OneHot> = []): Float64Array => {
  const z = margins(m, columns, n, impute, oneHot)
  for (let i = 0; i < n; i++) z[i] = sigmoid(z[i]!)
  return z
}

/** Class 1 where the probability is over 0.5 (scikit-learn's `predict`). */
export const classes = (p: Float64Array): Uint8Array => {
  const out = new Uint8Array(p.length)
  for (let i = 0; i < p.length; i++) out[i] = p[i]! > 0.5 ? 1 : 0
  return out
}
