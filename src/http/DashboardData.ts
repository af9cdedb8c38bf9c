/** Everything the dashboard shows, gathered from the services (read-only). */
import { Effect } from "effect"
import type { LearnerSelection } from "../domain/Schemas.js"
import type { ClassificationReport } from "../lib/Metrics.js"
import { mean, quantile, stdPopulation } from "../lib/Stats.js"
import { reportPaths } from "../programs/Steps.js"
import { AppConfig } from "../services/AppConfig.js"
import { Deployer } from "../services/Deployer.js"
import { Diagnostics } from "../services/Diagnostics.js"
import { FileStore } from "../services/FileStore.js"
import { Scorer } from "../services/Scorer.js"
import { Monitor } from "../services/Monitor.js"
import { Tracking } from "../services/Tracking.js"
import type { ProductionData } from "./DashboardProduction.js"

export interface DashboardData {
  readonly generatedAt: string
  readonly live: { readonly releaseId: string; readonly f1: number | null; readonly deployedAt: string | null; readonly dataHash: string | null } | null
  /** set when a release is named live but cannot be loaded */
  readonly liveProblem: string | null
  readonly lastRun: { readonly id: number; readonly outcome: string; readonly startedAt: string; readonly reason: string } | null
  readonly drift: { readonly state: "drifted" | "stable" | "unknown"; readonly test: string; readonly reason: string; readonly decidedAt: string } | null
  readonly threshold: { readonly test: string; readonly value: number; readonly label: string } | null
  readonly scores: ReadonlyArray<{ readonly at: string; readonly f1: number; readonly kind: string }>
  readonly events: ReadonlyArray<{ readonly at: string; readonly kind: "deployed" | "gate-refused" | "rolled-back"; readonly label: string }>
  readonly dataDrift: {
    readonly at: string
    readonly features: ReadonlyArray<{ readonly feature: string; readonly psi: number | null; readonly ksPValue: number | null; readonly flagged: boolean; readonly reasons: ReadonlyArray<string> }>
  } | null
  readonly releases: ReadonlyArray<{ readonly id: string; readonly at: string | null; readonly f1: number | null; readonly dataHash: string | null; readonly live: boolean }>
  readonly runs: ReadonlyArray<{ readonly id: number; readonly command: string; readonly outcome: string; readonly reason: string; readonly startedAt: string; readonly durationMs: number | null; readonly rows: number | null }>
  /** ticks of the cluster schedule (worker mode), newest first; empty without workers */
  readonly schedule: ReadonlyArray<{ readonly tick: string; readonly worker: string; readonly outcome: string | null; readonly runId: number | null; readonly durationMs: number | null }>
  readonly rejected: ReadonlyArray<{ readonly fileName: string; readonly reason: string; readonly at: string }>
  readonly ingested: ReadonlyArray<{ readonly fileName: string; readonly rows: number; readonly at: string }>
  readonly summary: ReadonlyArray<{
    readonly column: string; readonly mean: number | null; readonly median: number | null; readonly std: number | null; readonly count: number
    /** a categorical feature's distinct categories and most frequent ones */
    readonly distinct?: number | undefined
    readonly top?: ReadonlyArray<{ readonly category: string; readonly share: number }> | undefined
    readonly missingRate?: number | undefined
  }>
  readonly missing: ReadonlyArray<{ readonly column: string; readonly missing: number; readonly percent: number }>
  readonly classificationReport: ClassificationReport | null
  /** the live model's global importance on the test data: mean |contribution| per feature */
  readonly importance: ReadonlyArray<{ readonly feature: string; readonly importance: number }>
  /** learner "auto": both candidates' figures on the validation split, and the one kept */
  readonly selection: LearnerSelection | null
  readonly hasReport: boolean
  /** the served traffic's windows (the last monitor run) */
  readonly production?: ProductionData | null
}

/** What a run's stored summary says, in a few words. */
const runFacts = (summary: string | null) => {
  try {
    const s = JSON.parse(summary ?? "null") as {
      outcome?: string; error?: string; noDecision?: string
      drift?: { reason?: string }; gate?: { reason?: string }
      ingestion?: { rowsRead?: number }
    } | Array<string> | null
    if (s === null || Array.isArray(s)) return { reason: Array.isArray(s) ? `steps: ${s.join(", ")}` : "", rows: null }
    const reason = s.error ?? (s.gate && s.outcome === "gate-refused" ? s.gate.reason : undefined) ?? s.drift?.reason ?? s.noDecision ?? ""
    return { reason: reason ?? "", rows: s.ingestion?.rowsRead ?? null }
  } catch {
    return { reason: "", rows: null }
  }
}

export const dashboardData = Effect.gen(function*() {
  const config = yield* AppConfig
  const tracking = yield* Tracking
  const deployer = yield* Deployer
  const diagnostics = yield* Diagnostics
  const scorer = yield* Scorer
  const store = yield* FileStore
  const current = yield* deployer.current().pipe(Effect.either)
  const releases = yield* deployer.list()
  const liveInfo = releases.find((r) => r.live)
  const runs = yield* tracking.runs(50)
  const decisions = yield* tracking.driftDecisions()
  const last = decisions.at(-1)
  const kind = config.drift_check_data
  const scores = (yield* tracking.scores()).filter((s) => s.purpose === "drift-check" || s.purpose === "deployed")
  const history = scores.filter((s) => s.purpose === "drift-check" && s.dataKind === kind).map((s) => s.f1)
  const liveF1 = current._tag === "Right" ? current.right.f1 : null

  // the threshold the configured test draws now (the raw test while history is short)
  let threshold: DashboardData["threshold"] = null
  if (config.drift_test !== "raw" && history.length >= config.drift_min_history) {
    if (config.drift_test === "parametric") {
      const value = mean(history) - 2 * stdPopulation(history)
      threshold = { test: "parametric", value, label: `mean − 2σ of ${history.length} drift checks` }
    } else {
      const q1 = quantile(history, 0.25)
      const value = q1 - 1.5 * (quantile(history, 0.75) - q1)
      threshold = { test: "nonparametric", value, label: `Q1 − 1.5·IQR of ${history.length} drift checks` }
    }
  } else if (liveF1 !== null) {
    threshold = { test: "raw", value: liveF1, label: "the live release's F1 on test data" }
  }

  const deployments = yield* tracking.deployments()
  const refused = (yield* tracking.modelVersions()).filter((v) => v.gate === "refused")
  const events: Array<DashboardData["events"][number]> = [
    ...deployments.map((d) => ({
      at: d.deployed_at,
      kind: d.kind === "deploy" ? "deployed" as const : "rolled-back" as const,
      label: d.kind === "deploy" ? `deployed ${d.release_id}` : `${d.kind} to ${d.release_id}${d.reason ? `: ${d.reason}` : ""}`
    })),
    ...refused.map((v) => ({ at: v.created_at, kind: "gate-refused" as const, label: `gate refused model ${v.model_hash.slice(0, 8)} (F1 ${v.f1?.toFixed(4) ?? "?"} < live ${v.live_f1?.toFixed(4) ?? "?"})` }))
  ].sort((a, b) => a.at.localeCompare(b.at))

  const drift = (yield* tracking.dataDrift(1))[0]
  const evaluated = current._tag === "Right"
    ? yield* scorer.testData().pipe(
      Effect.map((test) => scorer.evaluate(current.right.model, test, config.test_data_path, true)),
      Effect.orElseSucceed(() => null)
    )
    : null
  const report = evaluated?.classificationReport ?? null
  const lastRun = runs[0]
  return {
    generatedAt: new Date().toISOString(),
    live: current._tag === "Right"
      ? { releaseId: current.right.releaseId, f1: current.right.f1, deployedAt: liveInfo?.deployedAt ?? null, dataHash: liveInfo?.dataHash ?? null }
      : null,
    liveProblem: current._tag === "Left" && current.left.brokenRelease !== undefined ? current.left.message : null,
    lastRun: lastRun ? { id: lastRun.id, outcome: lastRun.status, startedAt: lastRun.startedAt, reason: runFacts(lastRun.summary).reason } : null,
    // the first deployment's decision ("no model is deployed yet") is no drift of the model now live
    drift: last
      ? last.deployedScore === null && current._tag === "Right"
        ? { state: "unknown", test: last.test, reason: `release ${current.right.releaseId} is live and has not been checked for drift yet`, decidedAt: last.decidedAt }
        : { state: last.drifted ? "drifted" : "stable", test: last.test, reason: last.reason, decidedAt: last.decidedAt }
      : null,
    threshold,
    scores: scores.map((s) => ({ at: s.scoredAt, f1: s.f1, kind: s.purpose === "deployed" ? "deployed (test data)" : `drift check (${s.dataKind ?? "?"} data)` })),
    events,
    dataDrift: drift ? { at: drift.at, features: drift.features.map((f) => ({ feature: f.feature, psi: f.psi, ksPValue: f.ksPValue ?? f.chiSquarePValue ?? null, flagged: f.flagged, reasons: f.reasons })) } : null,
    releases: releases.map((r) => ({ id: r.releaseId, at: r.deployedAt, f1: r.f1, dataHash: r.dataHash, live: r.live })).reverse(),
    runs: runs.map((r) => {
      const facts = runFacts(r.summary)
      return {
        id: r.id, command: r.command, outcome: r.status, reason: facts.reason, startedAt: r.startedAt, rows: facts.rows,
        durationMs: r.finishedAt ? Date.parse(r.finishedAt) - Date.parse(r.startedAt) : null
      }
    }),
    schedule: (yield* tracking.scheduledRuns(20)).map((t) => ({
      tick: t.tick, worker: t.finishedBy !== null && t.finishedBy !== t.worker ? `${t.worker} → ${t.finishedBy}` : t.worker, outcome: t.outcome, runId: t.runId ?? t.foundRunId,
      durationMs: t.finishedAt ? Date.parse(t.finishedAt) - Date.parse(t.startedAt) : null
    })),
    rejected: (yield* tracking.rejectedFiles()).map((f) => ({ fileName: f.fileName, reason: f.reason, at: f.rejectedAt })).reverse(),
    ingested: (yield* tracking.ingestedFiles()).map((f) => ({ fileName: f.fileName, rows: f.rows, at: f.ingestedAt })).reverse(),
    summary: yield* diagnostics.summaryStats().pipe(Effect.orElseSucceed(() => [])),
    missing: yield* diagnostics.missingData().pipe(Effect.orElseSucceed(() => [])),
    classificationReport: report,
    importance: evaluated?.importance ?? [],
    selection: current._tag === "Right" ? current.right.model.selection ?? null : null,
    hasReport: yield* store.exists(reportPaths(config.output_model_path).pdf).pipe(Effect.orElseSucceed(() => false)),
    production: {
      windows: (yield* Effect.flatMap(Monitor, (m) => m.latest())).windows,
      threshold: liveF1 === null ? null : liveF1 - config.estimated_drop_tolerance,
      window: config.monitor_window
    }
  } satisfies DashboardData
}).pipe(Effect.withSpan("dashboardData"))
