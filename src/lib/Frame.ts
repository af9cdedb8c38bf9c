/**
 * A frame: the columns of a data set, never a row object. Features are Float64Array
 * columns in the declared order, with NaN where a value is missing; the target is 0/1.
 */
export interface Frame {
  readonly rows: number
  readonly featureNames: ReadonlyArray<string>
  readonly features: ReadonlyArray<Float64Array>
  readonly target: Float64Array
}

/** Median of the present (non-NaN) values; NaN when none is present. Linear interpolation, as numpy. */
export const presentMedian = (col: Float64Array): number => {
  let n = 0
  for (let i = 0; i < col.length; i++) if (!Number.isNaN(col[i]!)) n++
  if (n === 0) return Number.NaN
  const present = new Float64Array(n)
  let k = 0
  for (let i = 0; i < col.length; i++) if (!Number.isNaN(col[i]!)) present[k++] = col[i]!
  present.sort()
  const pos = (n - 1) / 2
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return present[lo]! + (present[hi]! - present[lo]!) * (pos - lo)
}
