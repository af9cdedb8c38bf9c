/**
 * fullprocess: new data? → ingest → score the deployed model on it → drift? →
 * retrain → rescore → redeploy → diagnostics and report → API calls.
 */
import { Effect, Either, Exit } from "effect"
import { type DataDriftReport, DriftDecision, type ModelArtifact } from "../domain/Schemas.js"
import { Alerts } from "../services/Alerts.js"
import { dataDriftCheck } from "./DataDriftCheck.js"
import { decideDrift } from "../lib/Drift.js"
import { AppConfig } from "../services/AppConfig.js"
import { Deployer } from "../services/Deployer.js"
import { Ingestion, type IngestionResult } from "../services/Ingestion.js"
import { Scorer } from "../services/Scorer.js"
import { Snapshots } from "../data/Snapshots.js"
import { Tracking } from "../services/Tracking.js"
import { describeFailure } from "./Failure.js"
import { withLock } from "./Lock.js"
import { deploymentStep, diagnosticsStep, ingestionStep, reportingStep, scoringStep, trainingStep } from "./Steps.js"

export type FullProcessOutcome = "no-new-data" | "no-valid-data" | "no-decision" | "no-drift" | "gate-refused" | "redeployed"

/** The deploy gate's verdict: the candidate against the live model, on the same test data. */
export interface GateVerdict {
  readonly mode: "not-worse" | "always" | "first"
  readonly passed: boolean
  readonly candidateF1: number
  readonly liveF1: number | null
  readonly reason: string
}

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

const fmt = (x: number) => x.toFixed(4)

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

export const fullProcess = (options: FullProcessOptions = {}) =>
  withLock(Effect.gen(function*() {
    const ingestion = yield* Ingestion
    const tracking = yield* Tracking
    const config = yield* AppConfig
    // the cheap check first: with nothing new, do nothing
    const pending = yield* ingestion.pending()
    if (pending.length === 0) {
      yield* Effect.logInfo("no new data; nothing to do")
      const idle: FullProcessSummary = { outcome: "no-new-data", runId: null, warnings: [] }
      return idle
    }
    const runId = yield* tracking.startRun("fullprocess")
    const alerts = yield* Alerts
    const body = Effect.gen(function*() {
      const warnings: Array<string> = []
      const ingested = yield* ingestionStep(runId)
      for (const r of ingested.rejected) {
        warnings.push(`rejected ${r.name}: ${r.error}`)
        yield* alerts.notify({ event: "file-rejected", runId, details: { file: r.name, error: r.error, movedTo: r.movedTo } })
      }
      if (ingested.newFiles.length === 0) {
        return { outcome: "no-valid-data", runId, ingestion: ingested, warnings } satisfies FullProcessSummary
      }
      const deployer = yield* Deployer
      const scorer = yield* Scorer
      const snapshots = yield* Snapshots
      const current = yield* deployer.current().pipe(Effect.either)
      const live = Either.getRight(current)
      const snapshot = ingested.snapshot!
      const kind = config.drift_check_data

      // data drift, per feature: the new rows against the live model's training data
      const dataDrift = live._tag === "Some" ? yield* dataDriftCheck(runId, live.value.model, snapshot) : null

      // performance drift: the live model scored on the new rows ("new") or on everything ("all")
      let performance: DriftDecision | null = null
      let noDecision: string | undefined
      if (live._tag === "Some") {
        const frame = kind === "new" && snapshot.batchPath !== null
          ? yield* snapshots.frame(snapshot.batchPath, snapshot.batchRows)
          : yield* snapshots.frame(snapshot.path, snapshot.rows)
        if (frame.rows < config.drift_min_rows) {
          noDecision = `only ${frame.rows} new row(s), fewer than drift_min_rows (${config.drift_min_rows}): no performance decision`
          yield* Effect.logInfo(noDecision)
        } else {
          const label = kind === "new" ? `new rows of snapshot ${snapshot.hash.slice(0, 12)}` : `snapshot ${snapshot.hash.slice(0, 12)}`
          const newScore = (yield* scorer.score(live.value.model, frame, label, "drift-check", kind)).f1
          // history: earlier drift checks on the same kind of data, so the tests compare like with like
          const history = (yield* tracking.scores("drift-check")).filter((s) => s.dataKind === kind).map((s) => s.f1)
          // the score just recorded is the one under test, not history
          history.pop()
          const d = decideDrift({ test: config.drift_test, newScore, deployedScore: live.value.f1, history, minHistory: config.drift_min_history })
          const scoredOn = kind === "new" ? `${frame.rows} new row(s)` : `all ${frame.rows} ingested row(s)`
          performance = DriftDecision.make({ ...d, reason: `on ${scoredOn}: ${d.reason}` })
        }
      }

      // what fires, by drift_trigger; with nothing live, the first deployment
      const trigger = config.drift_trigger
      const fired: Array<string> = []
      if (performance?.drifted && trigger !== "data") fired.push("performance")
      if (dataDrift?.drifted && trigger !== "performance") fired.push("data")
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
          ...(dataReason ? [dataReason] : [])
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
      const base = {
        runId, ingestion: ingested, drift, warnings,
        ...(dataDrift ? { dataDrift } : {}), ...(noDecision !== undefined ? { noDecision } : {})
      }
      if (!drift.drifted) {
        const decided = (trigger !== "data" && performance !== null) || (trigger !== "performance" && dataDrift !== null)
        return { ...base, outcome: decided ? "no-drift" : "no-decision" } satisfies FullProcessSummary
      }
      if (live._tag === "Some") yield* alerts.notify({ event: "drift", runId, details: { fired, reason: drift.reason, releaseId: live.value.releaseId } })
      const trained = yield* trainingStep(runId)
      const scored = yield* scoringStep(runId)
      const gate = yield* deployGate(live._tag === "Some" ? live.value.model : null, scored.f1, trained.modelHash)
      yield* Effect.logInfo(`deploy gate: ${gate.reason}`)
      if (!gate.passed) {
        yield* alerts.notify({ event: "gate-refused", runId, details: { candidateF1: gate.candidateF1, liveF1: gate.liveF1, reason: gate.reason, modelHash: trained.modelHash } })
        return {
          ...base, outcome: "gate-refused", gate,
          training: { modelHash: trained.modelHash, rows: trained.rows }, score: scored.f1
        } satisfies FullProcessSummary
      }
      const deployed = yield* deploymentStep(runId)
      yield* alerts.notify({ event: "deployed", runId, details: { releaseId: deployed.releaseId, f1: deployed.f1, gate: gate.reason } })
      yield* diagnosticsStep(runId)
      const report = yield* reportingStep(runId)
      let apiCalls: string | undefined
      if (options.afterDeploy) {
        const r = yield* Effect.exit(options.afterDeploy)
        if (Exit.isSuccess(r)) apiCalls = r.value
        else warnings.push(`API calls failed: ${String(r.cause)}`)
      }
      return {
        ...base, outcome: "redeployed",
        training: { modelHash: trained.modelHash, rows: trained.rows },
        score: scored.f1, gate, releaseId: deployed.releaseId, report: report.pdf,
        ...(apiCalls !== undefined ? { apiCalls } : {})
      } satisfies FullProcessSummary
    })
    const summary: FullProcessSummary = yield* body.pipe(
      // old snapshots go once the run no longer needs them; the disk does not fill up with copies
      Effect.tap(() => Effect.flatMap(Snapshots, (s) => s.prune(config.releases_to_keep)).pipe(
        Effect.tap((removed) => removed.length > 0 ? Effect.logInfo(`removed ${removed.length} old snapshot file(s)`) : Effect.void)
      )),
      Effect.tap((s) => tracking.finishRun(runId, s.outcome, s)),
      Effect.tapErrorCause((cause) => {
        const f = describeFailure(cause)
        return tracking.finishRun(runId, "failed", { error: f.message, tag: f.tag, exitCode: f.exitCode }).pipe(
          Effect.zipRight(alerts.notify({ event: "run-failed", runId, details: { error: f.message, tag: f.tag } }))
        )
      })
    )
    return summary
  })).pipe(Effect.withSpan("fullprocess"))
