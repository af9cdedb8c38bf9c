/** The boosting learner's public API, in one place. */
export {
  defaultBoostingSettings,
  fitBoosting,
  fitBoostingHeldOut,
  logLoss,
  predictProba,
  predictRaw,
  toProbabilities,
  type BoostedModel,
  type BoostingSettings,
  type FeatureBinning,
  type FeatureColumn,
  type HeldOut,
  type Tree
} from "./boosting.js"
export { treeShap } from "../treeshap.js"
