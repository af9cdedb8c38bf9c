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
import { type MonitoringWindow, MonitoringResponse, type ServingDrift, type WindowMetrics, windowMillis } from "../domain/Monitoring.js"
import type { ModelArtifact } from "../domain/Schemas.js"
import { DuckDb, ident, lit, readDoubleColumns } from "../data/DuckDb.js"
import { logFeatureColumn, predictionLogDir, predictionLogGlob } from "../data/PredictionLog.js"
import { Snapshots } from "../data/Snapshots.js"
import { calibrate } from "../lib/Calibration.js"
import { featureDrift } from "../lib/DataDrift.js"
import { isCsvName, sha256 } from "../lib/Dataset.js"
import { AppConfig } from "./AppConfig.js"
import { Deployer } from "./Deployer.js"
import { FileStore } from "./FileStore.js"
import { Model, predictFrame } from "./Model.js"
import { ReleaseStore } from "./ReleaseStore.js"
import { Tracking } from "./Tracking.js"
import { isCategorical } from "../domain/Dataset.js"
import { categoricalDrift } from "../lib/CategoricalDrift.js"

/** rows per window the drift measures are computed on (a uniform sample of a larger window) */
export const DRIFT_SAMPLE = 10_000
/** reference rows (the training data) the drift measures compare with, at most */
export const REFERENCE_SAMPLE = 50_000
/**
 * Windows are aggregated by probability bins 1/BINS wide: ROC AUC (realised and estimated) ranks rows by bin, ties
 * within a bin counting half: one aggregating scan instead of a sort of every row. The
 * difference from the exact figure is at most the share of positive–negative pairs that
 * share a bin, half of it (under 1e-3 in practice); CBPE calibrates each bin's mean
 * probability (exact where the calibration is linear across the bin).
 */
export const BINS = 10_000

export const labelsDir = (outputFolder: string) => NodePath.join(outputFolder, "labels")
export const monitoringPath = (outputFolder: string) => NodePath.join(outputFolder, "monitoring.json")

type Reference = {
  readonly features: ReadonlyArray<Float64Array>
  /** a categorical feature's categories (its codes index them), null for a numeric one */
  readonly levels: ReadonlyArray<ReadonlyArray<string> | null>
  readonly probabilities: Float64Array
} | null

export class LabelError extends Schema.TaggedError<LabelError>()("LabelError", { message: Schema.String }) {}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0]!
const q = (c: DuckDBConnection, sql: string) => c.runAndReadAll(sql).then((r) => r.getRowObjectsJS() as Array<Record<string, unknown>>)

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b)
const metrics = (tp: number, fp: number, fn: number, rocAuc: number | null): WindowMetrics => ({
  precision: ratio(tp, tp + fp),
  recall: ratio(tp, tp + fn),
  f1: ratio(2 * tp, 2 * tp + fp + fn),
  rocAuc: rocAuc === null || Number.isNaN(rocAuc) ? null : rocAuc
})

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
        const frame = yield* snapshots.frameOf(snap).pipe(Effect.orElseSucceed(() => null))
        if (frame === null) return null
        const step = Math.max(1, Math.ceil(frame.rows / REFERENCE_SAMPLE))
        const pick = (col: Float64Array) => step === 1 ? col : Float64Array.from({ length: Math.ceil(col.length / step) }, (_, i) => col[i * step]!)
        const features = frame.features.map(pick)
        const rows = features[0]?.length ?? 0
        return { features, levels: frame.levels, probabilities: predictFrame(m, { rows, featureNames: frame.featureNames, features, levels: frame.levels }).probabilities }
      })

    /** The windows over every logged row. */
    const compute = Effect.fn("Monitor.compute")(function*() {
      const files = (yield* store.list(logDir).pipe(Effect.orElseSucceed(() => []))).filter((e) => e.name.endsWith(".parquet"))
      if (files.length === 0) return { windows: [] as Array<MonitoringWindow>, calibration: {} as Record<string, string>, loggedRows: 0 }
      const haveLabels = (yield* known).size > 0
      const W = windowMillis(config.monitor_window)
      const logSource = `read_parquet(${lit(store.localPath(predictionLogGlob(logDir)))}, union_by_name = true)`
      // every release the database knows (no scan of the log for them)
      const releaseIds = (yield* releases.list()).map((r) => r.releaseId)
      const models = yield* releaseModels(releaseIds)
      const calibrations = new Map([...models].map(([id, m]) => [id, m?.calibration]))
      const labelSource = haveLabels
        ? `(SELECT id, arg_max(label, labelled_at) AS label FROM read_parquet(${lit(store.localPath(NodePath.join(labels, "*.parquet")))}) GROUP BY id)`
        : `(SELECT CAST(NULL AS VARCHAR) AS id, CAST(NULL AS UTINYINT) AS label WHERE false)`
      const features = dataset.feature_columns
      const ridCase = `coalesce(CASE release_id ${releaseIds.map((r, i) => `WHEN ${lit(r)} THEN ${i}`).join(" ")} END, -1)`
      const ridName = (k: number) => (k >= 0 ? releaseIds[k]! : "(unknown release)")

      const result = yield* duck.use("monitor", async (c) => {
        const table = `monitor_bins_${Date.now()}_${Math.floor(Math.random() * 1e9)}`
        // one scan: per window, release, prediction and probability bin (1/BINS wide), the counts and sums everything below needs
        await c.run(`CREATE TEMP TABLE ${table} AS
          SELECT CAST(w AS DOUBLE) AS w, CAST(rid AS DOUBLE) AS rid, CAST(prediction AS DOUBLE) AS prediction, CAST(b AS DOUBLE) AS b,
            CAST(count(*) AS DOUBLE) AS n, sum(probability) AS sp, CAST(count(label) AS DOUBLE) AS nl, CAST(count(*) FILTER (WHERE label = 1) AS DOUBLE) AS pos
          FROM (SELECT (epoch_ms(ts) // ${W}) * ${W} AS w, ${ridCase} AS rid, ${haveLabels ? "id" : "CAST(NULL AS VARCHAR) AS id"}, probability, prediction,
                  least(CAST(floor(probability * ${BINS}) AS INTEGER), ${BINS - 1}) AS b FROM ${logSource}) s
          LEFT JOIN ${labelSource} l ON l.id = s.id
          GROUP BY ALL`)
        try {
          const count = Number((await c.runAndReadAll(`SELECT count(*) FROM ${table}`)).getRows()[0]![0])
          const groups = await readDoubleColumns(c, `SELECT w, rid, prediction, b, n, sp, nl, pos FROM ${table}`, count)
          const perWindow = (await c.runAndReadAll(`SELECT w, rid, sum(n) FROM ${table} GROUP BY ALL`)).getRows().map((r) => [Number(r[0]), Number(r[1]), Number(r[2])] as const)
          // the drift sample: a fixed pseudo-random share of each window's rows (from the row's time and index: no string is read)
          const rates = perWindow.map(([w, rid, n]) => `(${w}, ${rid}, ${Math.min(1, DRIFT_SAMPLE / n).toExponential()}::DOUBLE)`).join(", ")
          // a categorical feature is logged as text: read as codes into its sorted categories in the log
          const categorical = dataset.categorical_columns
          const levelsRow = categorical.length === 0 ? [] : (await c.runAndReadAll(`SELECT ${categorical.map((f) => {
            const col = ident(logFeatureColumn(f))
            return `list(DISTINCT ${col}::VARCHAR ORDER BY ${col}::VARCHAR) FILTER (WHERE ${col} IS NOT NULL)`
          }).join(", ")} FROM ${logSource}`)).getRowsJS()[0] ?? []
          const logLevels = new Map(categorical.map((f, k) => [f, (levelsRow[k] ?? []) as Array<string>]))
          const featureSql = (f: string) => {
            const col = ident(logFeatureColumn(f))
            if (!isCategorical(dataset, f)) return `coalesce(CAST(${col} AS DOUBLE), 'nan'::DOUBLE)`
            const ls = logLevels.get(f)!
            return ls.length === 0 ? `'nan'::DOUBLE` : `coalesce(enum_code(CAST(${col}::VARCHAR AS ENUM (${ls.map(lit).join(", ")})))::DOUBLE, 'nan'::DOUBLE)`
          }
          const sample = await readDoubleColumns(c, `WITH rate(w, rid, keep) AS (VALUES ${rates})
            SELECT CAST(s.w AS DOUBLE), CAST(s.rid AS DOUBLE), s.probability, ${features.map(featureSql).join(", ")}
            FROM (SELECT (epoch_ms(ts) // ${W}) * ${W} AS w, ${ridCase} AS rid, * FROM ${logSource}) s JOIN rate USING (w, rid)
            WHERE (epoch_ms(s.ts) * 7919 + s."row" * 104729) % 1000003 < rate.keep * 1000003`, perWindow.reduce((a, [, , n]) => a + Math.min(n, 2 * DRIFT_SAMPLE + 1000), 0))
          return { groups, sample, logLevels }
        } finally {
          await c.run(`DROP TABLE IF EXISTS ${table}`)
        }
      }).pipe(Effect.catchAllDefect((d) => Effect.fail(new DataError({ message: `monitor: ${message(d)}` }))))

      // the windows from the bins: counts exact; a bin's calibrated probabilities are its mean probability calibrated
      // (exact where the calibration is linear across the bin); ROC AUC with ties within a bin counted half
      interface Acc { w: number; rid: number; n: number; nl: number; etp: number; efp: number; efn: number; tp: number; fp: number; fn: number; ep: Float64Array; en: Float64Array; rp: Float64Array; rn: Float64Array }
      const accs = new Map<string, Acc>()
      const [gw, gr, gpred, gb, gn, gsp, gnl, gpos] = result.groups
      for (let i = 0; i < (gw?.length ?? 0); i++) {
        const k = `${gw![i]}|${gr![i]}`
        let a = accs.get(k)
        if (a === undefined) {
          accs.set(k, a = { w: gw![i]!, rid: gr![i]!, n: 0, nl: 0, etp: 0, efp: 0, efn: 0, tp: 0, fp: 0, fn: 0, ep: new Float64Array(BINS), en: new Float64Array(BINS), rp: new Float64Array(BINS), rn: new Float64Array(BINS) })
        }
        const n = gn![i]!, nl = gnl![i]!, pos = gpos![i]!, b = gb![i]!
        const spc = n * calibrate(calibrations.get(ridName(a.rid)), gsp![i]! / n)
        a.n += n
        a.nl += nl
        if (gpred![i] === 1) { a.etp += spc; a.efp += n - spc; a.tp += pos; a.fp += nl - pos } else { a.efn += spc; a.fn += pos }
        a.ep[b] = a.ep[b]! + spc
        a.en[b] = a.en[b]! + n - spc
        a.rp[b] = a.rp[b]! + pos
        a.rn[b] = a.rn[b]! + nl - pos
      }
      const auc = (dps: Float64Array, dns: Float64Array) => {
        let p = 0, n = 0, area = 0
        for (let b = BINS - 1; b >= 0; b--) {
          const dp = dps[b]!, dn = dns[b]!
          area += dn * (2 * p + dp)
          p += dp
          n += dn
        }
        return p > 0 && n > 0 ? area / (2 * p * n) : null
      }
      // the sample, grouped by window
      const byWindow = new Map<string, { probability: Array<number>; features: Array<Array<number>> }>()
      const [sw, sr, sp, ...sf] = result.sample
      for (let i = 0; i < (sw?.length ?? 0); i++) {
        const k = `${sw![i]}|${sr![i]}`
        let g = byWindow.get(k)
        if (g === undefined) byWindow.set(k, g = { probability: [], features: features.map(() => []) })
        g.probability.push(sp![i]!)
        for (let j = 0; j < features.length; j++) g.features[j]!.push(sf[j]![i]!)
      }

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
      const ordered = [...accs.values()].sort((x, y) => x.w - y.w || x.rid - y.rid)
      for (const a of ordered) {
        const sample = byWindow.get(`${a.w}|${a.rid}`)
        const ref = yield* referenceFor(ridName(a.rid))
        const drift: Array<ServingDrift> = []
        if (ref !== null && sample !== undefined) {
          const asDrift = (kind: ServingDrift["kind"], d: ReturnType<typeof featureDrift>): ServingDrift => ({
            feature: d.feature, kind, psi: d.psi, ksStatistic: d.ksStatistic, ksPValue: d.ksPValue,
            missingRateReference: d.missingRateReference, missingRateCurrent: d.missingRateCurrent,
            meanReference: d.meanReference, meanCurrent: d.meanCurrent, currentRows: d.currentRows, flagged: d.flagged, reasons: d.reasons
          })
          features.forEach((f, j) => {
            const refLevels = ref.levels[j]
            if (refLevels === null || refLevels === undefined) {
              drift.push(asDrift("numeric", featureDrift(f, ref.features[j]!, Float64Array.from(sample.features[j]!), options)))
              return
            }
            const d = categoricalDrift(f, { codes: ref.features[j]!, levels: refLevels }, { codes: Float64Array.from(sample.features[j]!), levels: result.logLevels.get(f) ?? [] }, options)
            drift.push({
              feature: f, kind: "categorical", psi: d.psi, ksStatistic: null, ksPValue: null,
              missingRateReference: d.missingRateReference, missingRateCurrent: d.missingRateCurrent, meanReference: null, meanCurrent: null,
              currentRows: d.currentRows, flagged: d.flagged, reasons: d.reasons, chiSquarePValue: d.chiSquarePValue, newCategories: d.newCategories
            })
          })
          drift.push(asDrift("prediction", featureDrift("prediction", ref.probabilities, Float64Array.from(sample.probability), options)))
        }
        windows.push({
          start: new Date(a.w).toISOString(),
          end: new Date(a.w + W).toISOString(),
          releaseId: ridName(a.rid),
          rows: a.n,
          labelled: a.nl,
          realised: a.nl === 0 ? null : metrics(a.tp, a.fp, a.fn, auc(a.rp, a.rn)),
          estimated: metrics(a.etp, a.efp, a.efn, auc(a.ep, a.en)),
          drift
        })
      }
      const logged = new Set(windows.map((w) => w.releaseId))
      const calibration = Object.fromEntries([...calibrations].filter(([id]) => logged.has(id)).map(([id, c]) => [id, c === undefined ? "none (raw probabilities)" : c.method]))
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
