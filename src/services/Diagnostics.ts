/** Diagnostics: summary statistics and missing data (in SQL), step timings, dependencies. */
import { Deferred, Effect, Layer, Ref } from "effect"
import { DuckDb, ident } from "../data/DuckDb.js"
import { loadCsv } from "../data/CsvFiles.js"
import { readFrame, Snapshots } from "../data/Snapshots.js"
import { columnsOf, isCategorical } from "../domain/Dataset.js"
import { ColumnSummary, DependencyReport, MissingData, StepTiming } from "../domain/Schemas.js"
import { csvFilesAt, sha256 } from "../lib/Dataset.js"
import { AppConfig } from "./AppConfig.js"
import { Dependencies } from "./Dependencies.js"
import { FileStore } from "./FileStore.js"
import { Model } from "./Model.js"
import { Progress } from "./Progress.js"
import { Tracking } from "./Tracking.js"

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : typeof v === "bigint" ? Number(v) : null)

export class Diagnostics extends Effect.Service<Diagnostics>()("drs/Diagnostics", {
  effect: Effect.gen(function*() {
    const store = yield* FileStore
    const config = yield* AppConfig
    const model = yield* Model
    const tracking = yield* Tracking
    const dependencies = yield* Dependencies
    const duck = yield* DuckDb
    const snapshots = yield* Snapshots
    const dataset = config.dataset

    // a snapshot never changes: its statistics are computed once per process (diagnostics and
    // the report of one run both show them, and a run may start them early: see `prepare`); a
    // caller that comes while they are computed waits for them; a failure is not kept
    const computed = yield* Ref.make(new Map<string, Deferred.Deferred<unknown, unknown>>())
    const once = <A, E, R>(key: string, compute: Effect.Effect<A, E, R>) =>
      Effect.gen(function*() {
        const fresh = yield* Deferred.make<unknown, unknown>()
        const [deferred, mine] = yield* Ref.modify(computed, (m): [[Deferred.Deferred<unknown, unknown>, boolean], Map<string, Deferred.Deferred<unknown, unknown>>] => {
          const found = m.get(key)
          return found !== undefined ? [[found, false], m] : [[fresh, true], new Map(m).set(key, fresh)]
        })
        if (mine) {
          // interrupted or failed: later callers compute again; the waiting ones get the cause
          yield* compute.pipe(Effect.onExit((exit) =>
            Effect.zipRight(
              exit._tag === "Failure" ? Ref.update(computed, (m) => { const out = new Map(m); out.delete(key); return out }) : Effect.void,
              Deferred.done(deferred, exit)
            )), Effect.ignore)
        }
        return (yield* Deferred.await(deferred)) as A
      }) as Effect.Effect<A, E, R>

    /**
     * Each feature of the current data set: a numeric one's mean, median, sample std (ddof 1,
     * as pandas) and count; a categorical one's count, distinct categories, most frequent
     * categories with their shares, and missing rate.
     */
    const summaryStats = Effect.fn("Diagnostics.summaryStats")(function*() {
      const s = yield* snapshots.current()
      return yield* once(`summary:${s.hash}`, summaryOf(snapshots.sourceOf(s)))
    })
    const summaryOf = (source: string) => Effect.gen(function*() {
      const row = (yield* duck.rows(`SELECT count(*) AS total, ${dataset.feature_columns.map((f, j) => {
        const c = ident(f)
        return isCategorical(dataset, f)
          ? `count(${c}) AS n${j}, count(DISTINCT ${c}) AS distinct${j}`
          : `avg(${c})::DOUBLE AS mean${j}, median(${c})::DOUBLE AS median${j}, stddev_samp(${c})::DOUBLE AS std${j}, count(${c}) AS n${j}`
      }).join(", ")} FROM ${source}`))[0]!
      const total = num(row.total) ?? 0
      const top = dataset.categorical_columns.length === 0 ? [] : yield* duck.rows(dataset.categorical_columns.map((f, k) =>
        `(SELECT ${k} AS k, ${ident(f)}::VARCHAR AS category, count(*) AS n FROM ${source} WHERE ${ident(f)} IS NOT NULL GROUP BY 2 ORDER BY 3 DESC, 2 LIMIT 5)`
      ).join(" UNION ALL "))
      return dataset.feature_columns.map((f, j) => {
        const count = num(row[`n${j}`]) ?? 0
        if (!isCategorical(dataset, f)) {
          return ColumnSummary.make({ column: f, mean: num(row[`mean${j}`]), median: num(row[`median${j}`]), std: num(row[`std${j}`]), count })
        }
        const k = dataset.categorical_columns.indexOf(f)
        return ColumnSummary.make({
          column: f, mean: null, median: null, std: null, count, kind: "categorical", distinct: num(row[`distinct${j}`]) ?? 0,
          top: top.filter((t) => num(t.k) === k)
            .sort((a, b) => (num(b.n) ?? 0) - (num(a.n) ?? 0) || (String(a.category) < String(b.category) ? -1 : 1))
            .map((t) => ({ category: String(t.category), count: num(t.n) ?? 0, share: total === 0 ? 0 : (num(t.n) ?? 0) / total })),
          missingRate: total === 0 ? 0 : (total - count) / total
        })
      })
    })

    /** Missing values per declared column of the current data set. */
    const missingData = Effect.fn("Diagnostics.missingData")(function*() {
      const s = yield* snapshots.current()
      return yield* once(`missing:${s.hash}`, missingOf(snapshots.sourceOf(s)))
    })
    const missingOf = (source: string) => Effect.gen(function*() {
      const cols = columnsOf(dataset)
      const row = (yield* duck.rows(`SELECT count(*) AS total, ${cols.map((c, j) => `count(*) - count(${ident(c)}) AS m${j}`).join(", ")} FROM ${source}`))[0]!
      const total = num(row.total) ?? 0
      return cols.map((c, j) => {
        const missing = num(row[`m${j}`]) ?? 0
        return MissingData.make({ column: c, missing, percent: total === 0 ? 0 : (100 * missing) / total })
      })
    })

    /**
     * Time ingestion and training afresh, without side effects: every input CSV is read and
     * validated, the rows de-duplicated in SQL, and a model is fitted on the result.
     */
    const timings = Effect.fn("Diagnostics.timings")(function*() {
      const t0 = performance.now()
      const files = yield* csvFilesAt(config.input_folder_path).pipe(Effect.provideService(FileStore, store), Effect.orElseSucceed(() => []))
      const frame = yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* duck.connect
        const tables: Array<string> = []
        for (const f of files) {
          // ingestion itself reports malformed files; timing just reads past them
          const t = yield* Effect.tryPromise(() => loadCsv(c, { label: f, path: store.localPath(f) }, dataset, config.max_field_bytes)).pipe(Effect.option)
          if (t._tag === "Some") tables.push(t.value.table)
        }
        if (tables.length === 0) return null
        const union = `SELECT DISTINCT * FROM (${tables.map((t) => `SELECT * FROM ${t}`).join(" UNION ALL ")})`
        const rows = Number((yield* Effect.promise(() => c.runAndReadAll(`SELECT count(*) FROM (${union})`))).getRows()[0]![0])
        return yield* Effect.promise(() => readFrame(c, dataset, `(${union})`, rows))
      }))
      const ingestionMs = performance.now() - t0
      const t1 = performance.now()
      const training = frame !== null && frame.rows > 0
        ? yield* model.train(frame, sha256("timing")).pipe(Effect.as(true), Effect.catchAll(() => Effect.succeed(false)))
        : false
      const trainingMs = performance.now() - t1
      const result = [
        StepTiming.make({ step: "ingestion", ms: ingestionMs }),
        ...(training ? [StepTiming.make({ step: "training", ms: trainingMs })] : [])
      ]
      for (const t of result) yield* tracking.recordTiming(null, `diagnostics:${t.step}`, t.ms)
      return result
    })

    /**
     * Start computing the current data set's summary statistics and missing data (DuckDB, on its
     * threads) for the diagnostics and the report to find later; a failure shows there.
     */
    const prepare = Effect.fn("Diagnostics.prepare")(function*() {
      yield* Effect.all([summaryStats(), missingData()], { concurrency: "unbounded", discard: true }).pipe(Effect.ignore)
    })

    return {
      summaryStats,
      missingData,
      prepare,
      timings,
      dependencies: dependencies.outdated
    } as const
  })
}) {
  static readonly layerTest = (report = DependencyReport.make({ checked: true, packages: [] })) =>
    Diagnostics.Default.pipe(
      Layer.provideMerge(Layer.mergeAll(Model.Default, Snapshots.Default)),
      Layer.provideMerge(DuckDb.Default),
      Layer.provideMerge(Layer.mergeAll(FileStore.layerTemp(), Tracking.layerTest, AppConfig.layerTest(), Progress.layerTest, Dependencies.layerFixed(report)))
    )
}
