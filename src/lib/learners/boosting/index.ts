/** The boosting learner's public API, in one place. */
export {
  defaultBoostingSettings,
  fitBoosting,
  logLoss,
  predictProba,
  predictRaw,
  type BoostedModel,
  type BoostingSettings,
  type FeatureBinning,
  type FeatureColumn,
  type Tree
} from "./boosting.js"
export { treeShap } from "../treeshap.js"
