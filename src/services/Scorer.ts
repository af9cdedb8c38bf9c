/** Scorer: F1 of a model on a frame; latestscore.txt and the score history. */
import { Effect, Layer } from "effect"
import * as NodePath from "node:path"
import { DuckDb } from "../data/DuckDb.js"
import { Snapshots } from "../data/Snapshots.js"
import { labelsOf } from "../domain/Dataset.js"
import { ModelArtifact, ScoreResult } from "../domain/Schemas.js"
import { csvFilesAt } from "../lib/Dataset.js"
import type { Frame } from "../lib/Frame.js"
import { importanceOf } from "../lib/learners/Learners.js"
import { classificationReport, logLoss, rocAuc } from "../lib/Metrics.js"
import { confusionMatrix, f1FromMatrix } from "../lib/Stats.js"
import { AppConfig } from "./AppConfig.js"
import { FileStore } from "./FileStore.js"
import { Model, modelHash } from "./Model.js"
import { Progress } from "./Progress.js"
import { type DataKind, type ScorePurpose, Tracking } from "./Tracking.js"

export const latestScorePath = (folder: string) => NodePath.join(folder, "latestscore.txt")

/** A cheap fingerprint of a frame's contents: its size and a checksum of every value. */
const frameFingerprint = (frame: Frame) => {
  let a = 0
  let b = 0
  for (const col of [...frame.features, frame.target]) {
    for (let i = 0; i < col.length; i++) {
      const v = col[i]!
      const x = v === v ? v : 0.123456789
      a += x
      b += x * ((i % 97) + 1)
    }
  }
  return `${frame.rows}:${a}:${b}:${frame.levels.map((l) => l?.join("\u0001") ?? "").join("\u0002")}`
}

export class Scorer extends Effect.Service<Scorer>()("drs/Scorer", {
  effect: Effect.gen(function*() {
    const store = yield* FileStore
    const config = yield* AppConfig
    const model = yield* Model
    const tracking = yield* Tracking
    const snapshots = yield* Snapshots

    // the importance of a model on a frame, kept for the few (model, data) pairs last asked about:
    // the dashboard and /scoring ask again and again about the live model on the same test data
    const importances = new Map<string, ReturnType<typeof importanceOf>>()
    const importance = (m: ModelArtifact, frame: Frame) => {
      const key = `${modelHash(m)}:${frameFingerprint(frame)}`
      const known = importances.get(key)
      if (known !== undefined) return known
      const value = importanceOf(m, frame)
      if (importances.size >= 8) importances.delete(importances.keys().next().value!)
      importances.set(key, value)
      return value
    }

    /** Score a model on a frame, recording nothing. */
    const evaluate = (m: ModelArtifact, frame: Frame, dataset: string, withImportance = false) => {
      const { predictions, probabilities } = model.predict(m, frame)
      const cm = confusionMatrix(frame.target, predictions)
      return ScoreResult.make({
        f1: f1FromMatrix(cm), rows: frame.rows, confusionMatrix: cm,
        classificationReport: classificationReport(frame.target, predictions, [0, 1], labelsOf(config.dataset)),
        rocAuc: rocAuc(frame.target, probabilities),
        logLoss: logLoss(frame.target, probabilities),
        dataset, modelHash: modelHash(m), at: new Date().toISOString(),
        // explaining every row costs more than predicting it: only where a person reads it, once per model and data
        ...(withImportance ? { importance: importance(m, frame) } : {})
      })
    }

    /** An F1 recorded in the history under `purpose`, with the kind of data it was. */
    const record = (modelHash: string, f1: number, rows: number, dataset: string, purpose: ScorePurpose, dataKind: DataKind) =>
      Effect.zipRight(
        tracking.recordScore({ modelHash, purpose, dataset, rows, f1, dataKind }),
        Effect.annotateCurrentSpan({ f1, dataset })
      )

    /** Score a model on a frame; recorded in the history under `purpose`, with the kind of data it was. */
    const score = Effect.fn("Scorer.score")(function*(m: ModelArtifact, frame: Frame, dataset: string, purpose: ScorePurpose, dataKind: DataKind, withImportance = false) {
      const result = evaluate(m, frame, dataset, withImportance)
      yield* record(result.modelHash, result.f1, frame.rows, dataset, purpose, dataKind)
      return result
    })

    /**
     * A model's F1 on a frame, recorded as `score` records it, and nothing else: the drift
     * check's figure (no ROC AUC, log loss or report over every new row, which nobody reads).
     */
    const scoreF1 = Effect.fn("Scorer.scoreF1")(function*(m: ModelArtifact, frame: Frame, dataset: string, purpose: ScorePurpose, dataKind: DataKind) {
      const f1 = f1FromMatrix(confusionMatrix(frame.target, model.predict(m, frame).predictions))
      yield* record(modelHash(m), f1, frame.rows, dataset, purpose, dataKind)
      return f1
    })

    /** The test data (a CSV file or a folder of them), validated like ingested data. */
    const testData = Effect.fn("Scorer.testData")(function*() {
      const files = yield* csvFilesAt(config.test_data_path).pipe(Effect.provideService(FileStore, store), Effect.catchTag("FileStoreError", (e) => Effect.die(e)))
      return yield* snapshots.csvFrame(files)
    })

    /** Score on the test data and write latestscore.txt next to the model. */
    const scoreTestData = Effect.fn("Scorer.scoreTestData")(function*(m: ModelArtifact) {
      const frame = yield* testData()
      const result = yield* score(m, frame, config.test_data_path, "training", "test")
      yield* tracking.setModelScore(result.modelHash, result.f1, { rocAuc: result.rocAuc, logLoss: result.logLoss, report: result.classificationReport })
      yield* store.writeAtomic(latestScorePath(config.output_model_path), `${result.f1}\n`).pipe(Effect.orDie)
      yield* Effect.logInfo(`F1 on ${config.test_data_path}: ${result.f1}`)
      return result
    })

    return { evaluate, score, scoreF1, testData, scoreTestData } as const
  })
}) {
  static readonly layerTest = (files: Record<string, string | Uint8Array> = {}) =>
    Scorer.Default.pipe(
      Layer.provideMerge(Layer.mergeAll(Model.Default, Snapshots.Default)),
      Layer.provideMerge(DuckDb.Default),
      Layer.provideMerge(Layer.mergeAll(FileStore.layerTemp(files), Tracking.layerTest, AppConfig.layerTest(), Progress.layerTest))
    )
}
