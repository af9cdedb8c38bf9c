/**
 * The half-binomial loss (= log loss) of raw predictions, as scikit-learn's. `log1pexp` is
 * self-contained: chunks.ts runs it on a worker thread from its source text.
 */

/** log(1 + exp(x)) without overflow (scikit-learn's `log1pexp`). */
export function log1pexp(x: number): number {
  return x <= -37 ? Math.exp(x) : x <= -2 ? Math.log1p(Math.exp(x)) : x <= 18 ? Math.log(1 + Math.exp(x)) : x <= 33.3 ? x + Math.exp(-x) : x
}

/** Each row's loss, log1pexp(raw) − y · raw, for rows [from, to) into terms. */
export function lossTerms(y: ArrayLike<number>, raw: Float64Array, from: number, to: number, terms: Float64Array, log1p: typeof log1pexp): void {
  for (let i = from; i < to; i++) terms[i] = log1p(raw[i]!) - y[i]! * raw[i]!
}

/** Mean of the terms, summed in row order. */
export const meanOf = (terms: Float64Array): number => {
  let s = 0
  for (let i = 0; i < terms.length; i++) s += terms[i]!
  return s / terms.length
}

/** Mean half-binomial loss (= log loss) of raw predictions. */
export const logLoss = (y: ArrayLike<number>, raw: Float64Array): number => {
  const terms = new Float64Array(raw.length)
  lossTerms(y, raw, 0, raw.length, terms, log1pexp)
  return meanOf(terms)
}
