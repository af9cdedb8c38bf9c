/**
 * The per-row work of a boosting iteration over one chunk of the training rows: the
 * gradients (with the chunk's share of the root's histograms), the partition of a node's
 * rows at a split, a node's histograms, and the leaf values added to the predictions (kept as
 * inverse odds, exp(−raw): the gradients then need no exponential, nor a division for it).
 *
 * Each function is self-contained: it reads nothing but its arguments and the language's
 * globals, because `chunks.ts` runs these same functions on a worker thread from their source
 * text. The binned features are row-major: row i's bin of feature f is binned[i * features + f]
 * (a row's bins share a cache line, and a node's rows are visited in a scattered order).
 * Histograms: for feature f and bin b, [sum_gradients, sum_hessians, count] start at
 * ((f * binStride) + b) * 3, summed in float64 from the float32 gradients, in row order
 * (as scikit-learn's `histogram.pyx`).
 */

/**
 * scikit-learn's `cgrad_hess_half_binomial` for rows [lo, hi), from each row's inverse odds
 * exp(−raw prediction) (the exponential it takes a row), stored as float32, with their
 * sums (of the stored values) at sums[at], sums[at + 1], and the histograms of these rows
 * (the root's share) in `out`; each row's slot in `partition` is reset to the row itself.
 */
export function gradients(
  y: Uint8Array,
  inverseOdds: Float64Array,
  grad: Float32Array,
  hess: Float32Array,
  partition: Uint32Array,
  binned: Uint8Array,
  features: number,
  binStride: number,
  lo: number,
  hi: number,
  sums: Float64Array,
  at: number,
  out: Float64Array
): void {
  out.fill(0)
  let sumG = 0
  let sumH = 0
  for (let i = lo; i < hi; i++) {
    const e = inverseOdds[i]!
    const t = y[i]!
    const g = Math.fround((1 - t - t * e) / (1 + e))
    const h = Math.fround(e / ((1 + e) * (1 + e)))
    grad[i] = g
    hess[i] = h
    sumG += g
    sumH += h
    partition[i] = i
    const row = i * features
    for (let f = 0; f < features; f++) {
      const k = (f * binStride + binned[row + f]!) * 3
      out[k] = out[k]! + g
      out[k + 1] = out[k + 1]! + h
      out[k + 2] = out[k + 2]! + 1
    }
  }
  sums[at] = sumG
  sums[at + 1] = sumH
}

/**
 * Stable partition of partition[start, stop) at a split of feature `feature`: the rows
 * whose bin is marked in `leftBins` first, then the others (through scratch[start, stop)).
 * Then the histograms of one side's rows (`histogramsOf` 0: the left, 1: the right,
 * −1: neither) in `out`, in the order of its rows. Returns the end of the left rows.
 */
export function splitRows(
  binned: Uint8Array,
  features: number,
  grad: Float32Array,
  hess: Float32Array,
  feature: number,
  leftBins: Uint8Array,
  partition: Uint32Array,
  scratch: Uint32Array,
  start: number,
  stop: number,
  histogramsOf: number,
  binStride: number,
  out: Float64Array
): number {
  let l = start
  let r = start
  // no branch on the side: a split's sides are as good as random, and a mispredicted branch costs more than a store
  for (let i = start; i < stop; i++) {
    const row = partition[i]!
    const left = leftBins[binned[row * features + feature]!]!
    partition[l] = row
    scratch[r] = row
    l += left
    r += 1 - left
  }
  partition.set(scratch.subarray(start, r), l)
  if (histogramsOf >= 0) {
    out.fill(0)
    const from = histogramsOf === 0 ? start : l
    const to = histogramsOf === 0 ? l : stop
    for (let i = from; i < to; i++) {
      const row = partition[i]!
      const at = row * features
      const g = grad[row]!
      const h = hess[row]!
      for (let f = 0; f < features; f++) {
        const k = (f * binStride + binned[at + f]!) * 3
        out[k] = out[k]! + g
        out[k + 1] = out[k + 1]! + h
        out[k + 2] = out[k + 2]! + 1
      }
    }
  }
  return l
}

/**
 * Each leaf's value added to the raw predictions of its rows, as their inverse odds times
 * exp(−value) (`factors`, one a leaf): leaf k's rows in this chunk are
 * partition[ranges[(k * chunks + chunk) * 2], ranges[(k * chunks + chunk) * 2 + 1]).
 */
export function applyLeaves(
  inverseOdds: Float64Array,
  partition: Uint32Array,
  ranges: Int32Array,
  factors: Float64Array,
  leaves: number,
  chunk: number,
  chunks: number
): void {
  for (let k = 0; k < leaves; k++) {
    const at = (k * chunks + chunk) * 2
    const factor = factors[k]!
    for (let i = ranges[at]!, stop = ranges[at + 1]!; i < stop; i++) {
      const r = partition[i]!
      inverseOdds[r] = inverseOdds[r]! * factor
    }
  }
}
