/** Model-drift tests: is the new score worse than what the deployed model used to achieve? */
import { DriftDecision, type DriftTest } from "../domain/Schemas.js"
import { mean, quantile, stdPopulation } from "./Stats.js"

export interface DriftInput {
  readonly test: DriftTest
  /** the deployed model's score on the new data */
  readonly newScore: number
  /** the deployed model's recorded score; null when nothing is deployed */
  readonly deployedScore: number | null
  /** earlier scores of deployed models (oldest first) */
  readonly history: ReadonlyArray<number>
  readonly minHistory: number
}

const fmt = (x: number) => x.toFixed(4)

export const decideDrift = (input: DriftInput): DriftDecision => {
  const { deployedScore, history, newScore, test } = input
  const base = { newScore, deployedScore, historySize: history.length }
  if (deployedScore === null) {
    return DriftDecision.make({ ...base, test, drifted: true, threshold: null, reason: "no model is deployed yet" })
  }
  const raw = (prefix: string) => {
    const drifted = newScore < deployedScore
    return DriftDecision.make({
      ...base, test: "raw", drifted, threshold: deployedScore,
      reason: `${prefix}new score ${fmt(newScore)} ${drifted ? "<" : ">="} deployed score ${fmt(deployedScore)}`
    })
  }
  if (test === "raw") return raw("")
  if (history.length < input.minHistory) {
    return raw(`${test} test needs ${input.minHistory} historical scores, have ${history.length}; raw test: `)
  }
  if (test === "parametric") {
    // the reference's definition: mean − 2·np.std(history), the population std (ddof = 0)
    const m = mean(history)
    const s = stdPopulation(history)
    const threshold = m - 2 * s
    const drifted = newScore < threshold
    return DriftDecision.make({
      ...base, test, drifted, threshold,
      reason: `new score ${fmt(newScore)} ${drifted ? "<" : ">="} mean − 2·std of ${history.length} scores, population std (ddof 0) (${fmt(m)} − 2·${fmt(s)} = ${fmt(threshold)})`
    })
  }
  const q1 = quantile(history, 0.25)
  const q3 = quantile(history, 0.75)
  const iqr = q3 - q1
  const threshold = q1 - 1.5 * iqr
  const drifted = newScore < threshold
  return DriftDecision.make({
    ...base, test, drifted, threshold,
    reason: `new score ${fmt(newScore)} ${drifted ? "<" : ">="} Q1 − 1.5·IQR of ${history.length} scores (${fmt(q1)} − 1.5·${fmt(iqr)} = ${fmt(threshold)})`
  })
}
