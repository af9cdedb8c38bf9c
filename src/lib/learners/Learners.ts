/**
 * One interface over the two learners: an artifact's `format` names its learner, and
 * everything to predict and explain is inside it. Pure.
 */
import type { ModelArtifact } from "../../domain/Schemas.js"
import type { Frame } from "../Frame.js"
import { boostedContributions, boostedProbabilities } from "./Boosted.js"
import type { FeatureEncoding, Unseen } from "./Encoding.js"
import { linearContributions, linearEncoding, linearProbabilities } from "./Linear.js"

type FrameColumns = Pick<Frame, "featureNames" | "features" | "levels" | "rows">

export const isBoosting = (m: ModelArtifact): m is Extract<ModelArtifact, { format: "drs-gradient-boosting/1" }> =>
  m.format === "drs-gradient-boosting/1"

/** The learner that made a model, as config.json names it. */
export const learnerOf = (m: ModelArtifact) => (isBoosting(m) ? "gradient-boosting" as const : "logistic-regression" as const)

export const encodingOf = (m: ModelArtifact): ReadonlyArray<FeatureEncoding> => (isBoosting(m) ? m.encoding : linearEncoding(m))

/** Probabilities of the positive class; categories the model has not seen are counted into `unseen`. */
export const probabilitiesOf = (m: ModelArtifact, frame: FrameColumns, unseen?: Array<Unseen>): Float64Array =>
  isBoosting(m) ? boostedProbabilities(m, frame, unseen) : linearProbabilities(m, frame, unseen)

/** Per feature, each row's contribution to its log-odds, and the base they add to: base + Σ = log(p / (1 − p)). */
export const contributionsOf = (m: ModelArtifact, frame: FrameColumns) =>
  isBoosting(m) ? boostedContributions(m, frame) : linearContributions(m, frame)

/** Global importance: the mean |contribution| per feature, in feature order. */
export const importanceOf = (m: ModelArtifact, frame: FrameColumns): Array<{ feature: string; importance: number }> => {
  const { features, contributions } = contributionsOf(m, frame)
  return features.map((feature, j) => {
    const c = contributions[j]!
    let s = 0
    for (let i = 0; i < c.length; i++) s += Math.abs(c[i]!)
    return { feature, importance: c.length === 0 ? 0 : s / c.length }
  })
}
