/** Model: logistic regression on the declared feature columns; save/load as JSON. */
import { Effect, Layer, ParseResult, Schema } from "effect"
import * as NodePath from "node:path"
import { isCategorical, labelsOf } from "../domain/Dataset.js"
import { ModelNotFound, NoDataError } from "../domain/Errors.js"
import { BoostingArtifact, type Learner, type LearnerSelection, LogisticArtifact, type ModelArtifact, ModelArtifactFromJson } from "../domain/Schemas.js"
import { sha256 } from "../lib/Dataset.js"
import type { Frame } from "../lib/Frame.js"
import type { Unseen } from "../lib/learners/Encoding.js"
import { fitBoosted } from "../lib/learners/Boosted.js"
import { encodingOf, probabilitiesOf } from "../lib/learners/Learners.js"
import { fitLinear } from "../lib/learners/Linear.js"
import { fitCalibration, heldOutSplit } from "../lib/Calibration.js"
import { mulberry32 } from "../lib/Random.js"
import { f1Score } from "../lib/Stats.js"
import { rocAuc } from "../lib/Metrics.js"
import { classes } from "../lib/Logistic.js"
import { AppConfig } from "./AppConfig.js"
import { FileStore } from "./FileStore.js"
import { Progress } from "./Progress.js"

export const modelPath = (folder: string) => NodePath.join(folder, "trainedmodel.json")

type FrameColumns = Pick<Frame, "featureNames" | "features" | "levels" | "rows">

export interface Predictions {
  readonly predictions: Uint8Array
  readonly probabilities: Float64Array
}

const encodeArtifact = Schema.encodeSync(ModelArtifactFromJson)

/**
 * The artifact's canonical JSON and its hash (the model's identity), once per artifact: an
 * artifact is never changed, and 100 trees take 10 to 50 ms to encode (a run hashed the same
 * one five times).
 */
const jsonOf = new WeakMap<ModelArtifact, { readonly json: string; hash?: string }>()
export const artifactJson = (m: ModelArtifact) => {
  let known = jsonOf.get(m)
  if (known === undefined) jsonOf.set(m, (known = { json: encodeArtifact(m) }))
  return known.json
}
export const modelHash = (m: ModelArtifact) => {
  artifactJson(m)
  const known = jsonOf.get(m)!
  return (known.hash ??= sha256(known.json))
}

/** Predict with a model on a frame with the model's features (encoded as the model was trained). */
export const predictFrame = (m: ModelArtifact, frame: FrameColumns, unseen?: Array<Unseen>): Predictions => {
  const p = probabilitiesOf(m, frame, unseen)
  return { predictions: classes(p), probabilities: p }
}

/** A frame's rows at `rows`, copied. */
const gather = (col: Float64Array, rows: Uint32Array) => {
  const out = new Float64Array(rows.length)
  for (let k = 0; k < rows.length; k++) out[k] = col[rows[k]!]!
  return out
}
const pick = (frame: Frame, rows: Uint32Array): Frame => ({
  rows: rows.length, featureNames: frame.featureNames, levels: frame.levels,
  features: frame.features.map((col) => gather(col, rows)),
  target: gather(frame.target, rows)
})

const copyFrame = (frame: Frame): Frame => ({ ...frame, features: frame.features.map((c) => c.slice()), target: frame.target.slice() })

/**
 * A stratified split of a frame's rows, deterministic for a seed: `fraction` of each class
 * (at most 200,000 rows in all) for validation, the rest to fit on.
 */
export const splitFrame = (frame: Frame, fraction: number, seed: number) => {
  const random = mulberry32(((seed >>> 0) + 0x9e3779b9) >>> 0)
  const share = Math.min(fraction, 200_000 / Math.max(1, frame.rows))
  const fit: Array<number> = []
  const validation: Array<number> = []
  for (const cls of [0, 1]) {
    const rows: Array<number> = []
    for (let i = 0; i < frame.rows; i++) if (frame.target[i] === cls) rows.push(i)
    for (let i = rows.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[rows[i], rows[j]] = [rows[j]!, rows[i]!]
    }
    const k = Math.round(rows.length * share)
    validation.push(...rows.slice(0, k))
    fit.push(...rows.slice(k))
  }
  const sorted = (xs: Array<number>) => Uint32Array.from(xs.sort((a, b) => a - b))
  return { fit: pick(frame, sorted(fit)), validation: pick(frame, sorted(validation)) }
}

/**
 * A model with fields set that its training did not (how it was chosen, its calibration).
 * Not validated again: the model was (100 trees took about 40 ms), and saving it encodes it,
 * which checks every field.
 */
const amended = (m: ModelArtifact, fields: Pick<Partial<ModelArtifact>, "selection" | "calibration">): ModelArtifact =>
  m.format === "drs-gradient-boosting/1" ? BoostingArtifact.make({ ...m, ...fields }, true) : LogisticArtifact.make({ ...m, ...fields }, true)

export class Model extends Effect.Service<Model>()("drs/Model", {
  effect: Effect.gen(function*() {
    const store = yield* FileStore
    const config = yield* AppConfig
    const progress = yield* Progress

    /** Logistic regression on a frame (its numeric columns imputed in place: the frame is the fit's). */
    const trainLinear = (frame: Frame, dataHash: string) =>
      Effect.gen(function*() {
        if (config.solver === "gradient-descent" && frame.levels.some((l) => l !== null)) {
          return yield* new NoDataError({ message: "the gradient-descent solver takes numeric features only; set solver to liblinear for categorical_columns" })
        }
        const line = progress.start("training")
        const { encoding, columns, fitted } = fitLinear(frame, {
          onIteration: (it) => line.update(frame.rows * it, `iteration ${it}`),
          // the frame is the model's (see above): no second copy of the data
          inPlace: true,
          solver: config.solver,
          C: config.regularization_C,
          tolerance: 1e-10,
          maxIterations: config.solver === "gradient-descent" ? Math.max(config.max_iterations, 1000) : config.max_iterations,
          learningRate: config.learning_rate
        })
        line.done()
        if (!fitted.converged) yield* Effect.logWarning(`the solver stopped after ${fitted.iterations} iterations without converging`)
        yield* Effect.annotateCurrentSpan({ rows: frame.rows, iterations: fitted.iterations })
        return LogisticArtifact.make({
          format: "drs-logistic-regression/2",
          features: [...frame.featureNames],
          encoding,
          labels: labelsOf(config.dataset),
          columns,
          solver: config.solver,
          C: config.regularization_C,
          means: fitted.means,
          scales: fitted.scales,
          interceptStd: fitted.interceptStd,
          weightsStd: fitted.weightsStd,
          coefficients: fitted.coefficients,
          intercept: fitted.intercept,
          iterations: fitted.iterations,
          converged: fitted.converged,
          trainedAt: new Date().toISOString(),
          trainingRows: frame.rows,
          dataHash
        })
      })

    /**
     * Gradient-boosted trees on a frame, with the probabilities on early stopping's validation
     * rows (held out of every tree) when there are some.
     */
    const fitTrees = (frame: Frame, dataHash: string) =>
      Effect.gen(function*() {
        const settings = config.gradient_boosting
        const line = progress.start("training")
        const fitted = yield* Effect.try({
          try: () => fitBoosted(frame, settings, (it) => line.update(frame.rows * it, `tree ${it}`)),
          catch: (e) => new NoDataError({ message: `gradient boosting: ${(e as Error).message}` })
        })
        line.done()
        yield* Effect.annotateCurrentSpan({ rows: frame.rows, trees: fitted.booster.iterations })
        const model = BoostingArtifact.make({
          format: "drs-gradient-boosting/1",
          features: [...frame.featureNames],
          encoding: fitted.encoding,
          labels: labelsOf(config.dataset),
          booster: fitted.booster,
          trainedAt: new Date().toISOString(),
          trainingRows: frame.rows,
          dataHash
        })
        return { model, heldOut: fitted.heldOut }
      })
    const trainBoosted = (frame: Frame, dataHash: string) => Effect.map(fitTrees(frame, dataHash), (fitted) => fitted.model)

    /**
     * learner "auto": both learners on the training rows less a stratified validation split
     * (a fifth, at most 200,000 rows; never the test data, which the gate uses), the better
     * F1 there kept and fitted again on every row, with both candidates' figures recorded and
     * the calibration of the kept candidate's probabilities on the validation rows.
     */
    const trainAuto = (frame: Frame, dataHash: string) =>
      Effect.gen(function*() {
        const { fit, validation } = splitFrame(frame, 0.2, config.gradient_boosting.random_state)
        if (validation.rows === 0 || fit.rows === 0) return yield* calibrated(frame, dataHash, trainLinear)
        const candidates: Array<LearnerSelection["candidates"][number]> = []
        const heldOut: Array<Float64Array> = []
        for (const [learner, train] of [["logistic-regression", trainLinear], ["gradient-boosting", trainBoosted]] as const) {
          const m = yield* train(copyFrame(fit), dataHash)
          const p = probabilitiesOf(m, validation)
          heldOut.push(p)
          candidates.push({ learner, f1: f1Score(validation.target, classes(p)), rocAuc: rocAuc(validation.target, p) })
        }
        const k = candidates[1]!.f1 > candidates[0]!.f1 ? 1 : 0
        const chosen = candidates[k]!.learner
        yield* Effect.logInfo(`learner auto: ${candidates.map((c) => `${c.learner} F1 ${c.f1.toFixed(4)}`).join(", ")} on ${validation.rows} validation rows; keeping ${chosen}`)
        const selection: LearnerSelection = { validationRows: validation.rows, candidates, chosen }
        // the chosen candidate was fitted without the validation rows: it is the twin CBPE's
        // calibration needs, and its probabilities there are already at hand
        const calibration = fitCalibration(heldOut[k]!, validation.target)
        const m = yield* (chosen === "gradient-boosting" ? trainBoosted : trainLinear)(frame, dataHash)
        return amended(m, { selection, ...(calibration !== undefined ? { calibration } : {}) })
      })

    /**
     * Fit the configured learner on a frame. A numeric column's missing values may be filled
     * in place: the frame belongs to the model from here on.
     */
    const train = Effect.fn("Model.train")(function*(frame: Frame, dataHash: string, learner: Learner = config.learner) {
      if (frame.rows === 0) return yield* new NoDataError({ message: "cannot train on an empty data set" })
      switch (learner) {
        case "logistic-regression": return yield* calibrated(frame, dataHash, trainLinear)
        case "gradient-boosting": return yield* calibratedTrees(frame, dataHash)
        case "auto": return yield* trainAuto(frame, dataHash)
      }
    })

    /**
     * CBPE's calibration from a twin of the model fitted without a fifth of the rows
     * (lib/Calibration's heldOutSplit): the twin's probabilities there mapped to the labels.
     * The twin reads copies (a fit may change its frame's columns).
     */
    const twinCalibration = <M extends ModelArtifact, E>(frame: Frame, dataHash: string, fitOn: (frame: Frame, dataHash: string) => Effect.Effect<M, E>) => {
      const split = heldOutSplit(frame.rows)
      return split === undefined ? Effect.succeed(undefined) : fitOn(pick(frame, split.fit), dataHash).pipe(
        Effect.map((twin) => {
          const heldOut = pick(frame, split.heldOut)
          return fitCalibration(probabilitiesOf(twin, heldOut), heldOut.target)
        }),
        Effect.withLogSpan("calibration")
      )
    }

    /** A model with CBPE's calibration, from its twin's (before the model's own fit changes the frame). */
    const calibrated = <M extends ModelArtifact, E>(frame: Frame, dataHash: string, fitOn: (frame: Frame, dataHash: string) => Effect.Effect<M, E>) =>
      Effect.gen(function*() {
        const calibration = yield* twinCalibration(frame, dataHash, fitOn)
        const m = yield* fitOn(frame, dataHash)
        return calibration === undefined ? m : amended(m, { calibration })
      })

    /**
     * Trees with CBPE's calibration: early stopping's validation rows were held out of every
     * tree, so the model's own probabilities there calibrate it, and no twin is fitted; without
     * early stopping, a twin's.
     */
    const calibratedTrees = (frame: Frame, dataHash: string) =>
      Effect.gen(function*() {
        const { model, heldOut } = yield* fitTrees(frame, dataHash)
        const calibration = heldOut !== undefined
          ? fitCalibration(heldOut.probabilities, heldOut.target)
          : yield* twinCalibration(frame, dataHash, trainBoosted)
        return calibration === undefined ? model : amended(model, { calibration })
      })

    /** Predictions for a frame whose features are the model's, in its order. */
    const predict = (m: ModelArtifact, frame: FrameColumns, unseen?: Array<Unseen>): Predictions => predictFrame(m, frame, unseen)

    const save = Effect.fn("Model.save")(function*(m: ModelArtifact, path: string = modelPath(config.output_model_path)) {
      yield* store.writeAtomic(path, JSON.stringify(JSON.parse(artifactJson(m)), null, 2) + "\n").pipe(Effect.orDie)
      return path
    })

    // the last text decoded and its artifact: a run decodes the same model file several times
    // (scoring, the deployment, the report), 100 trees in 10 to 70 ms each
    let lastDecoded: { readonly text: string; readonly model: ModelArtifact } | null = null

    /** A model from its JSON text; `path` names where it came from in messages. */
    const decode = Effect.fn("Model.decode")(function*(text: string, path: string) {
      const m = lastDecoded !== null && lastDecoded.text === text ? lastDecoded.model : yield* Schema.decodeUnknown(ModelArtifactFromJson)(text).pipe(
        Effect.mapError((e) => new ModelNotFound({ path, message: `the model file ${path} is not a valid model: ${ParseResult.TreeFormatter.formatErrorSync(e)}` }))
      )
      lastDecoded = { text, model: m }
      const declared = config.dataset.feature_columns
      if (m.features.length !== declared.length || m.features.some((f, j) => f !== declared[j])) {
        return yield* new ModelNotFound({ path, message: `the model at ${path} uses the features ${m.features.join(", ")}, but config.json declares ${declared.join(", ")}` })
      }
      const kinds = encodingOf(m).filter((e) => (e.kind === "categorical") !== isCategorical(config.dataset, e.name))
      if (kinds.length > 0) {
        return yield* new ModelNotFound({ path, message: `the model at ${path} encodes ${kinds.map((e) => `${e.name} as ${e.kind}`).join(", ")}, but config.json's categorical_columns say otherwise` })
      }
      return m
    })

    const load = Effect.fn("Model.load")(function*(path: string = modelPath(config.output_model_path)) {
      const text = yield* store.readText(path).pipe(
        Effect.mapError((e) => new ModelNotFound({ path, message: `no trained model at ${path} (${e.message}); run the training step first` }))
      )
      return yield* decode(text, path)
    })

    return { train, predict, save, load, decode } as const
  })
}) {
  static readonly layerTest = Model.Default.pipe(Layer.provideMerge(Layer.mergeAll(FileStore.layerTemp(), AppConfig.layerTest(), Progress.layerTest)))
}
