/** Diagnostics: predictions, summary statistics, missing data, step timings, dependencies. */
import { Effect, Layer } from "effect"
import { ColumnSummary, COLUMNS, DependencyReport, FEATURES, MissingData, type ModelArtifact, type Row, StepTiming } from "../domain/Schemas.js"
import { rowKey } from "../lib/Csv.js"
import { csvFilesAt, sha256, streamCsv } from "../lib/Dataset.js"
import { mean, median, std } from "../lib/Stats.js"
import { AppConfig } from "./AppConfig.js"
import { Dependencies } from "./Dependencies.js"
import { FileStore } from "./FileStore.js"
import { Ingestion } from "./Ingestion.js"
import { Model } from "./Model.js"
import { Tracking } from "./Tracking.js"

const finite = (x: number) => (Number.isFinite(x) ? x : null)

export const summaryStats = (rows: ReadonlyArray<Row>): ReadonlyArray<ColumnSummary> =>
  FEATURES.map((f) => {
    const xs = rows.map((r) => r[f]).filter((v): v is number => v !== null)
    return ColumnSummary.make({ column: f, mean: finite(mean(xs)), median: finite(median(xs)), std: finite(std(xs)), count: xs.length })
  })

export const missingData = (rows: ReadonlyArray<Row>): ReadonlyArray<MissingData> =>
  COLUMNS.map((c) => {
    let missing = 0
    for (const r of rows) {
      const v = r[c]
      if (v === null || v === "") missing++
    }
    return MissingData.make({ column: c, missing, percent: rows.length === 0 ? 0 : (100 * missing) / rows.length })
  })

export class Diagnostics extends Effect.Service<Diagnostics>()("drs/Diagnostics", {
  effect: Effect.gen(function*() {
    const store = yield* FileStore
    const config = yield* AppConfig
    const model = yield* Model
    const ingestion = yield* Ingestion
    const tracking = yield* Tracking
    const dependencies = yield* Dependencies

    const predictions = (m: ModelArtifact, rows: ReadonlyArray<Row>) => model.predict(m, rows)

    /**
     * Time ingestion and training afresh, without side effects: every input CSV is read,
     * validated and de-duplicated in memory, and a model is fitted on the result.
     */
    const timings = Effect.fn("Diagnostics.timings")(function*() {
      const t0 = performance.now()
      const files = yield* csvFilesAt(config.input_folder_path).pipe(Effect.provideService(FileStore, store), Effect.orElseSucceed(() => []))
      const seen = new Set<string>()
      const rows: Array<Row> = []
      for (const file of files) {
        yield* streamCsv(file, (r) => {
          const k = rowKey(r)
          if (!seen.has(k)) {
            seen.add(k)
            rows.push(r)
          }
        }).pipe(
          Effect.provideService(FileStore, store),
          // ingestion itself reports malformed files; timing just reads past them
          Effect.catchAll((e) => Effect.logDebug(`timing skipped ${file}: ${e.message}`))
        )
      }
      const ingestionMs = performance.now() - t0
      const t1 = performance.now()
      const training = rows.length > 0
        ? yield* model.train(rows, sha256("timing")).pipe(Effect.as(true), Effect.catchAll(() => Effect.succeed(false)))
        : false
      const trainingMs = performance.now() - t1
      const result = [
        StepTiming.make({ step: "ingestion", ms: ingestionMs }),
        ...(training ? [StepTiming.make({ step: "training", ms: trainingMs })] : [])
      ]
      for (const t of result) yield* tracking.recordTiming(null, `diagnostics:${t.step}`, t.ms)
      return result
    })

    const dataset = Effect.fn("Diagnostics.dataset")(function*() {
      return yield* ingestion.finalData()
    })

    return {
      predictions,
      summaryStats,
      missingData,
      timings,
      dataset,
      dependencies: dependencies.outdated
    } as const
  })
}) {
  static readonly layerTest = (report = DependencyReport.make({ checked: true, packages: [] })) =>
    Diagnostics.Default.pipe(
      Layer.provideMerge(Layer.mergeAll(Model.Default, Ingestion.Default)),
      Layer.provideMerge(Layer.mergeAll(FileStore.layerMemory(), Tracking.layerTest, AppConfig.layerTest(), Dependencies.layerFixed(report)))
    )
}
