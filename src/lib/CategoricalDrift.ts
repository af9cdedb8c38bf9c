/**
 * Data drift of a categorical feature between a reference sample (the live model's training
 * data) and a current one: the Population Stability Index over the categories, and the
 * chi-square test of homogeneity (scipy's `chi2_contingency(table, correction=False)`).
 * Missing values form a category of their own, and so do the categories the reference never
 * had (together: "unseen"). Codes in, NaN meaning missing; each sample has its own levels. Pure.
 */
import { PSI_EPSILON } from "./DataDrift.js"

export interface CategorySample {
  /** each row's index into `levels`, NaN where missing */
  readonly codes: Float64Array
  readonly levels: ReadonlyArray<string>
}

export interface CategoricalDrift {
  readonly feature: string
  readonly kind: "categorical"
  readonly psi: number | null
  readonly chiSquare: number | null
  readonly chiSquarePValue: number | null
  readonly chiSquareDof: number | null
  readonly missingRateReference: number
  readonly missingRateCurrent: number
  /** categories of the current sample that the reference never had, with their share of its rows */
  readonly newCategories: ReadonlyArray<{ readonly category: string; readonly share: number }>
  readonly referenceRows: number
  readonly currentRows: number
  readonly flagged: boolean
  readonly reasons: ReadonlyArray<string>
}

// the regularised upper incomplete gamma function Q(a, x) (Numerical Recipes' gammq):
// a series below a + 1, a continued fraction (modified Lentz) above
const logGamma = (x: number): number => {
  const g = 7
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7
  ]
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x)
  const z = x - 1
  let a = c[0]!
  const t = z + g + 0.5
  for (let i = 1; i < g + 2; i++) a += c[i]! / (z + i)
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a)
}

const upperGammaQ = (a: number, x: number): number => {
  if (x <= 0) return 1
  const front = -x + a * Math.log(x) - logGamma(a)
  if (x < a + 1) {
    let sum = 1 / a
    let term = sum
    for (let n = 1; n < 10_000; n++) {
      term *= x / (a + n)
      sum += term
      if (Math.abs(term) < Math.abs(sum) * 1e-17) break
    }
    return Math.max(0, 1 - sum * Math.exp(front))
  }
  const tiny = 1e-300
  let b = x + 1 - a
  let c = 1 / tiny
  let d = 1 / b
  let h = d
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a)
    b += 2
    d = an * d + b
    if (Math.abs(d) < tiny) d = tiny
    c = b + an / c
    if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    const delta = d * c
    h *= delta
    if (Math.abs(delta - 1) < 1e-17) break
  }
  return Math.exp(front) * h
}

/** P(χ²_dof ≥ x): the chi-square distribution's survival function. */
export const chiSquareSf = (x: number, dof: number): number => (dof <= 0 ? 1 : upperGammaQ(dof / 2, x / 2))

/**
 * The chi-square statistic of homogeneity of two rows of counts, its degrees of freedom
 * and p-value; columns empty in both rows are left out (scipy refuses a zero expected count).
 */
export const chiSquareHomogeneity = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => {
  const cols: Array<[number, number]> = []
  for (let k = 0; k < a.length; k++) if (a[k]! + b[k]! > 0) cols.push([a[k]!, b[k]!])
  const na = cols.reduce((s, c) => s + c[0], 0)
  const nb = cols.reduce((s, c) => s + c[1], 0)
  const n = na + nb
  if (na === 0 || nb === 0) return null
  const dof = cols.length - 1
  if (dof === 0) return { statistic: 0, dof: 0, pValue: 1 }
  let statistic = 0
  for (const [x, y] of cols) {
    const total = x + y
    const ea = (total * na) / n
    const eb = (total * nb) / n
    statistic += ((x - ea) * (x - ea)) / ea + ((y - eb) * (y - eb)) / eb
  }
  return { statistic, dof, pValue: chiSquareSf(statistic, dof) }
}

/** Counts per reference category, then missing, then unseen (current categories the reference lacks). */
const countsOf = (s: CategorySample, reference: ReadonlyArray<string>) => {
  const index = new Map(reference.map((c, k) => [c, k]))
  const map = s.levels.map((l) => index.get(l) ?? -1)
  const counts = new Array<number>(reference.length + 2).fill(0)
  const unseen = new Map<string, number>()
  for (let i = 0; i < s.codes.length; i++) {
    const v = s.codes[i]!
    if (v !== v) counts[reference.length]!++
    else if (map[v]! >= 0) counts[map[v]!]!++
    else {
      counts[reference.length + 1]!++
      unseen.set(s.levels[v]!, (unseen.get(s.levels[v]!) ?? 0) + 1)
    }
  }
  return { counts, unseen }
}

/** PSI = Σ (c − r)·ln(c / r) over the categories' shares, an empty one taken as PSI_EPSILON. */
const psiOfCounts = (r: ReadonlyArray<number>, c: ReadonlyArray<number>) => {
  const nr = r.reduce((s, x) => s + x, 0)
  const nc = c.reduce((s, x) => s + x, 0)
  if (nr === 0 || nc === 0) return null
  let total = 0
  for (let k = 0; k < r.length; k++) {
    if (r[k]! === 0 && c[k]! === 0) continue
    const sr = Math.max(r[k]! / nr, PSI_EPSILON)
    const sc = Math.max(c[k]! / nc, PSI_EPSILON)
    total += (sc - sr) * Math.log(sc / sr)
  }
  return total
}

/** Every measure for one categorical feature; flagged when PSI > psiThreshold or the chi-square p-value < ksAlpha. */
export const categoricalDrift = (
  feature: string,
  reference: CategorySample,
  current: CategorySample,
  options: { readonly psiThreshold?: number; readonly ksAlpha?: number } = {}
): CategoricalDrift => {
  const psiThreshold = options.psiThreshold ?? 0.25
  const alpha = options.ksAlpha ?? 0.01
  const ref = countsOf(reference, reference.levels)
  const cur = countsOf(current, reference.levels)
  const p = psiOfCounts(ref.counts, cur.counts)
  const chi = chiSquareHomogeneity(ref.counts, cur.counts)
  const reasons: Array<string> = []
  if (p !== null && p > psiThreshold) reasons.push(`PSI ${p.toFixed(3)} > ${psiThreshold}`)
  if (chi !== null && chi.pValue < alpha) reasons.push(`chi-square p ${chi.pValue.toExponential(2)} < ${alpha}`)
  const rows = current.codes.length
  const newCategories = [...cur.unseen.entries()]
    .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))
    .map(([category, k]) => ({ category, share: k / rows }))
  if (newCategories.length > 0) {
    const shown = newCategories.slice(0, 5).map((c) => `"${c.category}" ${(100 * c.share).toFixed(1)}%`).join(", ")
    reasons.push(`${newCategories.length} new categor${newCategories.length === 1 ? "y" : "ies"}: ${shown}${newCategories.length > 5 ? ", …" : ""}`)
  }
  if (p === null || chi === null) reasons.push("no PSI or chi-square: a sample has no rows")
  return {
    feature,
    kind: "categorical",
    psi: p,
    chiSquare: chi?.statistic ?? null,
    chiSquarePValue: chi?.pValue ?? null,
    chiSquareDof: chi?.dof ?? null,
    missingRateReference: reference.codes.length === 0 ? 0 : ref.counts[reference.levels.length]! / reference.codes.length,
    missingRateCurrent: rows === 0 ? 0 : cur.counts[reference.levels.length]! / rows,
    newCategories,
    referenceRows: reference.codes.length,
    currentRows: rows,
    flagged: (p !== null && p > psiThreshold) || (chi !== null && chi.pValue < alpha),
    reasons
  }
}
