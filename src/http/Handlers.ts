/** The API's handlers over the services. */
import { HttpApiBuilder } from "@effect/platform"
import * as NodeFs from "node:fs"
import { createRequire } from "node:module"
import * as NodePath from "node:path"
import { parse as parseCsvSync } from "csv-parse/sync"
import { Effect, Metric, Option } from "effect"
import { type DatasetSchema, labelsOf } from "../domain/Dataset.js"
import type { Unseen } from "../lib/learners/Encoding.js"
import { contributionsOf } from "../lib/learners/Learners.js"
import type { ModelArtifact } from "../domain/Schemas.js"
import { frameFromCsv, frameFromJson, type InputFrame } from "../lib/PredictionInput.js"
import { fullProcess } from "../programs/FullProcess.js"
import { reportPaths } from "../programs/Steps.js"
import { AppConfig } from "../services/AppConfig.js"
import { Deployer } from "../services/Deployer.js"
import { Diagnostics } from "../services/Diagnostics.js"
import { FileStore } from "../services/FileStore.js"
import { Model } from "../services/Model.js"
import { Scorer } from "../services/Scorer.js"
import { Tracking } from "../services/Tracking.js"
import { makeRequireToken } from "./Auth.js"
import { type Api, BadRequest, Conflict, NotFound, Unauthorized, Unavailable } from "./Api.js"
import { renderDashboard } from "./Dashboard.js"
import { dashboardData } from "./DashboardData.js"

/** uPlot's files, served by the app itself (no CDN); read once. */
const uplotDist = NodePath.join(NodePath.dirname(createRequire(import.meta.url).resolve("uplot")), ".")
const assets = new Map<string, string>()
const asset = (name: string) =>
  Effect.sync(() => {
    let text = assets.get(name)
    if (text === undefined) {
      text = NodeFs.readFileSync(NodePath.join(uplotDist, name), "utf8")
      assets.set(name, text)
    }
    return text
  })

export const predictionsTotal = Metric.counter("drs_prediction_rows_total", { description: "rows scored by POST /prediction", incremental: true })
export const predictionRequests = Metric.counter("drs_prediction_requests_total", { description: "POST /prediction requests", incremental: true })

/** A frame of the rows of a CSV document for prediction: the declared features are required columns. */
export const frameFromCsvText = (text: string, dataset: DatasetSchema): Effect.Effect<InputFrame, BadRequest> =>
  Effect.gen(function*() {
    let records: Array<Array<string>>
    try {
      records = parseCsvSync(text, { skip_empty_lines: true, bom: true, relax_column_count: true }) as Array<Array<string>>
    } catch (e) {
      return yield* new BadRequest({ message: `csv: unreadable CSV: ${(e as Error).message}` })
    }
    if (records.length < 2) return yield* new BadRequest({ message: "csv: no data rows" })
    const frame = frameFromCsv(dataset, records)
    if ("invalid" in frame) return yield* new BadRequest({ message: `csv: ${frame.invalid}` })
    return frame
  })

/** What the response says of categories the live model has not seen: each value and how many rows had it. */
const unseenWarnings = (unseen: ReadonlyArray<Unseen>) =>
  unseen.flatMap((u) => u.values.map((v) =>
    `${u.feature}: the category "${v.value}" (${v.rows} row${v.rows === 1 ? "" : "s"}) was not seen in training; encoded as unknown`))

/** Each row's explanation: the base log-odds and each feature's contribution (they add up to the row's log-odds). */
const explanations = (m: ModelArtifact, input: InputFrame) => {
  const { base, features, contributions } = contributionsOf(m, input)
  return Array.from({ length: input.rows }, (_, i) => ({
    base,
    contributions: Object.fromEntries(features.map((f, j) => [f, contributions[j]![i]!]))
  }))
}

const unavailable = (e: { message: string }) => new Unavailable({ message: e.message })

export const modelHandlers = (api: Api) => HttpApiBuilder.group(api, "model", (handlers) =>
  Effect.gen(function*() {
    const deployer = yield* Deployer
    const model = yield* Model
    const scorer = yield* Scorer
    const diagnostics = yield* Diagnostics
    const tracking = yield* Tracking
    const store = yield* FileStore
    const config = yield* AppConfig
    const dataset = config.dataset
    const requireToken = yield* makeRequireToken

    return handlers
      .handle("prediction", ({ payload: body, urlParams }) =>
        Effect.gen(function*() {
          const payload = typeof body === "string" ? { csv: body } : body
          const given = (payload.rows !== undefined ? 1 : 0) + (payload.csv !== undefined ? 1 : 0)
          if (given !== 1) return yield* new BadRequest({ message: "give exactly one of `rows` (JSON rows) or `csv` (a CSV document)" })
          const input = payload.rows !== undefined ? frameFromJson(dataset, payload.rows) : yield* frameFromCsvText(payload.csv!, dataset)
          if (input.rows === 0) return yield* new BadRequest({ message: "no rows to predict" })
          const live = yield* deployer.current().pipe(Effect.mapError(unavailable))
          const unseen: Array<Unseen> = []
          const p = model.predict(live.model, input, unseen)
          yield* Metric.increment(predictionRequests)
          yield* Metric.incrementBy(predictionsTotal, input.rows)
          const [negative, positive] = labelsOf(dataset)
          return {
            predictions: Array.from(p.predictions) as Array<0 | 1>,
            labels: Array.from(p.predictions, (c) => (c === 1 ? positive : negative)),
            probabilities: Array.from(p.probabilities),
            releaseId: live.releaseId,
            warnings: unseenWarnings(unseen),
            ...(urlParams.explain === "true" ? { explanations: explanations(live.model, input) } : {})
          }
        }))
      .handle("scoring", () =>
        Effect.gen(function*() {
          const live = yield* deployer.current().pipe(Effect.mapError(unavailable))
          const test = yield* scorer.testData().pipe(Effect.mapError((e) => new BadRequest({ message: `test data: ${e.message}` })))
          // read-only: nothing is written or recorded
          return scorer.evaluate(live.model, test, config.test_data_path, true)
        }))
      .handle("summarystats", () =>
        diagnostics.summaryStats().pipe(Effect.mapError((e) => new NotFound({ message: `no ingested data: ${e.message}` }))))
      .handle("diagnostics", () =>
        Effect.gen(function*() {
          const missing = yield* diagnostics.missingData().pipe(Effect.mapError((e) => new NotFound({ message: `no ingested data: ${e.message}` })))
          const timings = yield* tracking.latestTimings()
          return {
            missing,
            timings: timings.map((t) => ({ step: t.step, ms: t.ms })),
            dependencies: yield* diagnostics.dependencies()
          }
        }))
      // per-feature data drift of the latest runs, newest first
      .handle("drift", () => tracking.dataDrift(20))
      .handle("download", () =>
        store.readFile(reportPaths(config.output_model_path).pdf).pipe(
          Effect.mapError(() => new NotFound({ message: "no report yet: run the reporting step (or fullprocess)" }))
        ))
      .handle("fullprocess", () =>
        Effect.gen(function*() {
          yield* requireToken
          const summary = yield* fullProcess().pipe(
            Effect.catchTag("LockHeld", (e) => new Conflict({ message: e.message })),
            Effect.catchAll((e) => Effect.die(e))
          )
          return { outcome: summary.outcome, summary }
        }))
  }))

export const releaseHandlers = (api: Api) => HttpApiBuilder.group(api, "releases", (handlers) =>
  Effect.gen(function*() {
    const deployer = yield* Deployer
    const requireToken = yield* makeRequireToken
    return handlers
      .handle("releases", () => deployer.list())
      .handle("activate", ({ path, payload }) =>
        Effect.gen(function*() {
          yield* requireToken
          const reason = payload.reason ?? "activated through the API"
          const r = yield* deployer.activate(path.id, "activate", reason).pipe(
            Effect.catchTags({
              ReleaseNotFound: (e) => new NotFound({ message: e.message }),
              DeployError: (e) => new Conflict({ message: e.message })
            })
          )
          return { releaseId: r.releaseId, previous: r.previous, f1: r.f1, reason }
        }))
  }))

export const systemHandlers = (api: Api) => HttpApiBuilder.group(api, "system", (handlers) =>
  Effect.gen(function*() {
    const deployer = yield* Deployer
    const tracking = yield* Tracking
    const live = deployer.current().pipe(Effect.option)
    return handlers
      .handle("health", () =>
        live.pipe(Effect.map((r) => ({
          status: "ok" as const,
          releaseId: Option.getOrNull(Option.map(r, (x) => x.releaseId)),
          f1: Option.getOrNull(Option.flatMap(r, (x) => Option.fromNullable(x.f1))),
          pid: process.pid
        }))))
      .handle("metrics", () =>
        Effect.gen(function*() {
          const r = yield* live
          const files = yield* tracking.ingestedFiles()
          const rejected = yield* tracking.rejectedFiles()
          const runs = yield* tracking.runs(1000)
          const drift = yield* tracking.driftDecisions()
          const requests = (yield* Metric.value(predictionRequests)).count
          const rows = (yield* Metric.value(predictionsTotal)).count
          const byStatus = new Map<string, number>()
          for (const run of runs) byStatus.set(run.status, (byStatus.get(run.status) ?? 0) + 1)
          const lines = [
            "# HELP drs_deployed Whether a model is deployed.", "# TYPE drs_deployed gauge", `drs_deployed ${Option.isSome(r) ? 1 : 0}`,
            "# HELP drs_deployed_f1 F1 of the deployed model on test data.", "# TYPE drs_deployed_f1 gauge",
            `drs_deployed_f1 ${Option.match(r, { onNone: () => "NaN", onSome: (x) => String(x.f1 ?? "NaN") })}`,
            "# HELP drs_ingested_files Files ingested so far.", "# TYPE drs_ingested_files gauge", `drs_ingested_files ${files.length}`,
            "# HELP drs_rejected_files Files rejected as malformed.", "# TYPE drs_rejected_files gauge", `drs_rejected_files ${rejected.length}`,
            "# HELP drs_runs Pipeline runs by status.", "# TYPE drs_runs gauge",
            ...[...byStatus].map(([s, n]) => `drs_runs{status="${s}"} ${n}`),
            "# HELP drs_drift_detected Whether the latest drift check found drift.", "# TYPE drs_drift_detected gauge",
            `drs_drift_detected ${drift.length === 0 ? "NaN" : drift[drift.length - 1]!.drifted ? 1 : 0}`,
            "# HELP drs_prediction_requests_total POST /prediction requests served.", "# TYPE drs_prediction_requests_total counter", `drs_prediction_requests_total ${requests}`,
            "# HELP drs_prediction_rows_total Rows scored by POST /prediction.", "# TYPE drs_prediction_rows_total counter", `drs_prediction_rows_total ${rows}`
          ]
          return lines.join("\n") + "\n"
        }))
      .handle("monitor", () => dashboardData.pipe(Effect.map(renderDashboard)))
      .handle("uplotJs", () => asset("uPlot.iife.min.js"))
      .handle("uplotCss", () => asset("uPlot.min.css"))
  }))
