/** Model: logistic regression on the declared feature columns; save/load as JSON. */
import { Effect, Layer, ParseResult, Schema } from "effect"
import * as NodePath from "node:path"
import { isCategorical, labelsOf } from "../domain/Dataset.js"
import { ModelNotFound, NoDataError } from "../domain/Errors.js"
import { ModelArtifact, ModelArtifactFromJson } from "../domain/Schemas.js"
import { sha256 } from "../lib/Dataset.js"
import type { Frame } from "../lib/Frame.js"
import type { Unseen } from "../lib/learners/Encoding.js"
import { encodingOf, fitLinear, linearProbabilities } from "../lib/learners/Linear.js"
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

/** The artifact's canonical JSON and its hash (the model's identity). */
export const artifactJson = (m: ModelArtifact) => encodeArtifact(m)
export const modelHash = (m: ModelArtifact) => sha256(artifactJson(m))

/** Predict with a model on a frame with the model's features (encoded as the model was trained). */
export const predictFrame = (m: ModelArtifact, frame: FrameColumns, unseen?: Array<Unseen>): Predictions => {
  const p = linearProbabilities(m, frame, unseen)
  return { predictions: classes(p), probabilities: p }
}

export class Model extends Effect.Service<Model>()("drs/Model", {
  effect: Effect.gen(function*() {
    const store = yield* FileStore
    const config = yield* AppConfig
    const progress = yield* Progress

    /**
     * Fit on a frame. Its numeric columns' missing values are filled in place with the
     * training medians: the frame belongs to the model from here on.
     */
    const train = Effect.fn("Model.train")(function*(frame: Frame, dataHash: string) {
      if (frame.rows === 0) return yield* new NoDataError({ message: "cannot train on an empty data set" })
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
      return ModelArtifact.make({
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

    /** Predictions for a frame whose features are the model's, in its order. */
    const predict = (m: ModelArtifact, frame: FrameColumns, unseen?: Array<Unseen>): Predictions => predictFrame(m, frame, unseen)

    const save = Effect.fn("Model.save")(function*(m: ModelArtifact, path: string = modelPath(config.output_model_path)) {
      yield* store.writeAtomic(path, JSON.stringify(JSON.parse(artifactJson(m)), null, 2) + "\n").pipe(Effect.orDie)
      return path
    })

    /** A model from its JSON text; `path` names where it came from in messages. */
    const decode = Effect.fn("Model.decode")(function*(text: string, path: string) {
      const m = yield* Schema.decodeUnknown(ModelArtifactFromJson)(text).pipe(
        Effect.mapError((e) => new ModelNotFound({ path, message: `the model file ${path} is not a valid model: ${ParseResult.TreeFormatter.formatErrorSync(e)}` }))
      )
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
