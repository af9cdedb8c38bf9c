/**
 * Gradient / hessian / count sums per bin, as scikit-learn's `histogram.pyx`.
 *
 * A node's histograms live in one Float64Array: for feature f and bin b the triple
 * [sum_gradients, sum_hessians, count] starts at ((f * binStride) + b) * 3. Sums are
 * accumulated in float64 from the float32 gradients, in row order (as scikit-learn).
 */

export interface HistogramContext {
  /** binned features, one Uint8Array per feature (rows of the training set) */
  readonly binned: ReadonlyArray<Uint8Array>
  readonly gradients: Float32Array
  readonly hessians: Float32Array
  /** bins per feature in the layout (max_bins + 1: the last is the missing bin) */
  readonly binStride: number
  /** scratch for the gathered gradients / hessians of a node */
  readonly orderedGradients: Float32Array
  readonly orderedHessians: Float32Array
}

export const histogramSize = (nFeatures: number, binStride: number): number => nFeatures * binStride * 3

/** Histograms of all rows (the root), without gathering. */
export const buildRootHistograms = (ctx: HistogramContext, out: Float64Array): void => {
  out.fill(0)
  const { binned, gradients, hessians, binStride } = ctx
  const n = gradients.length
  for (let f = 0; f < binned.length; f++) {
    const col = binned[f]!
    const base = f * binStride * 3
    for (let i = 0; i < n; i++) {
      const k = base + col[i]! * 3
      out[k] = out[k]! + gradients[i]!
      out[k + 1] = out[k + 1]! + hessians[i]!
      out[k + 2] = out[k + 2]! + 1
    }
  }
}

/** Histograms of the rows `indices` (one node). */
export const buildHistograms = (ctx: HistogramContext, indices: Uint32Array, out: Float64Array): void => {
  out.fill(0)
  const { binned, gradients, hessians, binStride, orderedGradients: og, orderedHessians: oh } = ctx
  const n = indices.length
  for (let i = 0; i < n; i++) {
    const r = indices[i]!
    og[i] = gradients[r]!
    oh[i] = hessians[r]!
  }
  for (let f = 0; f < binned.length; f++) {
    const col = binned[f]!
    const base = f * binStride * 3
    for (let i = 0; i < n; i++) {
      const k = base + col[indices[i]!]! * 3
      out[k] = out[k]! + og[i]!
      out[k + 1] = out[k + 1]! + oh[i]!
      out[k + 2] = out[k + 2]! + 1
    }
  }
}

/** The sibling's histograms: parent − child (scikit-learn's subtraction trick). */
export const subtractHistograms = (parent: Float64Array, child: Float64Array, out: Float64Array): void => {
  for (let k = 0; k < out.length; k++) out[k] = parent[k]! - child[k]!
}
