/**
 * Tracking: what was ingested, trained, scored, deployed and decided, in SQLite.
 * Live layer: a database file (DbLive). Test layer: in-memory SQLite (DbTest).
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Schema } from "effect"
import type { SnapshotPart } from "../domain/Run.js"
import { DataDriftReport } from "../domain/Schemas.js"
import { DbTest } from "./Db.js"
import { ReleaseStore } from "./ReleaseStore.js"

export interface IngestedFile {
  readonly sha256: string
  readonly fileName: string
  readonly rows: number
  readonly ingestedAt: string
}

export interface RejectedFile {
  readonly sha256: string
  readonly fileName: string
  readonly movedTo: string | null
  readonly reason: string
  readonly rejectedAt: string
}

export interface ModelVersion {
  readonly modelHash: string
  readonly path: string
  readonly dataHash: string
  readonly solver: string
  readonly coefficients: ReadonlyArray<number>
  readonly intercept: number
  readonly config: unknown
}

export interface AlertDeliveryRow {
  readonly event: string
  readonly runId: number | null
  readonly url: string
  readonly attempts: number
  readonly delivered: boolean
  readonly httpStatus: number | null
  readonly error: string | null
  readonly at: string
}

export type DeploymentKind = "deploy" | "rollback" | "activate"

export type ScorePurpose = "training" | "drift-check" | "deployed" | "report" | "api"

/** which rows a score was computed on: the test data, a run's new rows, or everything ingested */
export type DataKind = "test" | "new" | "all"

export interface ScoreRow {
  readonly scoredAt: string
  readonly modelHash: string
  readonly purpose: string
  readonly dataset: string
  readonly rows: number
  readonly f1: number
  readonly dataKind: DataKind | null
}

/**
 * A snapshot of everything ingested: its immutable Parquet files in order (a run adds the file
 * of its new rows to the list before), and the batch of new rows that made it.
 */
export interface SnapshotRow {
  readonly id: number
  readonly hash: string
  readonly parts: ReadonlyArray<SnapshotPart>
  readonly rows: number
  /** the rows this snapshot added (new after de-duplication), as their own Parquet file */
  readonly batchPath: string | null
  readonly batchRows: number
  /** rows read from the new files, before de-duplication */
  readonly rowsRead: number
  readonly datasetSchema: string
  readonly createdAt: string
  readonly runId: number | null
}

export interface DriftRow {
  readonly decidedAt: string
  readonly test: string
  readonly drifted: boolean
  readonly newScore: number
  readonly deployedScore: number | null
  readonly threshold: number | null
  readonly reason: string
  /** which tests fired: "performance", "data" */
  readonly fired: ReadonlyArray<string>
}

export interface RunRow {
  readonly id: number
  readonly command: string
  readonly startedAt: string
  readonly finishedAt: string | null
  readonly status: string
  readonly summary: string | null
}

/** A tick of the cluster schedule and the run it made. */
export interface ScheduledRunRow {
  readonly tick: string
  readonly executionId: string
  readonly worker: string
  readonly startedAt: string
  readonly finishedAt: string | null
  readonly outcome: string | null
  readonly runId: number | null
  /** the worker that finished the run (another than `worker` when the run moved) */
  readonly finishedBy: string | null
  /** for a skipped tick: the tick whose run was going, and that run */
  readonly foundTick: string | null
  readonly foundRunId: number | null
}

const nowIso = () => new Date().toISOString()

const IngestedRow = Schema.Struct({
  sha256: Schema.String,
  file_name: Schema.String,
  rows: Schema.Number,
  ingested_at: Schema.String
})

export class Tracking extends Effect.Service<Tracking>()("drs/Tracking", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const ingestedFiles = Effect.fn("Tracking.ingestedFiles")(function*() {
      const rows = yield* sql`SELECT sha256, file_name, rows, ingested_at FROM ingested_files ORDER BY ingested_at, file_name`
      const decoded = yield* Schema.decodeUnknown(Schema.Array(IngestedRow))(rows)
      return decoded.map((r): IngestedFile => ({ sha256: r.sha256, fileName: r.file_name, rows: r.rows, ingestedAt: r.ingested_at }))
    }, Effect.orDie)

    const ingestedHashes = Effect.fn("Tracking.ingestedHashes")(function*() {
      const rows = yield* sql<{ sha256: string }>`SELECT sha256 FROM ingested_files`
      return new Set(rows.map((r) => r.sha256))
    }, Effect.orDie)

    const recordIngested = Effect.fn("Tracking.recordIngested")(function*(files: ReadonlyArray<Omit<IngestedFile, "ingestedAt">>, runId: number | null) {
      if (files.length === 0) return
      const at = nowIso()
      yield* sql.withTransaction(Effect.forEach(files, (f) =>
        sql`INSERT INTO ingested_files ${sql.insert({ sha256: f.sha256, file_name: f.fileName, rows: f.rows, ingested_at: at, run_id: runId })} ON CONFLICT DO NOTHING`, { discard: true }))
    }, Effect.orDie)

    const recordRejected = Effect.fn("Tracking.recordRejected")(function*(f: Omit<RejectedFile, "rejectedAt">) {
      yield* sql`INSERT INTO rejected_files ${sql.insert({ sha256: f.sha256, file_name: f.fileName, moved_to: f.movedTo, reason: f.reason, rejected_at: nowIso() })}`
    }, Effect.orDie)

    const rejectedFiles = Effect.fn("Tracking.rejectedFiles")(function*() {
      const rows = yield* sql<{ sha256: string; file_name: string; moved_to: string | null; reason: string; rejected_at: string }>`SELECT * FROM rejected_files ORDER BY id`
      return rows.map((r): RejectedFile => ({ sha256: r.sha256, fileName: r.file_name, movedTo: r.moved_to, reason: r.reason, rejectedAt: r.rejected_at }))
    }, Effect.orDie)

    const recordModel = Effect.fn("Tracking.recordModel")(function*(m: ModelVersion) {
      yield* sql`INSERT INTO model_versions ${sql.insert({
        model_hash: m.modelHash, created_at: nowIso(), path: m.path, data_hash: m.dataHash, solver: m.solver,
        coefficients: JSON.stringify(m.coefficients), intercept: m.intercept, config: JSON.stringify(m.config)
      })}`
    }, Effect.orDie)

    const modelVersions = Effect.fn("Tracking.modelVersions")(function*() {
      return yield* sql<{ id: number; model_hash: string; created_at: string; data_hash: string; solver: string; intercept: number; coefficients: string; config: string; f1: number | null; live_f1: number | null; gate: string | null; roc_auc: number | null; log_loss: number | null; classification_report: string | null }>`SELECT id, model_hash, created_at, data_hash, solver, intercept, coefficients, config, f1, live_f1, gate, roc_auc, log_loss, classification_report FROM model_versions ORDER BY id`
    }, Effect.orDie)

    /** Attach the test-data F1 to the model version(s) with this hash. */
    const setModelScore = Effect.fn("Tracking.setModelScore")(function*(
      modelHash: string, f1: number,
      more: { readonly rocAuc: number | null; readonly logLoss: number; readonly report: unknown } = { rocAuc: null, logLoss: Number.NaN, report: null }
    ) {
      const logLoss = Number.isFinite(more.logLoss) ? more.logLoss : null
      yield* sql`UPDATE model_versions SET f1 = ${f1}, roc_auc = ${more.rocAuc}, log_loss = ${logLoss}, classification_report = ${JSON.stringify(more.report)} WHERE model_hash = ${modelHash}`
    }, Effect.orDie)

    const recordScore = Effect.fn("Tracking.recordScore")(function*(s: Omit<ScoreRow, "scoredAt">) {
      yield* sql`INSERT INTO scores ${sql.insert({ scored_at: nowIso(), model_hash: s.modelHash, purpose: s.purpose, dataset: s.dataset, rows: s.rows, f1: s.f1, data_kind: s.dataKind })}`
    }, Effect.orDie)

    type ScoreSql = { scored_at: string; model_hash: string; purpose: string; dataset: string; rows: number; f1: number; data_kind: string | null }
    const scores = Effect.fn("Tracking.scores")(function*(purpose?: ScorePurpose) {
      const rows = purpose === undefined
        ? yield* sql<ScoreSql>`SELECT * FROM scores ORDER BY id`
        : yield* sql<ScoreSql>`SELECT * FROM scores WHERE purpose = ${purpose} ORDER BY id`
      return rows.map((r): ScoreRow => ({
        scoredAt: r.scored_at, modelHash: r.model_hash, purpose: r.purpose, dataset: r.dataset, rows: r.rows, f1: r.f1,
        dataKind: r.data_kind as DataKind | null
      }))
    }, Effect.orDie)

    type SnapshotSql = { id: number; hash: string; path: string; parts: string | null; rows: number; batch_path: string | null; batch_rows: number; rows_read: number; dataset_schema: string; created_at: string; run_id: number | null }
    // a snapshot recorded before snapshots had parts is one file, `path`, whose hash is the snapshot's
    const toSnapshot = (r: SnapshotSql): SnapshotRow => ({
      id: r.id, hash: r.hash, rows: Number(r.rows), batchPath: r.batch_path, batchRows: Number(r.batch_rows),
      parts: r.parts === null ? [{ path: r.path, hash: r.hash, rows: Number(r.rows) }] : JSON.parse(r.parts) as ReadonlyArray<SnapshotPart>,
      rowsRead: Number(r.rows_read), datasetSchema: r.dataset_schema, createdAt: r.created_at, runId: r.run_id
    })

    /** Record a new snapshot and the files whose rows it took in, in one transaction. */
    const recordSnapshot = Effect.fn("Tracking.recordSnapshot")(function*(
      s: Omit<SnapshotRow, "id" | "createdAt">,
      files: ReadonlyArray<Omit<IngestedFile, "ingestedAt">>
    ) {
      const at = nowIso()
      yield* sql.withTransaction(Effect.gen(function*() {
        // `path`: the newest part (the column predates parts)
        yield* sql`INSERT INTO snapshots ${sql.insert({
          hash: s.hash, path: s.parts.at(-1)!.path, parts: JSON.stringify(s.parts), rows: s.rows, batch_path: s.batchPath, batch_rows: s.batchRows, rows_read: s.rowsRead,
          dataset_schema: s.datasetSchema, created_at: at, run_id: s.runId
        })}`
        for (const f of files) {
          yield* sql`INSERT INTO ingested_files ${sql.insert({ sha256: f.sha256, file_name: f.fileName, rows: f.rows, ingested_at: at, run_id: s.runId, snapshot_hash: s.hash })} ON CONFLICT DO NOTHING`
        }
      }))
    }, Effect.orDie)

    /** The newest snapshot: the data set everything reads. */
    const currentSnapshot = Effect.fn("Tracking.currentSnapshot")(function*() {
      const rows = yield* sql<SnapshotSql>`SELECT * FROM snapshots ORDER BY id DESC LIMIT 1`
      return rows.length > 0 ? toSnapshot(rows[0]!) : null
    }, Effect.orDie)

    /** The snapshot a run made, if it made one. */
    const snapshotOfRun = Effect.fn("Tracking.snapshotOfRun")(function*(runId: number) {
      const rows = yield* sql<SnapshotSql>`SELECT * FROM snapshots WHERE run_id = ${runId} ORDER BY id DESC LIMIT 1`
      return rows.length > 0 ? toSnapshot(rows[0]!) : null
    }, Effect.orDie)

    /** The files a run ingested. */
    const ingestedByRun = Effect.fn("Tracking.ingestedByRun")(function*(runId: number) {
      const rows = yield* sql<{ sha256: string; file_name: string; rows: number }>`SELECT sha256, file_name, rows FROM ingested_files WHERE run_id = ${runId} ORDER BY file_name`
      return rows.map((r) => ({ name: r.file_name, sha256: r.sha256, rows: Number(r.rows) }))
    }, Effect.orDie)

    const snapshotByHash = Effect.fn("Tracking.snapshotByHash")(function*(hash: string) {
      const rows = yield* sql<SnapshotSql>`SELECT * FROM snapshots WHERE hash = ${hash} ORDER BY id DESC LIMIT 1`
      return rows.length > 0 ? toSnapshot(rows[0]!) : null
    }, Effect.orDie)

    const deployments = Effect.fn("Tracking.deployments")(function*() {
      return yield* sql<{ deployed_at: string; release_id: string; model_hash: string; f1: number | null; kind: DeploymentKind; reason: string | null; run_id: number | null }>`SELECT deployed_at, release_id, model_hash, f1, kind, reason, run_id FROM deployments ORDER BY id`
    }, Effect.orDie)

    /** The deploy gate's verdict on a model version, with the live model's F1 on the same test data. */
    const recordGate = Effect.fn("Tracking.recordGate")(function*(modelHash: string, gate: "passed" | "refused" | "first" | "always", liveF1: number | null) {
      yield* sql`UPDATE model_versions SET gate = ${gate}, live_f1 = ${liveF1} WHERE model_hash = ${modelHash}`
    }, Effect.orDie)

    const startRun = Effect.fn("Tracking.startRun")(function*(command: string) {
      const rows = yield* sql<{ id: number }>`INSERT INTO runs ${sql.insert({ command, started_at: nowIso(), status: "running" })} RETURNING id`
      return rows[0]!.id
    }, Effect.orDie)

    const finishRun = Effect.fn("Tracking.finishRun")(function*(id: number, status: string, summary: unknown) {
      yield* sql`UPDATE runs SET finished_at = ${nowIso()}, status = ${status}, summary = ${JSON.stringify(summary)} WHERE id = ${id}`
    }, Effect.orDie)

    const runs = Effect.fn("Tracking.runs")(function*(limit: number) {
      const rows = yield* sql<{ id: number; command: string; started_at: string; finished_at: string | null; status: string; summary: string | null }>`SELECT * FROM runs ORDER BY id DESC LIMIT ${limit}`
      return rows.map((r): RunRow => ({ id: r.id, command: r.command, startedAt: r.started_at, finishedAt: r.finished_at, status: r.status, summary: r.summary }))
    }, Effect.orDie)

    const recordDrift = Effect.fn("Tracking.recordDrift")(function*(runId: number | null, d: Omit<DriftRow, "decidedAt" | "fired">, fired: ReadonlyArray<string> = []) {
      yield* sql`INSERT INTO drift_decisions ${sql.insert({
        run_id: runId, decided_at: nowIso(), test: d.test, drifted: d.drifted ? 1 : 0,
        // −1 (never an F1) where the decision had no performance score, only data drift
        new_score: Number.isFinite(d.newScore) ? d.newScore : -1, deployed_score: d.deployedScore, threshold: d.threshold, reason: d.reason, fired: fired.join(",")
      })}`
    }, Effect.orDie)

    const driftDecisions = Effect.fn("Tracking.driftDecisions")(function*() {
      const rows = yield* sql<{ decided_at: string; test: string; drifted: number; new_score: number; deployed_score: number | null; threshold: number | null; reason: string; fired: string | null }>`SELECT * FROM drift_decisions ORDER BY id`
      return rows.map((r): DriftRow => ({
        decidedAt: r.decided_at, test: r.test, drifted: r.drifted === 1, newScore: r.new_score < 0 ? Number.NaN : r.new_score,
        deployedScore: r.deployed_score, threshold: r.threshold, reason: r.reason,
        fired: r.fired ? r.fired.split(",").filter((x) => x.length > 0) : []
      }))
    }, Effect.orDie)

    const recordDataDrift = Effect.fn("Tracking.recordDataDrift")(function*(r: DataDriftReport) {
      yield* sql`INSERT INTO data_drift ${sql.insert({
        run_id: r.runId, created_at: r.at, reference_hash: r.referenceHash, current_hash: r.currentHash,
        psi_threshold: r.psiThreshold, ks_alpha: r.ksAlpha, drifted: r.drifted ? 1 : 0, features: JSON.stringify(r.features)
      })}`
    }, Effect.orDie)

    /** Data-drift reports, newest first. */
    const dataDrift = Effect.fn("Tracking.dataDrift")(function*(limit = 20) {
      const rows = yield* sql<{ run_id: number | null; created_at: string; reference_hash: string; current_hash: string; psi_threshold: number; ks_alpha: number; drifted: number; features: string }>`SELECT * FROM data_drift ORDER BY id DESC LIMIT ${limit}`
      return yield* Effect.forEach(rows, (r) => Schema.decodeUnknown(DataDriftReport)({
        runId: r.run_id, at: r.created_at, referenceHash: r.reference_hash, currentHash: r.current_hash,
        psiThreshold: r.psi_threshold, ksAlpha: r.ks_alpha, drifted: r.drifted === 1, features: JSON.parse(r.features)
      }))
    }, Effect.orDie)

    const recordAlert = Effect.fn("Tracking.recordAlert")(function*(d: AlertDeliveryRow) {
      yield* sql`INSERT INTO alert_deliveries ${sql.insert({
        event: d.event, run_id: d.runId, url: d.url, attempts: d.attempts, delivered: d.delivered ? 1 : 0,
        http_status: d.httpStatus, error: d.error, at: d.at
      })}`
    }, Effect.orDie)

    const alertDeliveries = Effect.fn("Tracking.alertDeliveries")(function*() {
      const rows = yield* sql<{ event: string; run_id: number | null; url: string; attempts: number; delivered: number; http_status: number | null; error: string | null; at: string }>`SELECT * FROM alert_deliveries ORDER BY id`
      return rows.map((r): AlertDeliveryRow => ({
        event: r.event, runId: r.run_id, url: r.url, attempts: r.attempts, delivered: r.delivered === 1, httpStatus: r.http_status, error: r.error, at: r.at
      }))
    }, Effect.orDie)

    /** A cluster schedule tick whose workflow started on `worker`. */
    const recordTick = Effect.fn("Tracking.recordTick")(function*(t: { readonly tick: string; readonly executionId: string; readonly worker: string }) {
      yield* sql`INSERT INTO scheduled_runs ${sql.insert({ tick: t.tick, execution_id: t.executionId, worker: t.worker, started_at: nowIso() })}`
    }, Effect.orDie)

    /** A tick's run is over: how, its run, the worker that finished it, and (skipped) the run it found going. */
    const finishTick = Effect.fn("Tracking.finishTick")(function*(
      executionId: string, outcome: string, runId: number | null, finishedBy: string,
      found: { readonly tick: string; readonly runId: number | null } | null = null
    ) {
      yield* sql`UPDATE scheduled_runs SET finished_at = ${nowIso()}, outcome = ${outcome}, run_id = ${runId}, finished_by = ${finishedBy}, found_tick = ${found?.tick ?? null}, found_run_id = ${found?.runId ?? null} WHERE execution_id = ${executionId}`
    }, Effect.orDie)

    /** The run a tick started, named as soon as it exists (so a tick that finds it going can say which). */
    const tickRun = Effect.fn("Tracking.tickRun")(function*(executionId: string, runId: number) {
      yield* sql`UPDATE scheduled_runs SET run_id = ${runId} WHERE execution_id = ${executionId}`
    }, Effect.orDie)

    /** Ticks whose runs started after `since` and have not finished, other than `executionId`'s. */
    const unfinishedTicks = Effect.fn("Tracking.unfinishedTicks")(function*(executionId: string, since: string) {
      const rows = yield* sql<{ tick: string; worker: string; run_id: number | null }>`SELECT tick, worker, run_id FROM scheduled_runs WHERE finished_at IS NULL AND execution_id <> ${executionId} AND started_at > ${since} ORDER BY id`
      return rows.map((r) => ({ tick: r.tick, worker: r.worker, runId: r.run_id === null ? null : Number(r.run_id) }))
    }, Effect.orDie)

    const scheduledRuns = Effect.fn("Tracking.scheduledRuns")(function*(limit: number) {
      const rows = yield* sql<{
        tick: string; execution_id: string; worker: string; started_at: string; finished_at: string | null; outcome: string | null; run_id: number | null
        finished_by: string | null; found_tick: string | null; found_run_id: number | null
      }>`SELECT * FROM scheduled_runs ORDER BY id DESC LIMIT ${limit}`
      return rows.map((r): ScheduledRunRow => ({
        tick: r.tick, executionId: r.execution_id, worker: r.worker, startedAt: r.started_at, finishedAt: r.finished_at, outcome: r.outcome, runId: r.run_id,
        finishedBy: r.finished_by, foundTick: r.found_tick, foundRunId: r.found_run_id === null ? null : Number(r.found_run_id)
      }))
    }, Effect.orDie)

    /** One attempt of a workflow activity on a worker; finished with its status, or left "running" by a worker that died. */
    const activityStarted = Effect.fn("Tracking.activityStarted")(function*(executionId: string, activity: string, worker: string) {
      const rows = yield* sql<{ id: number }>`INSERT INTO workflow_activities ${sql.insert({ execution_id: executionId, activity, worker, started_at: nowIso(), status: "running" })} RETURNING id`
      return rows[0]!.id
    }, Effect.orDie)

    const activityFinished = Effect.fn("Tracking.activityFinished")(function*(id: number, status: "done" | "failed" | "interrupted") {
      yield* sql`UPDATE workflow_activities SET finished_at = ${nowIso()}, status = ${status} WHERE id = ${id}`
    }, Effect.orDie)

    const recordTiming = Effect.fn("Tracking.recordTiming")(function*(runId: number | null, step: string, ms: number) {
      yield* sql`INSERT INTO step_timings ${sql.insert({ run_id: runId, step, ms, measured_at: nowIso() })}`
    }, Effect.orDie)

    /** The latest measured duration of each step. */
    const latestTimings = Effect.fn("Tracking.latestTimings")(function*() {
      return yield* sql<{ step: string; ms: number; measured_at: string }>`
        SELECT step, ms, measured_at FROM step_timings t
        WHERE id = (SELECT MAX(id) FROM step_timings u WHERE u.step = t.step) ORDER BY step`
    }, Effect.orDie)

    /** The steps a run timed, in the order it timed them. */
    const timingsOfRun = Effect.fn("Tracking.timingsOfRun")(function*(runId: number) {
      return yield* sql<{ step: string; ms: number; measured_at: string }>`
        SELECT step, ms, measured_at FROM step_timings WHERE run_id = ${runId} ORDER BY id`
    }, Effect.orDie)

    return {
      ingestedFiles, ingestedHashes, recordIngested, recordRejected, rejectedFiles,
      recordModel, modelVersions, setModelScore, recordGate, recordScore, scores, recordSnapshot, currentSnapshot, snapshotByHash, snapshotOfRun, ingestedByRun, deployments,
      startRun, finishRun, runs, recordDrift, driftDecisions, recordDataDrift, dataDrift, recordAlert, alertDeliveries, recordTiming, latestTimings, timingsOfRun,
      recordTick, finishTick, tickRun, unfinishedTicks, scheduledRuns, activityStarted, activityFinished
    } as const
  })
}) {
  /** The tracking database's services over one connection: Tracking and the ReleaseStore. */
  static readonly layerOn = <E, R>(db: Layer.Layer<SqlClient.SqlClient, E, R>): Layer.Layer<Tracking | ReleaseStore, E, R> =>
    Layer.mergeAll(Tracking.Default, ReleaseStore.Default).pipe(Layer.provide(db))

  /** In-memory SQLite, fresh per build. */
  static readonly layerTest: Layer.Layer<Tracking | ReleaseStore> = Layer.suspend(() => Tracking.layerOn(DbTest))
}
