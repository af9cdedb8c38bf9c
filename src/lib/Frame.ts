/**
 * A frame: the columns of a data set, never a row object. Features are Float64Array
 * columns in the declared order, with NaN where a value is missing; the target is 0/1
 * (1: the positive label). A numeric feature holds its values; a categorical one the index
 * of each row's category in that feature's `levels` (the sorted categories of this frame).
 */
export interface Frame {
  readonly rows: number
  readonly featureNames: ReadonlyArray<string>
  readonly features: ReadonlyArray<Float64Array>
  /** per feature: the categories a categorical feature's codes index, or null for a numeric one */
  readonly levels: ReadonlyArray<ReadonlyArray<string> | null>
  readonly target: Float64Array
}

/** Sorted by code point, as Python sorts text (and DuckDB orders VARCHAR). */
export const sortLevels = (xs: Iterable<string>): Array<string> =>
  [...xs].sort((a, b) => {
    const x = [...a]
    const y = [...b]
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!
      if (d !== 0) return d
    }
    return x.length - y.length
  })

/** Median of the present (non-NaN) values; NaN when none is present. Linear interpolation, as numpy. */
export const presentMedian = (col: Float64Array): number => {
  let n = 0
  let min = Infinity
  let max = -Infinity
  for (let i = 0; i < col.length; i++) {
    const v = col[i]!
    if (v === v) {
      n++
      if (v < min) min = v
      if (v > max) max = v
    }
  }
  if (n === 0) return Number.NaN
  if (min === max) return min
  const pos = (n - 1) / 2
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  // Only the values near the median are copied and selected from: a histogram over [min, max]
  // finds the buckets of the two middle ranks (bucketing is monotone in the value).
  const width = max - min
  let candidates: Float64Array
  let before = 0
  if (Number.isFinite(width)) {
    const buckets = 4096
    const scale = buckets / width
    const counts = new Float64Array(buckets)
    for (let i = 0; i < col.length; i++) {
      const v = col[i]!
      if (v === v) {
        const b = Math.min(buckets - 1, Math.floor((v - min) * scale))
        counts[b] = counts[b]! + 1
      }
    }
    let first = 0
    while (before + counts[first]! <= lo) before += counts[first++]!
    let last = first
    let through = before + counts[first]!
    while (through <= hi) through += counts[++last]!
    candidates = new Float64Array(through - before)
    let k = 0
    for (let i = 0; i < col.length; i++) {
      const v = col[i]!
      if (v === v) {
        const b = Math.min(buckets - 1, Math.floor((v - min) * scale))
        if (b >= first && b <= last) candidates[k++] = v
      }
    }
  } else {
    candidates = new Float64Array(n)
    let k = 0
    for (let i = 0; i < col.length; i++) if (col[i] === col[i]) candidates[k++] = col[i]!
  }
  // the order statistics by selection (linear time) rather than a sort
  const a = nthSmallest(candidates, lo - before)
  let b = a
  if (hi !== lo) {
    b = candidates[hi - before]!
    for (let i = hi - before + 1; i < candidates.length; i++) if (candidates[i]! < b) b = candidates[i]!
  }
  return a + (b - a) * (pos - lo)
}

/**
 * The k-th smallest value (0-based) of `xs`, which it reorders so that every value before
 * index k is at most it and every value after is at least it (quickselect, Hoare partition,
 * median-of-three pivots; a sort when the partitions keep coming out lopsided).
 */
const nthSmallest = (xs: Float64Array, k: number): number => {
  let left = 0
  let right = xs.length - 1
  let rounds = 0
  while (right > left) {
    if (++rounds > 64) {
      xs.subarray(left, right + 1).sort()
      return xs[k]!
    }
    const mid = left + ((right - left) >> 1)
    const x = xs[left]!
    const y = xs[mid]!
    const z = xs[right]!
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : (x < z ? x : y < z ? z : y)
    let i = left
    let j = right
    while (i <= j) {
      while (xs[i]! < pivot) i++
      while (xs[j]! > pivot) j--
      if (i <= j) {
        const t = xs[i]!
        xs[i] = xs[j]!
        xs[j] = t
        i++
        j--
      }
    }
    if (k <= j) right = j
    else if (k >= i) left = i
    else return xs[k]!
  }
  return xs[k]!
}
