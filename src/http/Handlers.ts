/** The API's handlers over the services. */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import * as NodeFs from "node:fs"
import { createRequire } from "node:module"
import * as NodePath from "node:path"
import { parse as parseCsvSync } from "csv-parse/sync"
import { Effect, Exit, Metric, Option } from "effect"
import { PredictionLog } from "../data/PredictionLog.js"
import type { DatasetSchema } from "../domain/Dataset.js"
import { frameBuilder, frameFromJson, type InputFrame } from "../lib/PredictionInput.js"
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
import { type Api, BadRequest, Conflict, HealthDown, NotFound, PayloadTooLarge, Unauthorized, Unavailable } from "./Api.js"
import { tooManyRows } from "./Guard.js"
import { healthOf } from "./Health.js"
import { answerOf, countPrediction, predictionRequests, predictionsTotal } from "./Prediction.js"
import { DASHBOARD_SCRIPT, renderDashboard } from "./Dashboard.js"
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


/** Rows parsed between two yields to the event loop: a large document never holds up other requests for long. */
const SLICE_ROWS = 1000

/** Let the event loop serve other sockets (a macrotask: a microtask would not let I/O in). */
const yieldToEventLoop = Effect.async<void>((resume) => {
  const h = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(h))
})

/**
 * A frame of the rows of a CSV document for prediction, by the declared schema: the declared
 * features are required columns, matched by name. More than `maxRows` data rows is a
 * PayloadTooLarge, found before any row is parsed. A document without quotes is split by
 * lines and commas, in slices with a yield to the event loop between them; one with quotes
 * goes through csv-parse.
 */
export const frameFromCsvText = (
  text: string, dataset: DatasetSchema, maxRows = Number.POSITIVE_INFINITY
): Effect.Effect<InputFrame, BadRequest | PayloadTooLarge> =>
  Effect.gen(function*() {
    const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
    if (body.includes('"')) {
      let records: Array<Array<string>>
      try {
        records = parseCsvSync(body, { skip_empty_lines: true, relax_column_count: true }) as Array<Array<string>>
      } catch (e) {
        return yield* new BadRequest({ message: `csv: unreadable CSV: ${(e as Error).message}` })
      }
      if (records.length - 1 > maxRows) return yield* new PayloadTooLarge({ message: tooManyRows(records.length - 1, maxRows) })
      return yield* frameOfRecords(records, dataset, (i) => i + 1)
    }
    return yield* frameOfPlain(body, dataset, maxRows)
  })

/** The end of the line that starts at `from` (its "\n", or the text's end), and where the line's content ends (before a "\r"). */
const lineEnd = (text: string, from: number) => {
  const nl = text.indexOf("\n", from)
  const end = nl < 0 ? text.length : nl
  return { next: end + 1, end: end > from && text.charCodeAt(end - 1) === 13 ? end - 1 : end }
}

/** A frame from a CSV document without quotes, read in place: no array per line, no string per unused cell. */
const frameOfPlain = (body: string, dataset: DatasetSchema, maxRows: number) =>
  Effect.gen(function*() {
    const features = dataset.feature_columns
    // the data lines, counted before any is parsed
    let rows = 0
    let headerAt = -1
    for (let at = 0; at < body.length;) {
      const { end, next } = lineEnd(body, at)
      if (end > at) {
        if (headerAt < 0) headerAt = at
        else rows++
      }
      at = next
    }
    if (rows > maxRows) return yield* new PayloadTooLarge({ message: tooManyRows(rows, maxRows) })
    if (headerAt < 0 || rows === 0) return yield* new BadRequest({ message: "csv: no data rows" })
    const header = body.slice(headerAt, lineEnd(body, headerAt).end).split(",").map((h) => h.trim())
    const missing = features.filter((f) => !header.includes(f))
    if (missing.length > 0) return yield* new BadRequest({ message: `csv: missing column(s) ${missing.join(", ")}` })
    // for each column of the document, which feature it holds (-1: none; -2: the id column)
    const featureOf = header.map((h) => (h === dataset.id_column ? -2 : features.indexOf(h)))
    for (let c = 0; c < header.length; c++) if (featureOf[c]! >= 0 && header.indexOf(header[c]!) !== c) featureOf[c] = -1
    const frame = frameBuilder(dataset, rows)
    const seen = new Uint8Array(features.length)
    let line = 1
    for (let at = 0; at < headerAt; at = lineEnd(body, at).next) line++
    let row = 0
    for (let at = lineEnd(body, headerAt).next, n = line + 1; at < body.length; n++) {
      const { end, next } = lineEnd(body, at)
      if (end > at) {
        if (row > 0 && row % SLICE_ROWS === 0) yield* yieldToEventLoop
        seen.fill(0)
        let c = 0
        for (let start = at; start <= end && c < featureOf.length; c++) {
          let comma = body.indexOf(",", start)
          if (comma < 0 || comma > end) comma = end
          const f = featureOf[c]!
          if (f === -2) frame.setId(row, body.slice(start, comma))
          else if (f >= 0) {
            const invalid = frame.set(f, row, body.slice(start, comma))
            if (invalid !== undefined) return yield* new BadRequest({ message: `csv: line ${n}, column "${features[f]}": ${invalid}` })
            seen[f] = 1
          }
          start = comma + 1
        }
        // a short line: its missing cells are missing values
        for (let f = 0; f < features.length; f++) if (seen[f] === 0) frame.missing(f, row)
        row++
      }
      at = next
    }
    return frame.build()
  })

/** A frame from split records (the first the header); `lineOf(i)` is the line of record i, for messages. */
const frameOfRecords = (records: ReadonlyArray<ReadonlyArray<string>>, dataset: DatasetSchema, lineOf: (i: number) => number) =>
  Effect.gen(function*() {
    const features = dataset.feature_columns
    if (records.length < 2) return yield* new BadRequest({ message: "csv: no data rows" })
    const header = records[0]!.map((h) => h.trim())
    const missing = features.filter((f) => !header.includes(f))
    if (missing.length > 0) return yield* new BadRequest({ message: `csv: missing column(s) ${missing.join(", ")}` })
    const index = features.map((f) => header.indexOf(f))
    const idAt = dataset.id_column ? header.indexOf(dataset.id_column) : -1
    const rows = records.length - 1
    const frame = frameBuilder(dataset, rows)
    for (let i = 0; i < rows; i++) {
      if (i > 0 && i % SLICE_ROWS === 0) yield* yieldToEventLoop
      const r = records[i + 1]!
      if (idAt >= 0) frame.setId(i, r[idAt] ?? "")
      for (let j = 0; j < features.length; j++) {
        const invalid = frame.set(j, i, r[index[j]!] ?? "")
        if (invalid !== undefined) return yield* new BadRequest({ message: `csv: line ${lineOf(i + 1)}, column "${features[j]}": ${invalid}` })
      }
    }
    return frame.build()
  })

/** Nothing live to serve: said without the server's paths. */
const unavailable = (e: { readonly brokenRelease?: string | undefined }) =>
  new Unavailable({ message: e.brokenRelease !== undefined ? `release ${e.brokenRelease} is live but cannot be loaded; see the server log` : "nothing is deployed yet; run fullprocess" })

/** A failure whose message names server paths: logged in full, answered in general terms. */
const logged = <E extends { readonly message: string }, A>(what: string, answer: () => A) => (e: E) =>
  Effect.as(Effect.logWarning(`${what}: ${e.message}`), answer())

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
    const predictionLog = yield* PredictionLog
    const noData = (e: { readonly _tag: string; readonly message: string }) =>
      e._tag === "NoDataError"
        ? Effect.succeed(new NotFound({ message: "no ingested data yet: run fullprocess" }))
        : logged("reading the ingested data", () => new NotFound({ message: "the ingested data cannot be read; see the server log" }))(e)

    return handlers
      .handle("prediction", ({ payload: body, urlParams }) =>
        Effect.gen(function*() {
          const payload = typeof body === "string" ? { csv: body } : body
          const given = (payload.rows !== undefined ? 1 : 0) + (payload.csv !== undefined ? 1 : 0)
          if (given !== 1) return yield* new BadRequest({ message: "give exactly one of `rows` (JSON rows) or `csv` (a CSV document)" })
          const input = payload.rows !== undefined ? frameFromJson(dataset, payload.rows) : yield* frameFromCsvText(payload.csv!, dataset, config.max_prediction_rows)
          if (input.rows === 0) return yield* new BadRequest({ message: "no rows to predict" })
          if (input.rows > config.max_prediction_rows) return yield* new PayloadTooLarge({ message: tooManyRows(input.rows, config.max_prediction_rows) })
          const live = yield* deployer.current().pipe(Effect.mapError(unavailable))
          const { result, logged } = answerOf(dataset, live, input, urlParams.explain === "true")
          yield* predictionLog.record(logged)
          yield* countPrediction(input.rows)
          // a large answer: other requests go first
          if (input.rows > SLICE_ROWS) yield* yieldToEventLoop
          // sent as it is built: the response schema's encoding would walk every element for
          // nothing (these are numbers, text and 0/1) and give the same JSON
          return HttpServerResponse.unsafeJson(result) as unknown as typeof result
        }))
      .handle("scoring", () =>
        Effect.gen(function*() {
          const live = yield* deployer.current().pipe(Effect.mapError(unavailable))
          const test = yield* scorer.testData().pipe(
            Effect.catchAll((e) => Effect.flatMap(logged("GET /scoring: test data", () => new BadRequest({ message: "the test data cannot be read; see the server log" }))(e), Effect.fail))
          )
          // read-only: nothing is written or recorded; the test data named, not the server's path
          return scorer.evaluate(live.model, test, NodePath.basename(config.test_data_path), true)
        }))
      .handle("summarystats", () =>
        diagnostics.summaryStats().pipe(Effect.catchAll((e) => Effect.flatMap(noData(e), Effect.fail))))
      .handle("diagnostics", () =>
        Effect.gen(function*() {
          const missing = yield* diagnostics.missingData().pipe(Effect.catchAll((e) => Effect.flatMap(noData(e), Effect.fail)))
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
            // the lock's path, process and host stay in the server log
            Effect.catchAll((e) =>
              e._tag === "LockHeld"
                ? Effect.flatMap(logged("POST /fullprocess", () => new Conflict({ message: "another run is in progress; try again when it has finished" }))(e), Effect.fail)
                : Effect.die(e))
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
      .handle("health", () => Effect.flatMap(healthOf, (a) => (a instanceof HealthDown ? Effect.fail(a) : Effect.succeed(a))))
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
      .handle("dashboardJs", () => Effect.succeed(DASHBOARD_SCRIPT))
      .handle("uplotCss", () => asset("uPlot.min.css"))
  }))
