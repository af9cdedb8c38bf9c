/** Scorer: F1 of a model on a data set; latestscore.txt and the score history. */
import { Effect, Layer } from "effect"
import * as NodePath from "node:path"
import { ModelArtifact, type Row, ScoreResult } from "../domain/Schemas.js"
import { readDataset } from "../lib/Dataset.js"
import { confusionMatrix, f1FromMatrix } from "../lib/Stats.js"
import { AppConfig } from "./AppConfig.js"
import { FileStore } from "./FileStore.js"
import { Model, modelHash } from "./Model.js"
import { type ScorePurpose, Tracking } from "./Tracking.js"

export const latestScorePath = (folder: string) => NodePath.join(folder, "latestscore.txt")

export class Scorer extends Effect.Service<Scorer>()("drs/Scorer", {
  effect: Effect.gen(function*() {
    const store = yield* FileStore
    const config = yield* AppConfig
    const model = yield* Model
    const tracking = yield* Tracking

    /** Score a model on rows, recording nothing. */
    const evaluate = (m: ModelArtifact, rows: ReadonlyArray<Row>, dataset: string) => {
      const { predictions } = model.predict(m, rows)
      const cm = confusionMatrix(rows.map((r) => r.exited), predictions)
      return ScoreResult.make({
        f1: f1FromMatrix(cm), rows: rows.length, confusionMatrix: cm, dataset,
        modelHash: modelHash(m), at: new Date().toISOString()
      })
    }

    /** Score a model on rows; recorded in the history under `purpose`. */
    const score = Effect.fn("Scorer.score")(function*(m: ModelArtifact, rows: ReadonlyArray<Row>, dataset: string, purpose: ScorePurpose) {
      const result = evaluate(m, rows, dataset)
      yield* tracking.recordScore({ modelHash: result.modelHash, purpose, dataset, rows: rows.length, f1: result.f1 })
      yield* Effect.annotateCurrentSpan({ f1: result.f1, dataset })
      return result
    })

    const testData = Effect.fn("Scorer.testData")(function*() {
      return yield* readDataset(config.test_data_path).pipe(Effect.provideService(FileStore, store))
    })

    /** Score on the test data and write latestscore.txt next to the model. */
    const scoreTestData = Effect.fn("Scorer.scoreTestData")(function*(m: ModelArtifact) {
      const rows = yield* testData()
      const result = yield* score(m, rows, config.test_data_path, "training")
      yield* tracking.setModelScore(result.modelHash, result.f1)
      yield* store.writeAtomic(latestScorePath(config.output_model_path), `${result.f1}\n`).pipe(Effect.orDie)
      yield* Effect.logInfo(`F1 on ${config.test_data_path}: ${result.f1}`)
      return result
    })

    return { evaluate, score, testData, scoreTestData } as const
  })
}) {
  static readonly layerTest = Scorer.Default.pipe(
    Layer.provideMerge(Model.Default),
    Layer.provideMerge(Layer.mergeAll(FileStore.layerMemory(), Tracking.layerTest, AppConfig.layerTest()))
  )
}
