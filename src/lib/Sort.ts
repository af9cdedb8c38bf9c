/**
 * Sorting numeric columns in linear time: a least-significant-digit radix sort on the bits
 * of each double (16-bit digits; a digit that is the same in every value costs no pass, so
 * whole numbers, whose low mantissa bits are all zero, take two passes instead of four).
 * Pure.
 */

/** Below this many values the engine's comparison sort is as fast. */
const RADIX_MIN = 4096

/** A column's present values sorted, with the figures of the same pass over the column. */
export interface PresentValues {
  /** the present (non-NaN) values, ascending; negative zero written as zero */
  readonly sorted: Float64Array
  /** the share of missing (NaN) values; 0 for an empty column */
  readonly missingRate: number
  /** the mean of the present values, summed in the column's order; null when none is present */
  readonly mean: number | null
}

/**
 * The present values of `xs` sorted, their mean and the missing rate, from one pass over the
 * column (and the sort's own). Negative zero is written as zero in `sorted` (the two compare
 * equal, so every order statistic, count and comparison over the result is the same as over
 * the values themselves); the mean sums the values as they are.
 */
export const presentValues = (xs: Float64Array): PresentValues => {
  const out = new Float64Array(xs.length)
  let k = 0
  let sum = 0
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i]!
    if (v === v) {
      sum += v
      out[k++] = v === 0 ? 0 : v
    }
  }
  const sorted = k === xs.length ? out : out.slice(0, k)
  return {
    sorted: k < RADIX_MIN ? sorted.sort() : radixSortInPlace(sorted),
    missingRate: xs.length === 0 ? 0 : (xs.length - k) / xs.length,
    mean: k === 0 ? null : sum / k
  }
}

/**
 * The present (non-NaN) values of `xs`, sorted ascending, in a new array; negative zero is
 * written as zero (see presentValues).
 */
export const sortedPresent = (xs: Float64Array): Float64Array => presentValues(xs).sorted

/** Sorts non-NaN doubles ascending in place (-0 before 0) and returns the array. */
export const radixSortInPlace = (values: Float64Array): Float64Array => {
  const n = values.length
  if (n < RADIX_MIN) return values.sort()
  // the bits as (low, high) word pairs, mapped so that unsigned order is numeric order:
  // a positive number gets its sign bit set, a negative one has every bit flipped
  const words = new Uint32Array(values.buffer, values.byteOffset, 2 * n)
  const counts = new Uint32Array(4 * 65536)
  for (let i = 0; i < n; i++) {
    let lo = words[2 * i]!
    let hi = words[2 * i + 1]!
    if (hi & 0x80000000) {
      hi = ~hi >>> 0
      lo = ~lo >>> 0
    } else hi = (hi | 0x80000000) >>> 0
    words[2 * i] = lo
    words[2 * i + 1] = hi
    counts[lo & 0xffff]!++
    counts[65536 + (lo >>> 16)]!++
    counts[131072 + (hi & 0xffff)]!++
    counts[196608 + (hi >>> 16)]!++
  }
  let src: Uint32Array = words
  let dst: Uint32Array = new Uint32Array(2 * n)
  const offsets = new Uint32Array(65536)
  for (let d = 0; d < 4; d++) {
    const base = d * 65536
    // a digit every value shares leaves the order as it is
    let single = false
    for (let b = 0; b < 65536; b++) {
      const c = counts[base + b]!
      if (c === n) single = true
      if (c !== 0) break
    }
    if (single) continue
    let sum = 0
    for (let b = 0; b < 65536; b++) {
      offsets[b] = sum
      sum += counts[base + b]!
    }
    const word = d >> 1
    const shift = (d & 1) * 16
    for (let i = 0; i < n; i++) {
      const lo = src[2 * i]!
      const hi = src[2 * i + 1]!
      const digit = ((word === 0 ? lo : hi) >>> shift) & 0xffff
      const at = offsets[digit]!++
      dst[2 * at] = lo
      dst[2 * at + 1] = hi
    }
    const t = src
    src = dst
    dst = t
  }
  if (src !== words) words.set(src)
  for (let i = 0; i < n; i++) {
    const hi = words[2 * i + 1]!
    if (hi & 0x80000000) words[2 * i + 1] = (hi & 0x7fffffff) >>> 0
    else {
      words[2 * i + 1] = ~hi >>> 0
      words[2 * i] = ~words[2 * i]! >>> 0
    }
  }
  return values
}
