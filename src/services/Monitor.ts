/**
 * Monitor: the served traffic, window by window (`monitor_window`) and release by release.
 *
 * - **Labels that arrive later**: CSV files with the id column and the target column, in
 *   `labels_folder_path` or through POST /labels. Each is validated by DuckDB (a bad file is
 *   moved to quarantine with its reason and recorded as rejected), then written as a Parquet
 *   file named by its sha256 under `<output_folder_path>/labels/`: a file's content is taken
 *   once, under any name. The latest label of an id wins. Labels join the logged predictions
 *   by id: a customer scored several times is judged by its label in each.
 * - **Windows** (DuckDB over the logs' glob): served rows, labelled rows; realised F1,
 *   precision, recall and ROC AUC of the labelled rows; CBPE's estimate from the calibrated
 *   probabilities of every row (lib/drift/Cbpe.ts has the same arithmetic, pure); drift of
 *   each feature and of the predicted probability against the release's training data (a
 *   sample of at most DRIFT_SAMPLE rows per window, through lib/DataDrift.ts).
 * - The result is written to `<output_folder_path>/monitoring.json` (atomically): GET
 *   /monitoring and the dashboard read it; every server on shared storage sees the same.
 */
import type { DuckDBConnection } from "@duckdb/node-api"
import { Effect, Option, Schema } from "effect"
import * as NodePath from "node:path"
import { DataError } from "../domain/Errors.js"
import { type Calibration, type MonitoringWindow, MonitoringResponse, type ServingDrift, type WindowMetrics, windowMillis } from "../domain/Monitoring.js"
import type { ModelArtifact } from "../domain/Schemas.js"
import { DuckDb, ident, lit } from "../data/DuckDb.js"
import { logFeatureColumn, predictionLogDir, predictionLogGlob } from "../data/PredictionLog.js"
import { Snapshots } from "../data/Snapshots.js"
import { featureDrift } from "../lib/DataDrift.js"
import { isCsvName, sha256 } from "../lib/Dataset.js"
import { AppConfig } from "./AppConfig.js"
import { Deployer } from "./Deployer.js"
import { FileStore } from "./FileStore.js"
import { Model, predictColumns } from "./Model.js"
import { ReleaseStore } from "./ReleaseStore.js"
import { Tracking } from "./Tracking.js"

/** rows per window the drift measures are computed on (a uniform sample of a larger window) */
export const DRIFT_SAMPLE = 20_000
/** reference rows (the training data) the drift measures compare with, at most */
export const REFERENCE_SAMPLE = 100_000

export const labelsDir = (outputFolder: string) => NodePath.join(outputFolder, "labels")
export const monitoringPath = (outputFolder: string) => NodePath.join(outputFolder, "monitoring.json")

type Reference = { readonly features: ReadonlyArray<Float64Array>; readonly probabilities: Float64Array } | null

export class LabelError extends Schema.TaggedError<LabelError>()("LabelError", { message: Schema.String }) {}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0]!
const q = (c: DuckDBConnection, sql: string) => c.runAndReadAll(sql).then((r) => r.getRowObjectsJS() as Array<Record<string, unknown>>)
const num = (v: unknown) => (v === null || v === undefined ? Number.NaN : Number(v))

/**
 * Categorical drift per window: the hook for the categorical measures (PSI over categories,
 * chi-square) being written beside lib/DataDrift.ts. Until a dataset declares categorical
 * features, every feature is numeric and this is never called.
 */
export const categoricalDrift: ((feature: string, reference: ReadonlyArray<string | null>, current: ReadonlyArray<string | null>) => ServingDrift) | null = null

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b)
const metrics = (tp: number, fp: number, fn: number, rocAuc: number | null): WindowMetrics => ({
  precision: ratio(tp, tp + fp),
  recall: ratio(tp, tp + fn),
  f1: ratio(2 * tp, 2 * tp + fp + fn),
  rocAuc: rocAuc === null || Number.isNaN(rocAuc) ? null : rocAuc
})

/** The calibration of each release as tables: isotonic segments (x0, y0, x1, y1) and Platt parameters. */
const calibrationTables = async (c: DuckDBConnection, calibrations: ReadonlyMap<string, Calibration | undefined>) => {
  await c.run(`CREATE OR REPLACE TEMP TABLE calib_knots (release_id VARCHAR, x0 DOUBLE, y0 DOUBLE, x1 DOUBLE, y1 DOUBLE)`)
  await c.run(`CREATE OR REPLACE TEMP TABLE calib_first (release_id VARCHAR, y0 DOUBLE)`)
  await c.run(`CREATE OR REPLACE TEMP TABLE calib_platt (release_id VARCHAR, a DOUBLE, b DOUBLE)`)
  const knots = await c.createAppender("calib_knots")
  const first = await c.createAppender("calib_first")
  const platt = await c.createAppender("calib_platt")
  for (const [release, cal] of calibrations) {
    if (cal === undefined) continue
    if (cal.method === "platt") {
      platt.appendVarchar(release); platt.appendDouble(cal.a); platt.appendDouble(cal.b); platt.endRow()
      continue
    }
    first.appendVarchar(release); first.appendDouble(cal.y[0]!); first.endRow()
    for (let k = 0; k < cal.x.length; k++) {
      knots.appendVarchar(release); knots.appendDouble(cal.x[k]!); knots.appendDouble(cal.y[k]!)
      if (k + 1 < cal.x.length) { knots.appendDouble(cal.x[k + 1]!); knots.appendDouble(cal.y[k + 1]!) } else { knots.appendNull(); knots.appendNull() }
      knots.endRow()
    }
  }
  for (const a of [knots, first, platt]) { a.flushSync(); a.closeSync() }
}

export class Monitor extends Effect.Service<Monitor>()("drs/Monitor", {
  effect: Effect.gen(function*() {
    const config = yield* AppConfig
    const store = yield* FileStore
    const duck = yield* DuckDb
    const tracking = yield* Tracking
    const releases = yield* ReleaseStore
    const deployer = yield* Deployer
    const model = yield* Model
    const snapshots = yield* Snapshots
    const dataset = config.dataset
    const idColumn = dataset.id_column ?? null
    const labels = labelsDir(config.output_folder_path)
    const logDir = predictionLogDir(config)

    /**
     * Validate a label CSV (the id column and the target column, a 0/1 label) and write it
     * as `<labels>/<sha256>.parquet`. Returns its rows; a bad file fails with the line and column.
     */
    const writeLabels = (path: string, hash: string, source: string) =>
      Effect.gen(function*() {
        if (idColumn === null) return yield* new LabelError({ message: "labels need an id column: the dataset declares none (dataset.id_column)" })
        yield* store.makeDirectory(labels).pipe(Effect.orDie)
        const target = NodePath.join(labels, `${hash}.parquet`)
        const tmp = `${target}.tmp`
        const local = store.localPath(path)
        return yield* duck.use("labels", async (c) => {
          const table = `labels_${Date.now()}_${Math.floor(Math.random() * 1e9)}`
          await c.run(`CREATE TEMP TABLE ${table} AS SELECT row_number() OVER () + 1 AS line, * FROM read_csv(${lit(local)}, header = true, all_varchar = true, auto_detect = true)`)
          try {
            const cols = (await q(c, `SELECT column_name FROM (DESCRIBE ${table})`)).map((r) => String(r.column_name))
            const missing = [idColumn, dataset.target_column].filter((k) => !cols.includes(k))
            if (missing.length > 0) throw new LabelError({ message: `${source}: missing column(s) ${missing.join(", ")} (a label file has the id column "${idColumn}" and the target column "${dataset.target_column}")` })
            const bad = await q(c, `SELECT line, ${ident(idColumn)} AS id, ${ident(dataset.target_column)} AS label FROM ${table}
              WHERE ${ident(idColumn)} IS NULL OR trim(${ident(idColumn)}) = '' OR ${ident(dataset.target_column)} IS NULL OR trim(${ident(dataset.target_column)}) NOT IN ('0', '1') ORDER BY line LIMIT 1`)
            if (bad.length > 0) {
              const b = bad[0]!
              const column = b.id === null || String(b.id).trim() === "" ? idColumn : dataset.target_column
              throw new LabelError({ message: `${source}: line ${b.line}, column "${column}": ${column === idColumn ? "no id" : `${JSON.stringify(b.label)} is not a 0/1 label`}` })
            }
            const rows = Number((await q(c, `SELECT count(*) AS n FROM ${table}`))[0]!.n)
            if (rows === 0) throw new LabelError({ message: `${source}: no label rows` })
            await c.run(`COPY (SELECT trim(${ident(idColumn)}) AS id, CAST(trim(${ident(dataset.target_column)}) AS UTINYINT) AS label,
                now()::TIMESTAMP AS labelled_at, ${lit(source)} AS source FROM ${table}) TO ${lit(store.localPath(tmp))} (FORMAT parquet)`)
            return rows
          } finally {
            await c.run(`DROP TABLE IF EXISTS ${table}`)
          }
        }).pipe(
          Effect.catchAll((e) => Effect.fail(new LabelError({ message: e.message.replace(/^labels: /, "") }))),
          Effect.catchAllDefect((d) => d instanceof LabelError ? Effect.fail(d) : Effect.die(d)),
          Effect.tap(() => store.rename(tmp, target).pipe(Effect.orDie))
        )
      })

    const known = Effect.gen(function*() {
      const names = (yield* store.list(labels).pipe(Effect.orElseSucceed(() => []))).map((e) => e.name)
      return new Set(names.filter((n) => n.endsWith(".parquet")).map((n) => n.slice(0, -".parquet".length)))
    })

    /** Take in the label files of `labels_folder_path` not taken before; bad ones go to quarantine. */
    const ingestLabels = Effect.fn("Monitor.ingestLabels")(function*() {
      const folder = config.labels_folder_path
      const entries = yield* store.list(folder).pipe(Effect.orElseSucceed(() => []))
      const have = yield* known
      const rejectedBefore = new Set((yield* tracking.rejectedFiles()).map((r) => r.sha256))
      const ingested: Array<{ name: string; rows: number }> = []
      const rejected: Array<{ name: string; error: string }> = []
      for (const e of entries) {
        if (e.isDirectory || !isCsvName(e.name)) continue
        const path = NodePath.join(folder, e.name)
        const hash = yield* store.sha256(path).pipe(Effect.orDie)
        if (have.has(hash) || rejectedBefore.has(hash)) continue
        const r = yield* writeLabels(path, hash, e.name).pipe(Effect.either)
        if (r._tag === "Right") {
          ingested.push({ name: e.name, rows: r.right })
          have.add(hash)
          continue
        }
        const target = NodePath.join(config.quarantine_folder_path, `${new Date().toISOString().replace(/[:.]/g, "-")}-${e.name}`)
        const moved = yield* store.rename(path, target).pipe(
          Effect.zipRight(store.writeAtomic(`${target}.error.txt`, `${r.left.message}\n`)),
          Effect.as(target as string | null),
          Effect.orElseSucceed(() => null)
        )
        yield* tracking.recordRejected({ sha256: hash, fileName: e.name, movedTo: moved, reason: r.left.message })
        yield* Effect.logError(`rejected label file ${e.name}: ${r.left.message}`)
        rejected.push({ name: e.name, error: r.left.message })
      }
      return { ingested, rejected }
    })

    /** Labels given in one document (POST /labels): validated and stored like a file. */
    const addLabels = Effect.fn("Monitor.addLabels")(function*(csv: string) {
      const hash = sha256(csv)
      if ((yield* known).has(hash)) return { rows: 0, duplicate: true }
      const tmp = NodePath.join(labels, `.incoming-${hash}.csv`)
      yield* store.makeDirectory(labels).pipe(Effect.orDie)
      yield* store.writeAtomic(tmp, csv).pipe(Effect.orDie)
      const rows = yield* writeLabels(tmp, hash, "POST /labels").pipe(Effect.ensuring(store.remove(tmp).pipe(Effect.ignore)))
      return { rows, duplicate: false }
    })

    /** Every release's model (for its calibration and its training data), by id. */
    const releaseModels = (ids: ReadonlyArray<string>) =>
      Effect.forEach(ids, (id) =>
        releases.get(id).pipe(
          Effect.flatMap(Option.match({
            onNone: () => Effect.succeed(null),
            onSome: (r) => model.decode(r.files["trainedmodel.json"], `release ${id}`).pipe(Effect.orElseSucceed(() => null))
          })),
          Effect.map((m) => [id, m] as const)
        )).pipe(Effect.map((pairs) => new Map(pairs)))

    /** The reference of a model: (a sample of) its training data's features, and the model's probabilities on them. */
    const referenceOf = (m: ModelArtifact): Effect.Effect<Reference> =>
      Effect.gen(function*() {
        const snap = yield* tracking.snapshotByHash(m.dataHash)
        if (snap === null) return null
        const frame = yield* snapshots.frame(snap.path, snap.rows).pipe(Effect.orElseSucceed(() => null))
        if (frame === null) return null
        const step = Math.max(1, Math.ceil(frame.rows / REFERENCE_SAMPLE))
        const pick = (col: Float64Array) => step === 1 ? col : Float64Array.from({ length: Math.ceil(col.length / step) }, (_, i) => col[i * step]!)
        const features = frame.features.map(pick)
        const rows = features[0]?.length ?? 0
        return { features, probabilities: predictColumns(m, features, rows).probabilities }
      })

    /** The windows over every logged row. */
    const compute = Effect.fn("Monitor.compute")(function*() {
      const files = (yield* store.list(logDir).pipe(Effect.orElseSucceed(() => []))).filter((e) => e.name.endsWith(".parquet"))
      if (files.length === 0) return { windows: [] as Array<MonitoringWindow>, calibration: {} as Record<string, string>, loggedRows: 0 }
      const haveLabels = (yield* known).size > 0
      const W = windowMillis(config.monitor_window)
      const logSource = `read_parquet(${lit(store.localPath(predictionLogGlob(logDir)))}, union_by_name = true)`
      const releaseIds = (yield* duck.rows(`SELECT DISTINCT release_id FROM ${logSource}`)).map((r) => String(r.release_id))
      const models = yield* releaseModels(releaseIds)
      const calibrations = new Map([...models].map(([id, m]) => [id, m?.calibration]))
      const calibration = Object.fromEntries([...calibrations].map(([id, c]) => [id, c === undefined ? "none (raw probabilities)" : c.method]))
      const labelSource = haveLabels
        ? `(SELECT id, arg_max(label, labelled_at) AS label FROM read_parquet(${lit(store.localPath(NodePath.join(labels, "*.parquet")))}) GROUP BY id)`
        : `(SELECT CAST(NULL AS VARCHAR) AS id, CAST(NULL AS UTINYINT) AS label WHERE false)`

      const result = yield* duck.use("monitor", async (c) => {
        await calibrationTables(c, calibrations)
        await c.run(`CREATE OR REPLACE TEMP TABLE scored AS
          WITH s AS (SELECT (epoch_ms(ts) // ${W}) * ${W} AS w, release_id, id, probability, prediction FROM ${logSource})
          SELECT s.w, s.release_id, s.probability, s.prediction, l.label,
            CASE
              WHEN pl.release_id IS NOT NULL THEN 1 / (1 + exp(-(pl.a * ln(greatest(least(s.probability, 1 - 1e-12), 1e-12) / (1 - greatest(least(s.probability, 1 - 1e-12), 1e-12))) + pl.b)))
              WHEN f.release_id IS NULL THEN s.probability
              WHEN k.x0 IS NULL THEN f.y0
              WHEN k.x1 IS NULL OR k.x1 = k.x0 THEN k.y0
              ELSE k.y0 + (s.probability - k.x0) * (k.y1 - k.y0) / (k.x1 - k.x0)
            END AS pc
          FROM s
          ASOF LEFT JOIN calib_knots k ON s.release_id = k.release_id AND s.probability >= k.x0
          LEFT JOIN calib_platt pl ON pl.release_id = s.release_id
          LEFT JOIN calib_first f ON f.release_id = s.release_id
          LEFT JOIN ${labelSource} l ON l.id = s.id`)
        const counts = await q(c, `SELECT w, release_id, count(*) AS n, count(label) AS labelled,
            sum(CASE WHEN prediction = 1 THEN pc ELSE 0 END) AS etp, sum(CASE WHEN prediction = 1 THEN 1 - pc ELSE 0 END) AS efp,
            sum(CASE WHEN prediction = 0 THEN pc ELSE 0 END) AS efn,
            count(*) FILTER (WHERE label = 1 AND prediction = 1) AS tp, count(*) FILTER (WHERE label = 0 AND prediction = 1) AS fp,
            count(*) FILTER (WHERE label = 1 AND prediction = 0) AS fn
          FROM scored GROUP BY ALL ORDER BY w, release_id`)
        // expected ROC AUC: distinct calibrated values from the highest down, trapezoids of the expected curve
        const eAuc = await q(c, `WITH g AS (SELECT w, release_id, pc, sum(pc) AS dp, sum(1 - pc) AS dn FROM scored GROUP BY ALL),
            cu AS (SELECT *, sum(dp) OVER (PARTITION BY w, release_id ORDER BY pc DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before FROM g)
          SELECT w, release_id, sum(dn * (2 * coalesce(before, 0) + dp)) / (2 * sum(dp) * sum(dn)) AS auc FROM cu GROUP BY ALL`)
        // realised ROC AUC of the labelled rows (ties count half, as scikit-learn)
        const rAuc = await q(c, `WITH g AS (SELECT w, release_id, probability, count(*) FILTER (WHERE label = 1) AS dp, count(*) FILTER (WHERE label = 0) AS dn FROM scored WHERE label IS NOT NULL GROUP BY ALL),
            cu AS (SELECT *, sum(dp) OVER (PARTITION BY w, release_id ORDER BY probability DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before FROM g)
          SELECT w, release_id, CASE WHEN sum(dp) = 0 OR sum(dn) = 0 THEN NULL ELSE sum(dn * (2 * coalesce(before, 0) + dp)) / (2 * sum(dp) * sum(dn)) END AS auc FROM cu GROUP BY ALL`)
        await c.run(`DROP TABLE scored`)
        // the drift sample: a fixed pseudo-random share of each window's rows
        const rates = counts.map((r) => `(${Number(r.w)}, ${lit(String(r.release_id))}, ${Math.min(1, DRIFT_SAMPLE / Number(r.n))})`).join(", ")
        const features = dataset.feature_columns
        const sample = await c.stream(`WITH rate(w, release_id, keep) AS (VALUES ${rates})
          SELECT CAST(s.w AS DOUBLE) AS w, s.release_id, s.probability, ${features.map((f) => `coalesce(CAST(${ident(logFeatureColumn(f))} AS DOUBLE), 'nan'::DOUBLE)`).join(", ")}
          FROM (SELECT (epoch_ms(ts) // ${W}) * ${W} AS w, * FROM ${logSource}) s JOIN rate USING (w, release_id)
          WHERE hash(s.request_id, s."row") % 1000000 < rate.keep * 1000000`)
        const byWindow = new Map<string, { probability: Array<number>; features: Array<Array<number>> }>()
        for (;;) {
          const chunk = await sample.fetchChunk()
          if (chunk === null || chunk.rowCount === 0) break
          const cols = Array.from({ length: chunk.columnCount }, (_, j) => chunk.getColumnVector(j))
          for (let i = 0; i < chunk.rowCount; i++) {
            const key = `${cols[0]!.getItem(i)}|${cols[1]!.getItem(i)}`
            let g = byWindow.get(key)
            if (g === undefined) byWindow.set(key, g = { probability: [], features: features.map(() => []) })
            g.probability.push(Number(cols[2]!.getItem(i)))
            for (let j = 0; j < features.length; j++) g.features[j]!.push(Number(cols[3 + j]!.getItem(i)))
          }
        }
        return { counts, eAuc, rAuc, byWindow }
      }).pipe(Effect.catchAllDefect((d) => Effect.fail(new DataError({ message: `monitor: ${message(d)}` }))))

      const key = (r: Record<string, unknown>) => `${Number(r.w)}|${String(r.release_id)}`
      const eAuc = new Map(result.eAuc.map((r) => [key(r), r.auc === null ? null : num(r.auc)]))
      const rAuc = new Map(result.rAuc.map((r) => [key(r), r.auc === null ? null : num(r.auc)]))
      // the live release's training data is the fallback reference of a release whose own is gone
      const live = yield* deployer.current().pipe(Effect.option)
      const references = new Map<string, Reference>()
      const referenceFor = (releaseId: string) =>
        Effect.gen(function*() {
          if (references.has(releaseId)) return references.get(releaseId)!
          const m = models.get(releaseId) ?? (Option.isSome(live) ? live.value.model : null)
          let ref = m === null ? null : yield* referenceOf(m)
          if (ref === null && Option.isSome(live)) ref = yield* referenceOf(live.value.model)
          references.set(releaseId, ref)
          return ref
        })
      const options = { psiThreshold: config.psi_threshold, ksAlpha: config.ks_alpha }
      const windows: Array<MonitoringWindow> = []
      for (const r of result.counts) {
        const k = key(r)
        const labelled = Number(r.labelled)
        const sample = result.byWindow.get(k)
        const ref = yield* referenceFor(String(r.release_id))
        const drift: Array<ServingDrift> = []
        if (ref !== null && sample !== undefined) {
          const asDrift = (kind: ServingDrift["kind"], d: ReturnType<typeof featureDrift>): ServingDrift => ({
            feature: d.feature, kind, psi: d.psi, ksStatistic: d.ksStatistic, ksPValue: d.ksPValue,
            missingRateReference: d.missingRateReference, missingRateCurrent: d.missingRateCurrent,
            meanReference: d.meanReference, meanCurrent: d.meanCurrent, currentRows: d.currentRows, flagged: d.flagged, reasons: d.reasons
          })
          dataset.feature_columns.forEach((f, j) => {
            drift.push(asDrift("numeric", featureDrift(f, ref.features[j]!, Float64Array.from(sample.features[j]!), options)))
          })
          drift.push(asDrift("prediction", featureDrift("prediction", ref.probabilities, Float64Array.from(sample.probability), options)))
        }
        const w = Number(r.w)
        windows.push({
          start: new Date(w).toISOString(),
          end: new Date(w + W).toISOString(),
          releaseId: String(r.release_id),
          rows: Number(r.n),
          labelled,
          realised: labelled === 0 ? null : metrics(Number(r.tp), Number(r.fp), Number(r.fn), rAuc.get(k) ?? null),
          estimated: metrics(num(r.etp), num(r.efp), num(r.efn), eAuc.get(k) ?? null),
          drift
        })
      }
      const loggedRows = windows.reduce((s, w) => s + w.rows, 0)
      return { windows, calibration, loggedRows }
    })

    const encode = Schema.encodeSync(Schema.parseJson(MonitoringResponse))
    const decode = Schema.decodeUnknown(Schema.parseJson(MonitoringResponse))

    const save = Effect.fn("Monitor.save")(function*(windows: ReadonlyArray<MonitoringWindow>) {
      yield* store.writeAtomic(monitoringPath(config.output_folder_path), encode({ windows }) + "\n").pipe(Effect.orDie)
    })

    /** The windows the last `monitor` computed (none before the first). */
    const latest = Effect.fn("Monitor.latest")(function*() {
      const text = yield* store.readText(monitoringPath(config.output_folder_path)).pipe(Effect.option)
      if (Option.isNone(text)) return { windows: [] } as MonitoringResponse
      return yield* decode(text.value).pipe(Effect.orElseSucceed(() => ({ windows: [] }) as MonitoringResponse))
    })

    return { ingestLabels, addLabels, compute, save, latest } as const
  })
}) {}
