/**
 * The best split of a node, as scikit-learn 1.2.1's `splitting.pyx` (`Splitter`).
 *
 * Numeric features: bins scanned left → right (missing values go right) and, when the feature
 * has missing values, right → left (missing values go left); the best gain wins, ties keep the
 * first found. Categorical features: categories (the missing bin counting as one) with enough
 * support (hessian · n/H ≥ MIN_CAT_SUPPORT) are sorted by G / (H + MIN_CAT_SUPPORT) and scanned
 * from both ends up to the middle; the left child gets a set of categories.
 * Gain: loss(node) − loss(left) − loss(right) with loss = G · value, value = −G / (H + λ + 1e-15).
 */

export const MIN_CAT_SUPPORT = 10
export const MIN_HESSIAN_TO_SPLIT = 1e-3

export interface SplitterContext {
  readonly nFeatures: number
  readonly binStride: number
  readonly missingBin: number
  readonly nBinsNonMissing: Int32Array
  readonly hasMissing: Uint8Array
  readonly isCategorical: Uint8Array
  readonly minSamplesLeaf: number
  readonly l2: number
}

export interface SplitInfo {
  readonly gain: number
  readonly feature: number
  /** numeric: rows with bin <= binIndex go left */
  readonly binIndex: number
  missingGoToLeft: boolean
  readonly isCategorical: boolean
  /** categorical: the bins (codes, possibly the missing bin) that go left */
  readonly leftBins: Uint8Array | null
  readonly sumGradientLeft: number
  readonly sumHessianLeft: number
  readonly sumGradientRight: number
  readonly sumHessianRight: number
  readonly nLeft: number
  readonly nRight: number
  readonly valueLeft: number
  readonly valueRight: number
}

export const nodeValue = (sumGradient: number, sumHessian: number, l2: number): number =>
  -sumGradient / (sumHessian + l2 + 1e-15)

interface Best {
  gain: number
  bin: number
  missingLeft: boolean
  gl: number
  hl: number
  nl: number
  leftBins: Uint8Array | null
}

/**
 * The split with (gl, hl, nl) on the left and (gr, hr) on the right taken as `best` (its gain
 * and left sums) when its gain is positive and beats it; true when it did.
 */
const offer = (best: Best, lossNode: number, l2: number, gl: number, hl: number, nl: number, gr: number, hr: number): boolean => {
  const gain = lossNode - gl * nodeValue(gl, hl, l2) - gr * nodeValue(gr, hr, l2)
  if (!(gain > best.gain && gain > 0)) return false
  best.gain = gain
  best.gl = gl
  best.hl = hl
  best.nl = nl
  return true
}

const scanNumeric = (
  ctx: SplitterContext,
  hist: Float64Array,
  f: number,
  n: number,
  sumG: number,
  sumH: number,
  lossNode: number,
  best: Best
): void => {
  const base = f * ctx.binStride * 3
  const nonMissing = ctx.nBinsNonMissing[f]!
  const hasMissing = ctx.hasMissing[f]!
  const minLeaf = ctx.minSamplesLeaf
  const l2 = ctx.l2
  // left → right; missing values (if any) go right
  const end = nonMissing - 1 + hasMissing
  let gl = 0
  let hl = 0
  let nl = 0
  for (let b = 0; b < end; b++) {
    const k = base + b * 3
    nl += hist[k + 2]!
    const nr = n - nl
    hl += hist[k + 1]!
    const hr = sumH - hl
    gl += hist[k]!
    const gr = sumG - gl
    if (nl < minLeaf) continue
    if (nr < minLeaf) break
    if (hl < MIN_HESSIAN_TO_SPLIT) continue
    if (hr < MIN_HESSIAN_TO_SPLIT) break
    if (offer(best, lossNode, l2, gl, hl, nl, gr, hr)) {
      best.bin = b
      best.missingLeft = false
    }
  }
  if (!hasMissing) return
  // right → left; missing values go left
  let gr = 0
  let hr = 0
  let nr = 0
  for (let b = nonMissing - 2; b >= 0; b--) {
    const k = base + (b + 1) * 3
    nr += hist[k + 2]!
    const nl2 = n - nr
    hr += hist[k + 1]!
    const hl2 = sumH - hr
    gr += hist[k]!
    const gl2 = sumG - gr
    if (nr < minLeaf) continue
    if (nl2 < minLeaf) break
    if (hr < MIN_HESSIAN_TO_SPLIT) continue
    if (hl2 < MIN_HESSIAN_TO_SPLIT) break
    if (offer(best, lossNode, l2, gl2, hl2, nl2, gr, hr)) {
      best.bin = b
      best.missingLeft = true
    }
  }
}

const scanCategorical = (
  ctx: SplitterContext,
  hist: Float64Array,
  f: number,
  n: number,
  sumG: number,
  sumH: number,
  lossNode: number,
  best: Best
): void => {
  const base = f * ctx.binStride * 3
  const nonMissing = ctx.nBinsNonMissing[f]!
  const missingBin = ctx.missingBin
  const supportFactor = n / sumH
  const bins: Array<number> = []
  const values: Array<number> = []
  const consider = (b: number) => {
    const k = base + b * 3
    const h = hist[k + 1]!
    if (h * supportFactor >= MIN_CAT_SUPPORT) {
      bins.push(b)
      values.push(hist[k]! / (h + MIN_CAT_SUPPORT))
    }
  }
  for (let b = 0; b < nonMissing; b++) consider(b)
  if (ctx.hasMissing[f]) consider(missingBin)
  const used = bins.length
  if (used <= 1) return
  const order = Array.from({ length: used }, (_, i) => i).sort((a, b) => values[a]! - values[b]!)
  const sortedBins = order.map((i) => bins[i]!)
  const minLeaf = ctx.minSamplesLeaf
  const l2 = ctx.l2
  let found = false
  let bestThresh = 0
  let bestDirection = 1
  for (const direction of [1, -1]) {
    const middle = direction === 1 ? (used + 1) >> 1 : ((used + 1) >> 1) - 1
    let gl = 0
    let hl = 0
    let nl = 0
    for (let i = 0; i < middle; i++) {
      const s = direction === 1 ? i : used - 1 - i
      const k = base + sortedBins[s]! * 3
      nl += hist[k + 2]!
      const nr = n - nl
      hl += hist[k + 1]!
      const hr = sumH - hl
      gl += hist[k]!
      const gr = sumG - gl
      if (nl < minLeaf || hl < MIN_HESSIAN_TO_SPLIT) continue
      if (nr < minLeaf || hr < MIN_HESSIAN_TO_SPLIT) break
      if (offer(best, lossNode, l2, gl, hl, nl, gr, hr)) {
        found = true
        bestThresh = s
        bestDirection = direction
      }
    }
  }
  if (!found) return
  const left = new Uint8Array(ctx.binStride)
  if (bestDirection === 1) for (let s = 0; s <= bestThresh; s++) left[sortedBins[s]!] = 1
  else for (let s = used - 1; s >= bestThresh; s--) left[sortedBins[s]!] = 1
  best.bin = 0
  best.leftBins = left
  best.missingLeft = ctx.hasMissing[f] ? left[missingBin] === 1 : false
}

/** The best split of a node over all features; null when no split has positive gain. */
export const findNodeSplit = (
  ctx: SplitterContext,
  hist: Float64Array,
  n: number,
  sumG: number,
  sumH: number,
  value: number
): SplitInfo | null => {
  const lossNode = sumG * value
  let bestFeature = -1
  let bestOverall: Best | null = null
  for (let f = 0; f < ctx.nFeatures; f++) {
    const best: Best = { gain: -1, bin: 0, missingLeft: false, gl: 0, hl: 0, nl: 0, leftBins: null }
    if (ctx.isCategorical[f]) scanCategorical(ctx, hist, f, n, sumG, sumH, lossNode, best)
    else scanNumeric(ctx, hist, f, n, sumG, sumH, lossNode, best)
    if (bestOverall === null || best.gain > bestOverall.gain) {
      bestOverall = best
      bestFeature = f
    }
  }
  if (bestOverall === null || bestOverall.gain <= 0) return null
  const b = bestOverall
  const gr = sumG - b.gl
  const hr = sumH - b.hl
  return {
    gain: b.gain,
    feature: bestFeature,
    binIndex: b.bin,
    missingGoToLeft: b.missingLeft,
    isCategorical: ctx.isCategorical[bestFeature] === 1,
    leftBins: b.leftBins,
    sumGradientLeft: b.gl,
    sumHessianLeft: b.hl,
    sumGradientRight: gr,
    sumHessianRight: hr,
    nLeft: b.nl,
    nRight: n - b.nl,
    valueLeft: nodeValue(b.gl, b.hl, ctx.l2),
    valueRight: nodeValue(gr, hr, ctx.l2)
  }
}
