/**
 * fullprocess: new data? → ingest → drift check (data drift per feature, and the live model
 * scored on the new rows) → retrain → rescore → deploy gate → deploy → diagnostics and report.
 *
 * The steps are plain programs over service tags, each returning a result its schema in
 * domain/Run.ts can store. `pipeline` composes them through a StepRunner: run directly here
 * (the CLI, cron, POST /fullprocess), or as durable activities of a workflow on cluster
 * workers (FullProcessWorkflow.ts). The control flow is written once.
 */
import { Effect, Either, Exit, Fiber, type Schema } from "effect"
import { Snapshots } from "../data/Snapshots.js"
import {
  DeployStep, DriftStep, GateVerdict, type IngestionResult, IngestionResult as IngestionResultSchema,
  ReportStep, type RunOutcome, ScoreStep, type StepName, TrainStep
} from "../domain/Run.js"
import { MonitorResult } from "../domain/Monitoring.js"
import { type DataDriftReport, DriftDecision, type ModelArtifact } from "../domain/Schemas.js"
import { decideDrift } from "../lib/Drift.js"
import { Alerts } from "../services/Alerts.js"
import { AppConfig } from "../services/AppConfig.js"
import { Deployer } from "../services/Deployer.js"
import { Diagnostics } from "../services/Diagnostics.js"
import { Ingestion } from "../services/Ingestion.js"
import { Scorer } from "../services/Scorer.js"
import { Tracking } from "../services/Tracking.js"
import { dataDriftCheck } from "./DataDriftCheck.js"
import { describeFailure } from "./Failure.js"
import { withLock } from "./Lock.js"
import { monitorStep, monitorVerdict } from "./Monitor.js"
import { deploymentStep, diagnosticsStep, reportingStep, scoringStep, snapshotStep, trainingStep } from "./Steps.js"

export type FullProcessOutcome = RunOutcome
export type { GateVerdict }

export interface FullProcessSummary {
  readonly outcome: FullProcessOutcome
  readonly runId: number | null
  readonly ingestion?: IngestionResult
  readonly drift?: DriftDecision
  /** why there was no performance decision (too few new rows) */
  readonly noDecision?: string
  readonly dataDrift?: DataDriftReport
  readonly training?: { readonly modelHash: string; readonly rows: number }
  readonly score?: number
  readonly gate?: GateVerdict
  readonly releaseId?: string
  readonly report?: string
  readonly apiCalls?: string
  readonly warnings: ReadonlyArray<string>
}

export interface FullProcessOptions {
  /** called after a redeploy (the apicalls program); its failure is a warning, not a failed run */
  readonly afterDeploy?: Effect.Effect<string, unknown, never>
}

/**
 * How the pipeline runs a step: `name` and `schema` let a durable runner store its result.
 * The runner may add its own failure (E0) and needs (R0).
 */
export interface StepRunner<E0, R0> {
  <A, I, E, R>(name: StepName, schema: Schema.Schema<A, I>, step: Effect.Effect<A, E, R>): Effect.Effect<A, E | E0, R | R0>
}

/** Each step runs as it is, in this process. */
export const directly: StepRunner<never, never> = (_name, _schema, step) => step

const fmt = (x: number) => x.toFixed(4)

/** The cheap check first: with no new file, no run is started. */
export const beginStep = (command: string) =>
  Effect.gen(function*() {
    const ingestion = yield* Ingestion
    const tracking = yield* Tracking
    if ((yield* ingestion.pending()).length === 0) {
      yield* Effect.logInfo("no new data; nothing to do")
      return null
    }
    return { runId: yield* tracking.startRun(command) }
  })

/**
 * Ingest the new files up to the snapshot's commit point (the user files are the pipeline's);
 * a run resumed after its ingestion was recorded gets that result back.
 */
export const ingestStep = (runId: number) =>
  Effect.gen(function*() {
    const ingestion = yield* Ingestion
    const alerts = yield* Alerts
    const done = yield* ingestion.ingestedBy(runId)
    if (done._tag === "Some") {
      yield* Effect.logInfo(`run ${runId} already ingested ${done.value.newFiles.length} file(s); not ingesting again`)
      return done.value
    }
    const ingested = yield* snapshotStep(runId)
    for (const r of ingested.rejected) {
      yield* alerts.notify({ event: "file-rejected", runId, details: { file: r.name, error: r.error, movedTo: r.movedTo } })
    }
    return ingested
  })

/**
 * Data drift per feature (the new rows against the live model's training data) and performance
 * drift (the live model scored on the new rows, or on everything), combined by drift_trigger.
 */
export const driftStep = (runId: number, ingested: IngestionResult) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const deployer = yield* Deployer
    const scorer = yield* Scorer
    const snapshots = yield* Snapshots
    const tracking = yield* Tracking
    const alerts = yield* Alerts
    const current = yield* deployer.current().pipe(Effect.either)
    const live = Either.getRight(current)
    const snapshot = ingested.snapshot!
    const kind = config.drift_check_data

    // the new rows are read once: the data drift and the live model's score both use them
    const onBatch = kind === "new" && snapshot.batchPath !== null
    const scored = live._tag === "Some"
      ? yield* (onBatch ? snapshots.frame(snapshot.batchPath!, snapshot.batchRows) : snapshots.frameOf(snapshot))
      : null
    const dataDrift = live._tag === "Some" ? yield* dataDriftCheck(runId, live.value.model, snapshot, onBatch ? scored! : undefined) : null

    let performance: DriftDecision | null = null
    let noDecision: string | undefined
    if (live._tag === "Some") {
      const frame = scored!
      if (frame.rows < config.drift_min_rows) {
        noDecision = `only ${frame.rows} new row(s), fewer than drift_min_rows (${config.drift_min_rows}): no performance decision`
        yield* Effect.logInfo(noDecision)
      } else {
        const label = kind === "new" ? `new rows of snapshot ${snapshot.hash.slice(0, 12)}` : `snapshot ${snapshot.hash.slice(0, 12)}`
        const newScore = yield* scorer.scoreF1(live.value.model, frame, label, "drift-check", kind)
        // history: earlier drift checks on the same kind of data, so the tests compare like with like
        const history = (yield* tracking.scores("drift-check")).filter((s) => s.dataKind === kind).map((s) => s.f1)
        // the score just recorded is the one under test, not history
        history.pop()
        const d = decideDrift({ test: config.drift_test, newScore, deployedScore: live.value.f1, history, minHistory: config.drift_min_history })
        const scoredOn = kind === "new" ? `${frame.rows} new row(s)` : `all ${frame.rows} ingested row(s)`
        performance = DriftDecision.make({ ...d, reason: `on ${scoredOn}: ${d.reason}` })
      }
    }

    const trigger = config.drift_trigger
    const fired: Array<string> = []
    // "estimated"/"realised": the served traffic's newest window of the live release (the monitor step ran just before)
    const served = live._tag === "Some" && (trigger === "estimated" || trigger === "realised") ? yield* monitorVerdict : null
    if (served !== null && (trigger === "estimated" ? served.estimatedDrop : served.realisedDrop)) fired.push(trigger)
    if (performance?.drifted && (trigger === "performance" || trigger === "either")) fired.push("performance")
    if (dataDrift?.drifted && (trigger === "data" || trigger === "either")) fired.push("data")
    const dataReason = dataDrift === null
      ? null
      : dataDrift.drifted
        ? `data drift in ${dataDrift.features.filter((f) => f.flagged).map((f) => `${f.feature} (${f.reasons.join(", ")})`).join("; ")}`
        : `no data drift in ${dataDrift.features.length} feature(s)`
    let drift: DriftDecision
    if (live._tag === "None") {
      const first = decideDrift({ test: config.drift_test, newScore: 0, deployedScore: null, history: [], minHistory: config.drift_min_history })
      // a release is named live but cannot be loaded: say so, rather than "never deployed"
      drift = Either.isLeft(current) && current.left.brokenRelease !== undefined ? DriftDecision.make({ ...first, reason: current.left.message }) : first
    } else {
      const parts = [
        performance ? `performance ${performance.reason}` : `performance: ${noDecision ?? "no decision"}`,
        ...(dataReason ? [dataReason] : []),
        ...(served !== null ? [`served traffic: ${served.reason}`] : [])
      ]
      drift = DriftDecision.make({
        test: performance?.test ?? config.drift_test,
        drifted: fired.length > 0,
        newScore: performance?.newScore ?? Number.NaN,
        deployedScore: live.value.f1,
        threshold: performance?.threshold ?? null,
        historySize: performance?.historySize ?? 0,
        reason: `${fired.length > 0 ? `${fired.join(" and ")} drift (drift_trigger "${trigger}")` : `no drift (drift_trigger "${trigger}")`}: ${parts.join("; ")}`
      })
    }
    const recordable = !(live._tag === "Some" && performance === null && dataDrift === null)
    if (recordable) yield* tracking.recordDrift(runId, drift, live._tag === "None" ? ["first-deployment"] : fired)
    yield* Effect.logInfo(`drift: ${drift.drifted ? "yes" : "no"} (${drift.reason})`)
    if (drift.drifted && live._tag === "Some") {
      yield* alerts.notify({ event: "drift", runId, details: { fired, reason: drift.reason, releaseId: live.value.releaseId } })
    }
    return {
      drift, dataDrift,
      decided: ((trigger === "performance" || trigger === "either") && performance !== null) || ((trigger === "data" || trigger === "either") && dataDrift !== null) ||
        (served !== null && served.window !== null && (trigger === "estimated" || served.window.realised !== null)),
      ...(noDecision !== undefined ? { noDecision } : {})
    } satisfies DriftStep
  })

export const trainStep = (runId: number) =>
  trainingStep(runId).pipe(Effect.map((t) => ({ modelHash: t.modelHash, rows: t.rows })))

export const scoreStep = (runId: number) =>
  scoringStep(runId).pipe(Effect.map((s) => ({ f1: s.f1 })))

/**
 * With `deploy_gate: "not-worse"`, the candidate goes live only if its F1 on the test data is
 * at least the live model's F1 on the same test data plus `deploy_min_improvement`. The first
 * deployment is never gated. The verdict is recorded on the model version either way.
 */
export const deployGate = (live: ModelArtifact | null, candidateF1: number, candidateHash: string) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const scorer = yield* Scorer
    const tracking = yield* Tracking
    if (live === null) {
      yield* tracking.recordGate(candidateHash, "first", null)
      return { mode: "first", passed: true, candidateF1, liveF1: null, reason: "nothing live: the first deployment is not gated" } satisfies GateVerdict
    }
    const liveF1 = scorer.evaluate(live, yield* scorer.testData(), config.test_data_path).f1
    if (config.deploy_gate === "always") {
      yield* tracking.recordGate(candidateHash, "always", liveF1)
      return { mode: "always", passed: true, candidateF1, liveF1, reason: `deploy_gate "always": deployed (candidate F1 ${fmt(candidateF1)}, live F1 ${fmt(liveF1)})` } satisfies GateVerdict
    }
    const needed = liveF1 + config.deploy_min_improvement
    const passed = candidateF1 >= needed
    yield* tracking.recordGate(candidateHash, passed ? "passed" : "refused", liveF1)
    return {
      mode: "not-worse", passed, candidateF1, liveF1,
      reason: `candidate F1 ${fmt(candidateF1)} ${passed ? ">=" : "<"} live F1 ${fmt(liveF1)} + ${config.deploy_min_improvement} on the same test data: ${passed ? "deployed" : "refused, the live release stays"}`
    } satisfies GateVerdict
  })

/** The gate against what is live now; a refusal is announced. */
export const gateStep = (runId: number, candidate: { readonly f1: number; readonly modelHash: string }) =>
  Effect.gen(function*() {
    const live = yield* Effect.flatMap(Deployer, (d) => d.current()).pipe(Effect.option)
    const gate = yield* deployGate(live._tag === "Some" ? live.value.model : null, candidate.f1, candidate.modelHash)
    yield* Effect.logInfo(`deploy gate: ${gate.reason}`)
    if (!gate.passed) {
      yield* Effect.flatMap(Alerts, (a) => a.notify({ event: "gate-refused", runId, details: { candidateF1: gate.candidateF1, liveF1: gate.liveF1, reason: gate.reason, modelHash: candidate.modelHash } }))
    }
    return gate
  })

export const deployStep = (runId: number, gate: GateVerdict) =>
  Effect.gen(function*() {
    const deployed = yield* deploymentStep(runId)
    yield* Effect.flatMap(Alerts, (a) => a.notify({ event: "deployed", runId, details: { releaseId: deployed.releaseId, f1: deployed.f1, gate: gate.reason } }))
    return { releaseId: deployed.releaseId, f1: deployed.f1 }
  })

export const reportStep = (runId: number) =>
  Effect.gen(function*() {
    yield* diagnosticsStep(runId)
    const report = yield* reportingStep(runId)
    return { pdf: report.pdf }
  })

/** Old snapshots go once the run no longer needs them; the run is recorded with its summary. */
export const finishStep = (runId: number, summary: FullProcessSummary) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const removed = yield* Effect.flatMap(Snapshots, (s) => s.prune(config.releases_to_keep))
    if (removed.length > 0) yield* Effect.logInfo(`removed ${removed.length} old snapshot file(s)`)
    yield* Effect.flatMap(Tracking, (t) => t.finishRun(runId, summary.outcome, summary))
  })

/** A failed run is recorded with its one-line reason, and announced. */
export const failStep = (runId: number, failure: { readonly message: string; readonly tag: string; readonly exitCode: number }) =>
  Effect.gen(function*() {
    yield* Effect.flatMap(Tracking, (t) => t.finishRun(runId, "failed", { error: failure.message, tag: failure.tag, exitCode: failure.exitCode }))
    yield* Effect.flatMap(Alerts, (a) => a.notify({ event: "run-failed", runId, details: { error: failure.message, tag: failure.tag } }))
  })

/**
 * The run's control flow, once: each step through `step`. The user files of the new snapshot
 * (finaldata.csv, ingestedfiles.txt; nothing reads them back) are written while the run goes
 * on, and the run ends once they are, whatever its outcome.
 */
export const pipeline = <E0, R0>(step: StepRunner<E0, R0>, runId: number, options: FullProcessOptions = {}) =>
  Effect.gen(function*() {
    const warnings: Array<string> = []
    const ingested = yield* step("ingest", IngestionResultSchema, ingestStep(runId))
    for (const r of ingested.rejected) warnings.push(`rejected ${r.name}: ${r.error}`)
    if (ingested.newFiles.length === 0) {
      return { outcome: "no-valid-data", runId, ingestion: ingested, warnings } satisfies FullProcessSummary
    }
    const userFiles = yield* Effect.fork(Effect.flatMap(Ingestion, (i) => i.writeUserFiles(ingested.snapshot!)))
    const summary = yield* afterIngestion(step, runId, ingested, warnings, options).pipe(Effect.ensuring(Fiber.await(userFiles)))
    yield* Fiber.join(userFiles)
    return summary
  })

/** The steps after the ingestion. */
const afterIngestion = <E0, R0>(step: StepRunner<E0, R0>, runId: number, ingested: IngestionResult, warnings: Array<string>, options: FullProcessOptions) =>
  Effect.gen(function*() {
    yield* step("monitor", MonitorResult, monitorStep(runId))
    const d = yield* step("drift-check", DriftStep, driftStep(runId, ingested))
    const base = {
      runId, ingestion: ingested, drift: d.drift, warnings,
      ...(d.dataDrift ? { dataDrift: d.dataDrift } : {}), ...(d.noDecision !== undefined ? { noDecision: d.noDecision } : {})
    }
    if (!d.drift.drifted) return { ...base, outcome: d.decided ? "no-drift" : "no-decision" } satisfies FullProcessSummary
    // the data set's statistics for the diagnostics and the report: in SQL, while the model trains
    const statistics = yield* Effect.fork(Effect.flatMap(Diagnostics, (dg) => dg.prepare()))
    return yield* retrain(step, runId, base, options).pipe(Effect.ensuring(Fiber.await(statistics)))
  })

/** A drift: retrain, score, gate, deploy, diagnostics and report. */
const retrain = <E0, R0>(
  step: StepRunner<E0, R0>, runId: number,
  base: Pick<FullProcessSummary, "runId" | "ingestion" | "drift" | "warnings" | "dataDrift" | "noDecision"> & { readonly warnings: Array<string> },
  options: FullProcessOptions
) =>
  Effect.gen(function*() {
    const warnings = base.warnings
    const trained = yield* step("train", TrainStep, trainStep(runId))
    const scored = yield* step("score", ScoreStep, scoreStep(runId))
    const gate = yield* step("gate", GateVerdict, gateStep(runId, { f1: scored.f1, modelHash: trained.modelHash }))
    const training = { modelHash: trained.modelHash, rows: trained.rows }
    if (!gate.passed) return { ...base, outcome: "gate-refused", gate, training, score: scored.f1 } satisfies FullProcessSummary
    const deployed = yield* step("deploy", DeployStep, deployStep(runId, gate))
    const report = yield* step("report", ReportStep, reportStep(runId))
    let apiCalls: string | undefined
    if (options.afterDeploy) {
      const r = yield* Effect.exit(options.afterDeploy)
      if (Exit.isSuccess(r)) apiCalls = r.value
      else warnings.push(`API calls failed: ${String(r.cause)}`)
    }
    return {
      ...base, outcome: "redeployed", training, score: scored.f1, gate, releaseId: deployed.releaseId, report: report.pdf,
      ...(apiCalls !== undefined ? { apiCalls } : {})
    } satisfies FullProcessSummary
  })

/** fullprocess in this process, under the lock: the CLI, cron and POST /fullprocess. */
export const fullProcess = (options: FullProcessOptions = {}) =>
  withLock(Effect.gen(function*() {
    const begun = yield* beginStep("fullprocess")
    if (begun === null) return { outcome: "no-new-data", runId: null, warnings: [] } satisfies FullProcessSummary as FullProcessSummary
    const runId = begun.runId
    const summary: FullProcessSummary = yield* pipeline(directly, runId, options).pipe(
      Effect.tap((s) => finishStep(runId, s)),
      Effect.tapErrorCause((cause) => failStep(runId, describeFailure(cause)))
    )
    return summary
  })).pipe(Effect.withSpan("fullprocess"))
