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

export const emptyFrame = (featureNames: ReadonlyArray<string>): Frame => ({
  rows: 0,
  featureNames,
  features: featureNames.map(() => new Float64Array(0)),
  target: new Float64Array(0)
})

/** The target column as 0/1 integers. */
export const labels = (f: Frame): Uint8Array => Uint8Array.from(f.target)

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

/** A copy of the column with NaN replaced by `value`. */
export const imputed = (col: Float64Array, value: number): Float64Array => {
  const out = new Float64Array(col.length)
  for (let i = 0; i < col.length; i++) {
    const v = col[i]!
    out[i] = Number.isNaN(v) ? value : v
  }
  return out
}
