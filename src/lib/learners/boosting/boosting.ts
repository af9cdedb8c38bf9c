/**
 * Histogram gradient boosting for binary targets, as scikit-learn 1.2.1's
 * `HistGradientBoostingClassifier` (loss "log_loss", scoring "loss").
 *
 * baseline = logit(mean y); each iteration fits one tree to the float32 gradients / hessians
 * of the half-binomial loss at the current raw predictions. Early stopping ("auto": on when
 * rows > 10 000) holds out a stratified `validation_fraction` of the rows (chosen by a seeded
 * shuffle: deterministic, but not numpy's draw) and stops when none of the last
 * `n_iter_no_change` validation scores (−log loss) beats the one before them by more than `tol`.
 * Synchronous; from threads.PARALLEL_ROWS rows on, the per-row work of each tree runs on two
 * threads (chunks.ts), with the same results on any machine.
 */
import {
  binColumn,
  columnLength,
  fitBinning,
  nonMissingBins,
  seededRandom,
  type FeatureBinning,
  type FeatureColumn
} from "./binning.js"
import { makeChunks } from "./chunks.js"
import { logLoss } from "./loss.js"
import { growTree, type HistogramPool } from "./grower.js"
import type { SplitterContext } from "./splitter.js"
import { packTrees, predictBinned, routeTree } from "./predictor.js"
import { addTreePredictions, compiledTree, type Tree } from "./tree.js"

export type { FeatureColumn, FeatureBinning, Tree }
export { logLoss }

export interface BoostingSettings {
  readonly learning_rate: number
  readonly max_iter: number
  readonly max_leaf_nodes: number | null
  readonly max_depth: number | null
  readonly min_samples_leaf: number
  readonly l2_regularization: number
  readonly max_bins: number
  readonly early_stopping: "auto" | boolean
  readonly validation_fraction: number
  readonly n_iter_no_change: number
  readonly tol: number
  readonly random_state: number
}

export const defaultBoostingSettings: BoostingSettings = {
  learning_rate: 0.1,
  max_iter: 100,
  max_leaf_nodes: 31,
  max_depth: null,
  min_samples_leaf: 20,
  l2_regularization: 0,
  max_bins: 255,
  early_stopping: "auto",
  validation_fraction: 0.1,
  n_iter_no_change: 10,
  tol: 1e-7,
  random_state: 0
}

/** A fitted model: plain JSON (numbers, strings, booleans, arrays, objects). */
export interface BoostedModel {
  readonly format: "hist-gradient-boosting"
  /** logit of the training prior: the raw prediction before any tree */
  readonly baseline: number
  readonly features: ReadonlyArray<FeatureBinning>
  readonly trees: ReadonlyArray<Tree>
  /** boosting iterations run (= trees.length) */
  readonly iterations: number
  readonly early_stopping: {
    readonly enabled: boolean
    readonly stopped_early: boolean
    /** log loss of the training (at most 10,000 of them) / validation rows, at the baseline and after each iteration */
    readonly train_loss: ReadonlyArray<number>
    readonly validation_loss: ReadonlyArray<number>
    readonly validation_rows: number
  }
  readonly settings: BoostingSettings
}

const validate = (features: ReadonlyArray<FeatureColumn>, target: ArrayLike<number>, s: BoostingSettings) => {
  const n = target.length
  features.forEach((f, j) => {
    if (columnLength(f) !== n) throw new Error(`feature ${j} has ${columnLength(f)} rows, target has ${n}`)
  })
  for (let i = 0; i < n; i++) {
    const y = target[i]
    if (y !== 0 && y !== 1) throw new Error(`target[${i}] = ${y}: the target must be 0 or 1`)
  }
  if (!(s.max_bins >= 2 && s.max_bins <= 255)) throw new Error("max_bins must be in [2, 255]")
  if (!(s.learning_rate > 0)) throw new Error("learning_rate must be > 0")
  if (!(s.max_iter >= 1)) throw new Error("max_iter must be >= 1")
  if (s.max_leaf_nodes !== null && !(s.max_leaf_nodes >= 2)) throw new Error("max_leaf_nodes must be >= 2")
  if (s.max_depth !== null && !(s.max_depth >= 1)) throw new Error("max_depth must be >= 1")
  if (!(s.min_samples_leaf >= 1)) throw new Error("min_samples_leaf must be >= 1")
  if (!(s.l2_regularization >= 0)) throw new Error("l2_regularization must be >= 0")
  if (!(s.n_iter_no_change >= 1)) throw new Error("n_iter_no_change must be >= 1")
}

/**
 * Stratified split: from each class, a seeded shuffle puts round(share) rows in validation,
 * ceil(fraction · n) in all (scikit-learn's test size). Both index lists ascending.
 */
const stratifiedSplit = (y: ArrayLike<number>, fraction: number, seed: number) => {
  const n = y.length
  const nVal = Math.ceil(fraction * n)
  const random = seededRandom(seed + 1)
  let positives = 0
  for (let i = 0; i < n; i++) positives += y[i]!
  const byClass = [new Uint32Array(n - positives), new Uint32Array(positives)]
  const fill = [0, 0]
  for (let i = 0; i < n; i++) byClass[y[i]!]![fill[y[i]!]!++] = i
  const take0 = Math.min(byClass[0]!.length, Math.round((nVal * byClass[0]!.length) / n))
  const take = [take0, Math.min(byClass[1]!.length, nVal - take0)]
  const isVal = new Uint8Array(n)
  byClass.forEach((rows, c) => {
    // partial Fisher–Yates: the first take[c] slots become a uniform sample
    for (let k = 0; k < take[c]!; k++) {
      const j = k + Math.floor(random() * (rows.length - k))
      const t = rows[k]!
      rows[k] = rows[j]!
      rows[j] = t
      isVal[rows[k]!] = 1
    }
  })
  const train = new Uint32Array(n - nVal)
  const val = new Uint32Array(nVal)
  let a = 0
  let b = 0
  for (let i = 0; i < n; i++) {
    if (isVal[i]) val[b++] = i
    else train[a++] = i
  }
  return { train, val }
}

/** The training rows the training loss is computed on, at most (scikit-learn's small trainset). */
const SMALL_TRAINSET = 10_000

export interface FitOptions {
  readonly onIteration?: (i: number) => void
  /** threads to use at most (default: the machine's cores); the model is the same for any */
  readonly threads?: number
}

/** The rows early stopping held out of every tree, and the fitted model's raw predictions there. */
export interface HeldOut {
  readonly rows: Uint32Array
  readonly raw: Float64Array
}

export const fitBoosting = (
  features: ReadonlyArray<FeatureColumn>,
  target: ArrayLike<number>,
  settings: BoostingSettings,
  options?: FitOptions
): BoostedModel => fitBoostingHeldOut(features, target, settings, options).model

/** A fit, with its validation rows' predictions when early stopping held some out (null otherwise). */
export const fitBoostingHeldOut = (
  features: ReadonlyArray<FeatureColumn>,
  target: ArrayLike<number>,
  settings: BoostingSettings,
  options?: FitOptions
): { readonly model: BoostedModel; readonly heldOut: HeldOut | null } => {
  validate(features, target, settings)
  const nAll = target.length
  const earlyStopping = settings.early_stopping === "auto" ? nAll > 10_000 : settings.early_stopping
  const split = earlyStopping ? stratifiedSplit(target, settings.validation_fraction, settings.random_state) : null
  const trainRows = split?.train
  const n = trainRows === undefined ? nAll : trainRows.length
  const nFeatures = features.length
  const maxBins = settings.max_bins
  const binStride = maxBins + 1
  // leaves of a tree, at most
  const leafBound = Math.max(2, Math.min(
    settings.max_leaf_nodes ?? Infinity,
    settings.max_depth !== null ? 2 ** settings.max_depth : Infinity,
    Math.ceil(n / settings.min_samples_leaf)
  ))
  // the targets and the binned features in the chunks' memory (their threads read them)
  const chunks = makeChunks(n, nFeatures, binStride, leafBound, options?.threads, split?.val.length ?? 0)
  const yTrain = chunks.y
  for (let i = 0; i < n; i++) yTrain[i] = target[trainRows === undefined ? i : trainRows[i]!]!

  const missingBin = maxBins
  const binnings = fitBinning(features, maxBins, settings.random_state, trainRows)
  // row-major (kernels.wat)
  const binned = chunks.binned
  const hasMissing = new Uint8Array(nFeatures)
  const column = new Uint8Array(n)
  features.forEach((f, j) => {
    binColumn(f, binnings[j]!, missingBin, trainRows, column)
    let missing = 0
    for (let i = 0, at = j; i < n; i++, at += nFeatures) {
      const b = column[i]!
      binned[at] = b
      missing |= b === missingBin ? 1 : 0
    }
    hasMissing[j] = missing
  })
  // the validation rows binned too (as scikit-learn predicts them during early stopping), in
  // the chunks' memory: their threads score them after each tree
  const binnedVal = chunks.validation?.binned ?? null
  if (binnedVal !== null) {
    const valColumn = new Uint8Array(split!.val.length)
    features.forEach((f, j) => {
      binColumn(f, binnings[j]!, missingBin, split!.val, valColumn)
      for (let i = 0, at = j; i < valColumn.length; i++, at += nFeatures) binnedVal[at] = valColumn[i]!
    })
  }

  let positives = 0
  for (let i = 0; i < n; i++) positives += yTrain[i]!
  const eps = 10 * Number.EPSILON
  const prior = Math.min(Math.max(positives / n, eps), 1 - eps)
  const baseline = Math.log(prior / (1 - prior))

  // the training rows' predictions, as inverse odds exp(−raw) (kernels.wat)
  const inverseOdds = chunks.inverseOdds
  inverseOdds.fill(Math.exp(-baseline))
  const sctx: SplitterContext = {
    nFeatures, binStride, missingBin,
    nBinsNonMissing: Int32Array.from(binnings, nonMissingBins),
    hasMissing,
    isCategorical: Uint8Array.from(features, (f) => (f.kind === "categorical" ? 1 : 0)),
    minSamplesLeaf: settings.min_samples_leaf,
    l2: settings.l2_regularization
  }
  const growerSettings = {
    maxLeafNodes: settings.max_leaf_nodes, maxDepth: settings.max_depth,
    minSamplesLeaf: settings.min_samples_leaf, shrinkage: settings.learning_rate
  }
  const pool: HistogramPool = []

  const valRows = split?.val
  const yVal = chunks.validation?.y ?? null
  const rawVal = chunks.validation?.raw ?? null
  if (valRows !== undefined) {
    for (let i = 0; i < valRows.length; i++) yVal![i] = target[valRows[i]!]!
    rawVal!.fill(baseline)
  }
  const trainLoss: Array<number> = []
  const validationLoss: Array<number> = []
  const scores: Array<number> = []
  // the training loss on at most 10,000 evenly spread rows, as scikit-learn scores a small
  // subset of the training rows (a full pass a tree cost a fifth of the fit at 1M rows)
  const small = n <= SMALL_TRAINSET ? null : Uint32Array.from({ length: SMALL_TRAINSET }, (_, k) => Math.floor((k * n) / SMALL_TRAINSET))
  const ySmall = small === null ? yTrain : Uint8Array.from(small, (i) => yTrain[i]!)
  const rawSmall = new Float64Array(small === null ? n : small.length)
  /** the losses after a tree; `v` the validation rows' (the chunks' threads computed it) */
  const record = (v: number) => {
    for (let k = 0; k < rawSmall.length; k++) rawSmall[k] = -Math.log(inverseOdds[small === null ? k : small[k]!]!)
    trainLoss.push(logLoss(ySmall, rawSmall))
    validationLoss.push(v)
    scores.push(-v)
  }
  const shouldStop = () => {
    const reference = settings.n_iter_no_change + 1
    if (scores.length < reference) return false
    const referenceScore = scores[scores.length - reference]! + settings.tol
    for (let k = scores.length - reference + 1; k < scores.length; k++) if (scores[k]! > referenceScore) return false
    return true
  }
  if (earlyStopping) record(logLoss(yVal!, rawVal!))

  const trees: Array<Tree> = []
  let stopped = false
  try {
    for (let iteration = 0; iteration < settings.max_iter; iteration++) {
      const grown = growTree(chunks, sctx, binnings, growerSettings, pool)
      trees.push(grown.tree)
      chunks.applyLeaves(grown.leafRanges, grown.leafValues, grown.leaves)
      options?.onIteration?.(iteration)
      if (earlyStopping) {
        // routed as every prediction is (a grown tree's thresholds are its binning's)
        const routes = routeTree(grown.tree, binnings, maxBins)!
        record(chunks.validate(packTrees([grown.tree], [routes], binStride)))
        if (shouldStop()) {
          stopped = true
          break
        }
      }
    }
  } finally {
    chunks.close()
  }

  const model: BoostedModel = {
    format: "hist-gradient-boosting",
    baseline,
    features: binnings,
    trees,
    iterations: trees.length,
    early_stopping: {
      enabled: earlyStopping,
      stopped_early: stopped,
      train_loss: trainLoss,
      validation_loss: validationLoss,
      validation_rows: valRows?.length ?? 0
    },
    settings
  }
  return { model, heldOut: valRows === undefined ? null : { rows: valRows, raw: Float64Array.from(rawVal!) } }
}

const checkColumns = (model: BoostedModel, features: ReadonlyArray<FeatureColumn>, rows: number) => {
  if (features.length !== model.features.length) {
    throw new Error(`the model has ${model.features.length} features, got ${features.length}`)
  }
  features.forEach((f, j) => {
    if (f.kind !== model.features[j]!.kind) throw new Error(`feature ${j} is ${f.kind}, the model's is ${model.features[j]!.kind}`)
    if (columnLength(f) < rows) throw new Error(`feature ${j} has fewer than ${rows} rows`)
  })
}

/** Raw predictions (log-odds). */
export const predictRaw = (model: BoostedModel, features: ReadonlyArray<FeatureColumn>, rows: number): Float64Array => {
  checkColumns(model, features, rows)
  const binned = predictBinned(model, features, rows)
  if (binned !== null) return binned
  const out = new Float64Array(rows).fill(model.baseline)
  for (const tree of model.trees) addTreePredictions(compiledTree(tree), features, rows, out)
  return out
}

/** P(y = 1) per row. */
export const predictProba = (model: BoostedModel, features: ReadonlyArray<FeatureColumn>, rows: number): Float64Array =>
  toProbabilities(predictRaw(model, features, rows))

/** Raw predictions (log-odds) turned into P(y = 1), in place. */
export const toProbabilities = (raw: Float64Array): Float64Array => {
  for (let i = 0; i < raw.length; i++) {
    const z = raw[i]!
    raw[i] = z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z))
  }
  return raw
}
