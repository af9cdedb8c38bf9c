/**
 * Per-feature data drift between a reference sample (the live model's training data) and a
 * current one (a run's new rows): the Population Stability Index over quantile bins of the
 * reference, the two-sample Kolmogorov–Smirnov test, and the change in missing rate and
 * mean. Float64Array columns in, NaN meaning missing. Pure.
 *
 * Each sample is read once per feature, its present values sorted (a radix sort, linear in its
 * size) and its mean and missing rate counted in the same pass; the PSI and the KS statistic
 * are then counts over the two sorted samples.
 */
import { presentValues, sortedPresent } from "./Sort.js"

/** Linear-interpolation quantile of sorted values (numpy's default). */
const quantileSorted = (s: Float64Array, q: number) => {
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo)
}

/** Count of sorted values ≤ x (binary search). */
const countAtMost = (s: Float64Array, x: number) => {
  let lo = 0
  let hi = s.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (s[mid]! <= x) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * An empty bin's share is taken as this, so that a bin one sample lacks does not make the
 * index infinite (the value Evidently uses).
 */
export const PSI_EPSILON = 1e-4

/**
 * PSI = Σ (c − r) · ln(c / r) over bins whose edges are the reference's deciles (repeated
 * edges, from tied values, merged), c and r the current and reference shares of each bin.
 * Null where either sample has no value.
 */
export const psi = (reference: Float64Array, current: Float64Array, bins = 10): number | null =>
  psiSorted(sortedPresent(reference), sortedPresent(current), bins)

/** The PSI of two samples' present values, each sorted ascending. */
const psiSorted = (r: Float64Array, c: Float64Array, bins = 10): number | null => {
  if (r.length === 0 || c.length === 0) return null
  const edges: Array<number> = []
  for (let k = 1; k < bins; k++) {
    const e = quantileSorted(r, k / bins)
    if (edges.length === 0 || e > edges[edges.length - 1]!) edges.push(e)
  }
  let total = 0
  let prevR = 0
  let prevC = 0
  for (let b = 0; b <= edges.length; b++) {
    const atR = b < edges.length ? countAtMost(r, edges[b]!) : r.length
    const atC = b < edges.length ? countAtMost(c, edges[b]!) : c.length
    const shareR = Math.max((atR - prevR) / r.length, PSI_EPSILON)
    const shareC = Math.max((atC - prevC) / c.length, PSI_EPSILON)
    total += (shareC - shareR) * Math.log(shareC / shareR)
    prevR = atR
    prevC = atC
  }
  return total
}

export interface KsResult {
  readonly statistic: number
  readonly pValue: number
  readonly method: "exact" | "asymptotic"
}

/** The larger sample size up to which the p-value is exact (scipy's ks_2samp uses the same bound). */
export const KS_EXACT_MAX = 10_000

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b))

/**
 * Exact P(D ≥ d) for samples of sizes m and n without ties, by counting the lattice paths
 * from (0,0) to (m,n) that stay strictly inside |i/m − j/n| < d, normalised at each step
 * (A(i,j) = paths / C(i+j, i)) so that no number overflows. Integer arithmetic decides the
 * boundary, as scipy does: |i·n/g − j·m/g| < h with h = round(d·m·n/g).
 */
const ksExactPValue = (m: number, n: number, d: number): number => {
  const g = gcd(m, n)
  const mg = m / g
  const ng = n / g
  const h = Math.round((d * m * n) / g)
  const inside = (i: number, j: number) => Math.abs(i * ng - j * mg) < h
  // a(j) over the current i; a column of n + 1 values
  const a = new Float64Array(n + 1)
  a[0] = 1
  for (let j = 1; j <= n; j++) a[j] = inside(0, j) ? a[j - 1]! : 0
  for (let i = 1; i <= m; i++) {
    a[0] = inside(i, 0) ? a[0]! : 0
    for (let j = 1; j <= n; j++) {
      a[j] = inside(i, j) ? (a[j]! * i + a[j - 1]! * j) / (i + j) : 0
    }
  }
  return Math.min(1, Math.max(0, 1 - a[n]!))
}

/** The Kolmogorov distribution's survival function: P(K > x) = 2 Σ (−1)^(k−1) e^(−2k²x²). */
const kolmogorovSf = (x: number): number => {
  if (x <= 0) return 1
  if (x < 0.3) return 1
  let sum = 0
  for (let k = 1; k <= 100; k++) {
    const term = Math.exp(-2 * k * k * x * x)
    sum += (k % 2 === 1 ? 1 : -1) * term
    if (term < 1e-16) break
  }
  return Math.min(1, Math.max(0, 2 * sum))
}

/**
 * Two-sample Kolmogorov–Smirnov test (two-sided): the largest distance between the two
 * empirical distribution functions, and its p-value — exact when both samples have at most
 * KS_EXACT_MAX values, else from the Kolmogorov distribution with n = m·n/(m+n).
 * NaN values are left out; null where either sample is empty.
 */
export const ksTwoSample = (a: Float64Array, b: Float64Array): KsResult | null =>
  ksSorted(sortedPresent(a), sortedPresent(b))

/** The KS test of two samples' present values, each sorted ascending. */
const ksSorted = (x: Float64Array, y: Float64Array): KsResult | null => {
  const m = x.length
  const n = y.length
  if (m === 0 || n === 0) return null
  let i = 0
  let j = 0
  let d = 0
  while (i < m && j < n) {
    const v = Math.min(x[i]!, y[j]!)
    while (i < m && x[i]! <= v) i++
    while (j < n && y[j]! <= v) j++
    d = Math.max(d, Math.abs(i / m - j / n))
  }
  if (Math.max(m, n) <= KS_EXACT_MAX) return { statistic: d, pValue: ksExactPValue(m, n, d), method: "exact" }
  const en = (m * n) / (m + n)
  return { statistic: d, pValue: kolmogorovSf(Math.sqrt(en) * d), method: "asymptotic" }
}

export interface FeatureDrift {
  readonly feature: string
  readonly psi: number | null
  readonly ksStatistic: number | null
  readonly ksPValue: number | null
  readonly ksMethod: "exact" | "asymptotic" | null
  readonly missingRateReference: number
  readonly missingRateCurrent: number
  readonly meanReference: number | null
  readonly meanCurrent: number | null
  readonly referenceRows: number
  readonly currentRows: number
  readonly flagged: boolean
  readonly reasons: ReadonlyArray<string>
}

/** Every measure for one feature; flagged when PSI > psiThreshold or the KS p-value < ksAlpha. */
export const featureDrift = (
  feature: string,
  reference: Float64Array,
  current: Float64Array,
  options: { readonly psiThreshold?: number; readonly ksAlpha?: number } = {}
): FeatureDrift => {
  const psiThreshold = options.psiThreshold ?? 0.25
  const ksAlpha = options.ksAlpha ?? 0.01
  // one pass over each column (and the sort): the sorted present values, the mean, the missing rate
  const ref = presentValues(reference)
  const cur = presentValues(current)
  const p = psiSorted(ref.sorted, cur.sorted)
  const ks = ksSorted(ref.sorted, cur.sorted)
  const reasons: Array<string> = []
  if (p !== null && p > psiThreshold) reasons.push(`PSI ${p.toFixed(3)} > ${psiThreshold}`)
  if (ks !== null && ks.pValue < ksAlpha) reasons.push(`KS p ${ks.pValue.toExponential(2)} < ${ksAlpha}`)
  if (p === null || ks === null) reasons.push("no PSI or KS: a sample has no value for this feature")
  return {
    feature,
    psi: p,
    ksStatistic: ks?.statistic ?? null,
    ksPValue: ks?.pValue ?? null,
    ksMethod: ks?.method ?? null,
    missingRateReference: ref.missingRate,
    missingRateCurrent: cur.missingRate,
    meanReference: ref.mean,
    meanCurrent: cur.mean,
    referenceRows: reference.length,
    currentRows: current.length,
    flagged: (p !== null && p > psiThreshold) || (ks !== null && ks.pValue < ksAlpha),
    reasons
  }
}
