/** Model: logistic regression on the declared feature columns; save/load as JSON. */
import { Effect, Layer, ParseResult, Schema } from "effect"
import * as NodePath from "node:path"
import { ModelNotFound, NoDataError } from "../domain/Errors.js"
import { ModelArtifact, ModelArtifactFromJson } from "../domain/Schemas.js"
import { sha256 } from "../lib/Dataset.js"
import { type Frame, presentMedian } from "../lib/Frame.js"
import { heldOutCalibration } from "../lib/Calibration.js"
import { classes, fit, probabilities } from "../lib/Logistic.js"
import { AppConfig } from "./AppConfig.js"
import { FileStore } from "./FileStore.js"
import { Progress } from "./Progress.js"

export const modelPath = (folder: string) => NodePath.join(folder, "trainedmodel.json")

export interface Predictions {
  readonly predictions: Uint8Array
  readonly probabilities: Float64Array
}

const encodeArtifact = Schema.encodeSync(ModelArtifactFromJson)

/** The artifact's canonical JSON and its hash (the model's identity). */
export const artifactJson = (m: ModelArtifact) => encodeArtifact(m)
export const modelHash = (m: ModelArtifact) => sha256(artifactJson(m))

/** Predict with a model on columns named by the model's features (missing values: the training medians). */
export const predictColumns = (m: ModelArtifact, features: ReadonlyArray<ArrayLike<number>>, rows: number): Predictions => {
  const p = probabilities(m, features, rows, m.impute)
  return { predictions: classes(p), probabilities: p }
}

export class Model extends Effect.Service<Model>()("drs/Model", {
  effect: Effect.gen(function*() {
    const store = yield* FileStore
    const config = yield* AppConfig
    const progress = yield* Progress

    /**
     * Fit on a frame. Missing (NaN) feature values are filled in place with `impute`, by
     * default the column medians: the frame belongs to the model from here on.
     */
    const train = Effect.fn("Model.train")(function*(frame: Frame, dataHash: string, impute?: ReadonlyArray<number>) {
      if (frame.rows === 0) return yield* new NoDataError({ message: "cannot train on an empty data set" })
      const fill = impute ?? frame.features.map((col) => {
        const m = presentMedian(col)
        return Number.isNaN(m) ? 0 : m
      })
      frame.features.forEach((col, j) => {
        for (let i = 0; i < col.length; i++) if (Number.isNaN(col[i]!)) col[i] = fill[j]!
      })
      const settings = {
        solver: config.solver,
        C: config.regularization_C,
        tolerance: 1e-10,
        maxIterations: config.solver === "gradient-descent" ? Math.max(config.max_iterations, 1000) : config.max_iterations,
        learningRate: config.learning_rate
      }
      // CBPE's calibration, on rows held out of a twin fit (before the fit below changes the columns)
      const calibration = heldOutCalibration(frame.features, frame.target, (train, held) =>
        probabilities(fit(train.features, train.target, { ...settings, inPlace: true }), held.features, held.rows, fill))
      const line = progress.start("training")
      const fitted = fit(frame.features, frame.target, {
        ...settings,
        onIteration: (it) => line.update(frame.rows * it, `iteration ${it}`),
        // the frame is the model's (see above): no second copy of the data
        inPlace: true
      })
      line.done()
      if (!fitted.converged) yield* Effect.logWarning(`the solver stopped after ${fitted.iterations} iterations without converging`)
      yield* Effect.annotateCurrentSpan({ rows: frame.rows, iterations: fitted.iterations })
      return ModelArtifact.make({
        format: "drs-logistic-regression/1",
        features: [...frame.featureNames],
        solver: config.solver,
        C: config.regularization_C,
        means: fitted.means,
        scales: fitted.scales,
        impute: [...fill],
        interceptStd: fitted.interceptStd,
        weightsStd: fitted.weightsStd,
        coefficients: fitted.coefficients,
        intercept: fitted.intercept,
        iterations: fitted.iterations,
        converged: fitted.converged,
        trainedAt: new Date().toISOString(),
        trainingRows: frame.rows,
        dataHash,
        ...(calibration !== undefined ? { calibration } : {})
      })
    })

    /** Predictions for a frame whose features are the model's, in its order. */
    const predict = (m: ModelArtifact, frame: Pick<Frame, "features" | "rows">): Predictions => predictColumns(m, frame.features, frame.rows)

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
