/**
 * Gradient-boosted trees on the shared encoding: numeric features as they are (missing
 * values go where each split learnt), categorical features as codes into the training's
 * sorted categories, an unknown or missing category as missing (scikit-learn's
 * `OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=nan)` before
 * `HistGradientBoostingClassifier(categorical_features=…)`). Pure.
 */
import type { BoostingArtifact } from "../../domain/Schemas.js"
import type { Frame } from "../Frame.js"
import { type BoostedModel, type BoostingSettings, type FeatureColumn, fitBoostingHeldOut, predictProba, toProbabilities, treeShap } from "./boosting/index.js"
import { categoryCodes, type FeatureEncoding, frameColumn, learnEncoding, type Unseen } from "./Encoding.js"

type FrameColumns = Pick<Frame, "featureNames" | "features" | "levels" | "rows">

/** The trees' inputs from a frame, in the encoding's feature order. */
const inputs = (encoding: ReadonlyArray<FeatureEncoding>, frame: FrameColumns, unseen?: Array<Unseen>): Array<FeatureColumn> =>
  encoding.map((enc) => {
    const { values, levels } = frameColumn(frame, enc)
    return enc.kind === "numeric"
      ? { kind: "numeric", values }
      : { kind: "categorical", codes: categoryCodes(enc, values, levels!, false, unseen), cardinality: enc.categories.length }
  })

/** The booster as the learner reads it (the artifact holds it as plain JSON). */
const booster = (m: BoostingArtifact) => m.booster as unknown as BoostedModel

export const boostedProbabilities = (m: BoostingArtifact, frame: FrameColumns, unseen?: Array<Unseen>): Float64Array =>
  predictProba(booster(m), inputs(m.encoding, frame, unseen), frame.rows)

/** Exact path-dependent TreeSHAP: each feature's contribution to each row's log-odds, and the base they add to. */
export const boostedContributions = (m: BoostingArtifact, frame: FrameColumns) => {
  const { base, contributions } = treeShap(booster(m), inputs(m.encoding, frame), frame.rows)
  return { base, features: m.encoding.map((e) => e.name), contributions }
}

/**
 * Fit on a training frame: the encoding, then the trees. With early stopping, `heldOut` holds
 * the fitted model's probabilities on the validation rows, which no tree was fitted on, and
 * their targets.
 */
export const fitBoosted = (frame: Frame, settings: BoostingSettings, onIteration?: (i: number) => void) => {
  const encoding = learnEncoding(frame)
  const tooMany = encoding.filter((e) => e.kind === "categorical" && e.categories.length > settings.max_bins)
  if (tooMany.length > 0) {
    throw new Error(`gradient boosting takes at most max_bins (${settings.max_bins}) categories per feature; ${tooMany.map((e) => `${e.name} has ${(e as { categories: ReadonlyArray<string> }).categories.length}`).join(", ")}`)
  }
  const { model, heldOut } = fitBoostingHeldOut(inputs(encoding, frame), frame.target, settings, onIteration ? { onIteration } : undefined)
  return {
    encoding,
    booster: model,
    heldOut: heldOut === null ? undefined : {
      probabilities: toProbabilities(heldOut.raw.slice()),
      target: Float64Array.from(heldOut.rows, (r) => frame.target[r]!)
    }
  }
}
