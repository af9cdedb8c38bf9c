/** Model: logistic regression on the three activity features; save/load as JSON. */
import { Effect, Layer, ParseResult, Schema } from "effect"
import * as NodePath from "node:path"
import { ModelNotFound, NoDataError } from "../domain/Errors.js"
import { FEATURES, ModelArtifact, ModelArtifactFromJson, type Row } from "../domain/Schemas.js"
import { sha256 } from "../lib/Dataset.js"
import { fit, predict as predictOne, probability } from "../lib/Logistic.js"
import { median } from "../lib/Stats.js"
import { AppConfig } from "./AppConfig.js"
import { FileStore } from "./FileStore.js"

export const modelPath = (folder: string) => NodePath.join(folder, "trainedmodel.json")

export interface Predictions {
  readonly predictions: ReadonlyArray<0 | 1>
  readonly probabilities: ReadonlyArray<number>
}

const encodeArtifact = Schema.encodeSync(ModelArtifactFromJson)

/** The artifact's canonical JSON and its hash (the model's identity). */
export const artifactJson = (m: ModelArtifact) => encodeArtifact(m)
export const modelHash = (m: ModelArtifact) => sha256(artifactJson(m))

const featureMatrix = (rows: ReadonlyArray<Row>, impute: ReadonlyArray<number>) =>
  FEATURES.map((f, j) => {
    const col = new Float64Array(rows.length)
    for (let i = 0; i < rows.length; i++) col[i] = rows[i]![f] ?? impute[j]!
    return col
  })

export class Model extends Effect.Service<Model>()("drs/Model", {
  effect: Effect.gen(function*() {
    const store = yield* FileStore
    const config = yield* AppConfig

    const train = Effect.fn("Model.train")(function*(rows: ReadonlyArray<Row>, dataHash: string) {
      if (rows.length === 0) return yield* new NoDataError({ message: "cannot train on an empty data set" })
      const impute = FEATURES.map((f) => {
        const present = rows.map((r) => r[f]).filter((v): v is number => v !== null)
        return present.length > 0 ? median(present) : 0
      })
      const y = Float64Array.from(rows, (r) => r.exited)
      const fitted = fit(featureMatrix(rows, impute), y, {
        solver: config.solver,
        C: config.regularization_C,
        tolerance: 1e-10,
        maxIterations: config.solver === "gradient-descent" ? Math.max(config.max_iterations, 1000) : config.max_iterations,
        learningRate: config.learning_rate
      })
      if (!fitted.converged) yield* Effect.logWarning(`the solver stopped after ${fitted.iterations} iterations without converging`)
      yield* Effect.annotateCurrentSpan({ rows: rows.length, iterations: fitted.iterations })
      return ModelArtifact.make({
        format: "drs-logistic-regression/1",
        features: [...FEATURES],
        solver: config.solver,
        C: config.regularization_C,
        means: fitted.means,
        scales: fitted.scales,
        impute,
        interceptStd: fitted.interceptStd,
        weightsStd: fitted.weightsStd,
        coefficients: fitted.coefficients,
        intercept: fitted.intercept,
        iterations: fitted.iterations,
        converged: fitted.converged,
        trainedAt: new Date().toISOString(),
        trainingRows: rows.length,
        dataHash
      })
    })

    const predict = (m: ModelArtifact, rows: ReadonlyArray<Row>): Predictions => {
      const predictions = new Array<0 | 1>(rows.length)
      const probabilities = new Array<number>(rows.length)
      const x = new Array<number>(FEATURES.length)
      for (let i = 0; i < rows.length; i++) {
        for (let j = 0; j < FEATURES.length; j++) x[j] = rows[i]![FEATURES[j]!] ?? m.impute[j]!
        probabilities[i] = probability(m, x)
        predictions[i] = predictOne(m, x)
      }
      return { predictions, probabilities }
    }

    const save = Effect.fn("Model.save")(function*(m: ModelArtifact, path: string = modelPath(config.output_model_path)) {
      yield* store.writeAtomic(path, JSON.stringify(JSON.parse(artifactJson(m)), null, 2) + "\n").pipe(Effect.orDie)
      return path
    })

    const load = Effect.fn("Model.load")(function*(path: string = modelPath(config.output_model_path)) {
      const text = yield* store.readText(path).pipe(
        Effect.mapError((e) => new ModelNotFound({ path, message: `no trained model at ${path} (${e.message}); run the training step first` }))
      )
      return yield* Schema.decodeUnknown(ModelArtifactFromJson)(text).pipe(
        Effect.mapError((e) => new ModelNotFound({ path, message: `the model file ${path} is not a valid model: ${ParseResult.TreeFormatter.formatErrorSync(e)}` }))
      )
    })

    return { train, predict, save, load } as const
  })
}) {
  static readonly layerTest = Model.Default.pipe(Layer.provideMerge(Layer.mergeAll(FileStore.layerMemory(), AppConfig.layerTest())))
}
