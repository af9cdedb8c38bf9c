/** The command line: fullprocess, run --steps, status, releases, rollback, serve, apicalls, worker, generate-data. */
import { Args, Command, Options, ValidationError } from "@effect/cli"
// module paths, not the package indexes: an index loads all its modules (the HTTP client
// and undici among them) on every command
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Console, Effect, Either, Layer, Logger, LogLevel, Option, Schema } from "effect"
import * as NodePath from "node:path"
import { AppLayer, FileStoreLive } from "../programs/AppLayer.js"
import { describeFailure } from "../programs/Failure.js"
import { fullProcess } from "../programs/FullProcess.js"
import { monitorProgram } from "../programs/Monitor.js"
import { withLock } from "../programs/Lock.js"
import { SAMPLE_LAYOUT, writeBulkData, writeSampleData } from "../programs/GenerateData.js"
import { DatasetSchema, DEFAULT_DATASET } from "../domain/Dataset.js"
import { ConfigError } from "../domain/Errors.js"
import { withGeneratedCategories } from "../programs/GenerateRich.js"
import { AppConfig, loadConfig } from "../services/AppConfig.js"
import { configStamp, validatedStampPath } from "./QuickCheck.js"
import { isClusterWorker, superviseWorkers } from "./Workers.js"
import { FileStore } from "../services/FileStore.js"
import { runStep, STEPS, type Step } from "../programs/Steps.js"
import { Deployer } from "../services/Deployer.js"
import { Tracking } from "../services/Tracking.js"
// the HTTP stack loads only for the commands that serve or call it
const http = () => import("../http/Server.js")
const apiCallsProgram = (url?: string) => Effect.flatMap(Effect.promise(http), (m) => m.apiCallsProgram(url))
const serveProgram = (port?: number) => Effect.flatMap(Effect.promise(http), (m) => m.serveProgram(port))

export { exitCodeOf } from "../programs/Failure.js"

const configOption = Options.file("config").pipe(Options.withDefault("config.json"), Options.withDescription("configuration file"))
const setOption = Options.text("set").pipe(Options.repeated, Options.withDescription("override a config key: --set key=value (repeatable)"))
const jsonOption = Options.boolean("json").pipe(Options.withDescription("print a JSON summary on stdout"))
const verboseOption = Options.boolean("verbose").pipe(Options.withDescription("print the full cause (stack traces) of a failure"))
const common = { config: configOption, set: setOption, json: jsonOption, verbose: verboseOption }
const firstLineOf = (s: string) => s.split("\n").find((l) => l.trim().length > 0) ?? s

const logLayer = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))

type CommonOptions = { readonly config: string; readonly set: ReadonlyArray<string>; readonly json: boolean; readonly verbose: boolean }

/** A result that finished but is still a failure for cron (exit code ≠ 0): its tag, message and code. */
type ResultFailure = { readonly tag: string; readonly message: string; readonly exitCode: number }

/** Report a program's outcome (JSON or human) and set the exit code. */
const report = <A>(opts: CommonOptions, human: (a: A) => string, failureOf: (a: A) => ResultFailure | null = () => null) => <E, R>(program: Effect.Effect<A, E, R>) =>
  program.pipe(
    Effect.matchCauseEffect({
      onSuccess: (a) => {
        const f = failureOf(a)
        const out = opts.json
          ? Console.log(JSON.stringify(f === null ? { ok: true, result: a } : { ok: false, result: a, error: f }))
          : f === null ? Console.log(human(a)) : Effect.zipRight(Console.log(human(a)), Console.error(f.message))
        return f === null ? out : Effect.zipRight(out, Effect.sync(() => { process.exitCode = f.exitCode }))
      },
      onFailure: (cause) => {
        // one line for what an operator can fix; the stack only for a defect, or with --verbose
        const f = describeFailure(cause)
        const detail = opts.verbose && !f.defect ? `\n${Cause.pretty(cause)}` : ""
        return Effect.zipRight(
          opts.json
            ? Console.log(JSON.stringify({ ok: false, error: { tag: f.tag, message: f.defect ? firstLineOf(f.message) : f.message, exitCode: f.exitCode } }))
            : Console.error(f.message + detail),
          Effect.sync(() => { process.exitCode = f.exitCode })
        )
      }
    })
  )

/** Run a program with the live services; report the outcome and set the exit code. */
const execute = <A, E extends { readonly _tag?: string }>(
  opts: CommonOptions,
  program: Effect.Effect<A, E, Layer.Layer.Success<ReturnType<typeof AppLayer>>>,
  human: (a: A) => string,
  failureOf?: (a: A) => ResultFailure | null
) =>
  program.pipe(
    // progress lines only on an interactive terminal, never with --json: decided here, once
    Effect.provide(AppLayer(opts.config, opts.set, process.stderr.isTTY === true && !opts.json)),
    report(opts, human, failureOf)
  )

/** A run in which every new file was rejected took in nothing: exit 3 (bad data), so cron sees it. */
const noValidData = (s: { readonly outcome: string; readonly ingestion?: { readonly rejected: ReadonlyArray<{ readonly name: string }> } | undefined }): ResultFailure | null =>
  s.outcome === "no-valid-data"
    ? {
      tag: "NoValidData",
      message: `fullprocess: every new file was rejected (${(s.ingestion?.rejected ?? []).map((r) => r.name).join(", ")}); nothing was ingested. Fix the files in quarantine and drop them in again`,
      exitCode: 3
    }
    : null

const fullprocessCommand = Command.make("fullprocess", { ...common, noApiCalls: Options.boolean("no-apicalls").pipe(Options.withDescription("skip the API calls after a redeploy")) }, (opts) =>
  execute(opts, Effect.gen(function*() {
    const ctx = yield* Effect.context<Layer.Layer.Success<ReturnType<typeof AppLayer>>>()
    // the config validated: a later no-op run with this same file may skip loading all this
    if (opts.set.length === 0) {
      const store = yield* FileStore
      const config = yield* AppConfig
      const text = yield* store.readText(opts.config).pipe(Effect.orElseSucceed(() => ""))
      yield* store.writeAtomic(validatedStampPath(config.output_folder_path), configStamp(text)).pipe(Effect.ignore)
    }
    return yield* fullProcess(opts.noApiCalls ? {} : { afterDeploy: apiCallsProgram().pipe(Effect.map((r) => r.path), Effect.provide(ctx)) })
  }), (s) => {
    const lines = [`fullprocess: ${s.outcome}`]
    if (s.ingestion) lines.push(`  ingested ${s.ingestion.newFiles.map((f) => f.name).join(", ") || "no file"}; finaldata.csv has ${s.ingestion.totalRows} rows`)
    if (s.drift) lines.push(`  drift (${s.drift.test}): ${s.drift.drifted ? "yes" : "no"} — ${s.drift.reason}`)
    if (s.gate) lines.push(`  deploy gate: ${s.gate.reason}`)
    if (s.releaseId !== undefined) lines.push(`  new model F1 on test data: ${s.score}; release ${s.releaseId}`)
    if (s.noDecision) lines.push(`  ${s.noDecision}`)
    if (s.report) lines.push(`  report: ${s.report}`)
    if (s.apiCalls) lines.push(`  API responses: ${s.apiCalls}`)
    for (const w of s.warnings) lines.push(`  warning: ${w}`)
    return lines.join("\n")
  }, noValidData)).pipe(Command.withDescription("check for new data, ingest, detect drift; retrain, rescore, redeploy and report when the model drifted"))

const stepsOption = Options.text("steps").pipe(
  Options.withDefault(STEPS.join(",")),
  Options.withDescription(`comma-separated steps, run in the order given: ${STEPS.join(", ")}`)
)

const runCommand = Command.make("run", { ...common, steps: stepsOption }, (opts) =>
  Effect.gen(function*() {
    const steps = opts.steps.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
    const unknown = steps.filter((s) => !(STEPS as ReadonlyArray<string>).includes(s))
    if (unknown.length > 0 || steps.length === 0) {
      yield* Console.error(`unknown step(s): ${unknown.join(", ") || "(none given)"}; known: ${STEPS.join(", ")}`)
      process.exitCode = 2
      return
    }
    yield* execute(opts, Effect.gen(function*() {
      const tracking = yield* Tracking
      const runId = yield* tracking.startRun(`run ${steps.join(",")}`)
      const results: Record<string, unknown> = {}
      const all = Effect.gen(function*() {
        for (const s of steps as Array<Step>) results[s] = yield* runStep(s, runId)
        return results
      })
      return yield* all.pipe(
        Effect.tap(() => tracking.finishRun(runId, "done", Object.keys(results))),
        Effect.tapErrorCause((c) => tracking.finishRun(runId, "failed", { error: describeFailure(c).message, completed: Object.keys(results) }))
      )
    }).pipe(withLock), (r) => Object.entries(r).map(([k, v]) => `${k}: ${JSON.stringify(v, (_k, val) => Array.isArray(val) && val.length > 12 ? [...val.slice(0, 12), `… ${val.length - 12} more`] : val)}`).join("\n"))
  })).pipe(Command.withDescription("run pipeline steps on demand"))

const statusCommand = Command.make("status", common, (opts) =>
  execute(opts, Effect.gen(function*() {
    const deployer = yield* Deployer
    const tracking = yield* Tracking
    const live = yield* deployer.current().pipe(Effect.either)
    return {
      deployed: Either.match(live, {
        onLeft: (e) => ({ error: e.message }),
        onRight: (r) => ({ releaseId: r.releaseId, f1: r.f1, modelHash: r.modelHash, ingestedFiles: r.ingestedFiles })
      }),
      runs: yield* tracking.runs(5),
      drift: (yield* tracking.driftDecisions()).slice(-5),
      schedule: yield* tracking.scheduledRuns(5)
    }
  }), (s) => [
    "error" in s.deployed ? `deployed: ${s.deployed.error}` : `deployed: release ${s.deployed.releaseId}, F1 ${s.deployed.f1}`,
    ...s.runs.map((r) => `run ${r.id} ${r.command}: ${r.status} (${r.startedAt})`),
    ...s.drift.map((d) => `drift ${d.decidedAt}: ${d.drifted ? "yes" : "no"} — ${d.reason}`),
    ...s.schedule.map((t) =>
      `tick ${t.tick} on worker ${t.worker}: ${t.outcome ?? "running"}${t.runId !== null ? ` (run ${t.runId})` : ""}` +
      `${t.finishedBy !== null && t.finishedBy !== t.worker ? `, finished by ${t.finishedBy}` : ""}` +
      `${t.foundTick !== null ? `, while the run${t.foundRunId !== null ? ` ${t.foundRunId}` : ""} of tick ${t.foundTick} was going` : ""}`)
  ].join("\n"))).pipe(Command.withDescription("show the deployed release, recent runs and drift decisions"))

const releasesCommand = Command.make("releases", common, (opts) =>
  execute(opts, Effect.flatMap(Deployer, (d) => d.list()), (list) =>
    list.length === 0
      ? "no releases yet"
      : list.map((r) => `${r.live ? "*" : " "} ${r.releaseId}  ${r.deployedAt ?? "?"}  F1 ${r.f1 ?? "n/a"}  data ${r.dataHash?.slice(0, 12) ?? "?"}`).join("\n")
  )).pipe(Command.withDescription("list the releases (the live one marked *): id, time, F1, data hash"))

const rollbackCommand = Command.make("rollback", {
  ...common,
  release: Args.text({ name: "RELEASE_ID" }).pipe(Args.optional, Args.withDescription("the release to make live; default: the one before the live one")),
  reason: Options.text("reason").pipe(Options.withDefault("rollback from the command line"), Options.withDescription("why, recorded with the deployment"))
}, (opts) =>
  execute(opts, Effect.flatMap(Deployer, (d) => d.rollback(Option.getOrUndefined(opts.release), opts.reason)).pipe(withLock), (r) =>
    `release ${r.releaseId} is live (was ${r.previous ?? "nothing"}), F1 ${r.f1 ?? "n/a"}`)).pipe(Command.withDescription("make an earlier (or any) release live again, atomically"))

const serveCommand = Command.make("serve", {
  ...common,
  port: Options.integer("port").pipe(Options.optional, Options.withDescription("port (default: api_port of the config, 8000)")),
  workers: Options.integer("workers").pipe(Options.withDefault(1), Options.withDescription("server processes sharing the port (node:cluster), e.g. one per core"))
}, (opts) =>
  opts.workers > 1 && !isClusterWorker()
    ? loadConfig(opts.config, opts.set).pipe(
      Effect.provide(FileStoreLive),
      Effect.flatMap((config) =>
        Effect.promise(() =>
          superviseWorkers(opts.workers, { port: Option.getOrElse(opts.port, () => config.api_port), host: config.api_host }, (line) => process.stderr.write(`${line}\n`)))),
      Effect.flatMap((code) => Effect.sync(() => { process.exitCode = code })),
      report(opts, () => "workers stopped")
    )
    : execute(opts, serveProgram(Option.getOrUndefined(opts.port)), () => "server stopped").pipe(
      // a cluster worker stays connected to its primary: leave once the server has stopped or failed
      Effect.ensuring(Effect.sync(() => {
        if (isClusterWorker()) process.exit(typeof process.exitCode === "number" ? process.exitCode : 0)
      }))
    )
).pipe(Command.withDescription("serve the HTTP API and the dashboard"))

const apiCallsCommand = Command.make("apicalls", { ...common, url: Options.text("url").pipe(Options.optional, Options.withDescription("a running server's base URL; default: an in-process server on a free port")) }, (opts) =>
  execute(opts, apiCallsProgram(Option.getOrUndefined(opts.url)), (r) => `wrote ${r.path} and ${r.jsonPath} (${r.calls} calls)`)).pipe(Command.withDescription("call every API endpoint and save the responses to apireturns.txt"))

const workerCommand = Command.make("worker", {
  ...common,
  host: Options.text("host").pipe(Options.optional, Options.withDescription("the address other workers reach this one at (default: worker_host of the config)")),
  port: Options.integer("port").pipe(Options.optional, Options.withDescription("the port for worker-to-worker traffic (default: worker_port, 34431)"))
}, (opts) =>
  Effect.gen(function*() {
    const config = yield* loadConfig(opts.config, opts.set).pipe(Effect.provide(FileStoreLive))
    // the cluster stack loads only for this command
    const { workerProgram } = yield* Effect.promise(() => import("./Worker.js"))
    return yield* workerProgram(config, { host: Option.getOrUndefined(opts.host), port: Option.getOrUndefined(opts.port) })
  }).pipe(report(opts, () => "worker stopped"))).pipe(Command.withDescription("run a cluster worker: fullprocess as a durable workflow, once per tick of `schedule` across all workers"))

const monitorCommand = Command.make("monitor", common, (opts) =>
  execute(opts, monitorProgram(null), (r) => [
    `monitor: ${r.windows} window(s) of ${r.window} over ${r.loggedRows} logged prediction row(s) in ${(r.ms / 1000).toFixed(2)} s`,
    ...r.labelFiles.map((f) => `  labels: took in ${f.name} (${f.rows} rows)`),
    ...r.rejectedLabelFiles.map((f) => `  labels: rejected ${f.name}: ${f.error}`),
    ...Object.entries(r.calibration).map(([id, c]) => `  release ${id}: CBPE on ${c.startsWith("none") ? c : `${c}-calibrated probabilities`}`),
    ...(r.alerts.length > 0 ? [`  alerts: ${r.alerts.join(", ")}`] : [])
  ].join("\n"))).pipe(Command.withDescription("take in label files, compute the monitoring windows of served traffic (realised, estimated by CBPE, drift) and alert"))

const generateCommand = Command.make("generate-data", {
  config: configOption,
  out: Args.directory({ name: "folder", exists: "either" }).pipe(Args.withDefault("data")),
  rows: Options.integer("rows").pipe(Options.optional, Options.withDescription("bulk mode: this many rows in total")),
  files: Options.integer("files").pipe(Options.withDefault(4), Options.withDescription("bulk mode: split over this many files")),
  seed: Options.integer("seed").pipe(Options.withDefault(42)),
  categorical: Options.integer("categorical").pipe(Options.withDefault(0), Options.withDescription(
    "add this many categorical features (2 to 50 categories each, carrying signal; up to 8); the schema to declare is written to <folder>/dataset.json")),
  labels: Options.text("labels").pipe(Options.optional, Options.withDescription(
    "POSITIVE,NEGATIVE: the class labels to write (default: the config's; with --categorical, yes,no)"))
}, (opts) =>
  Effect.gen(function*() {
    // the columns follow the config's declared dataset (the default columns without a config file)
    const store = yield* FileStore
    const declared = (yield* store.exists(opts.config).pipe(Effect.orElseSucceed(() => false)))
      ? (yield* loadConfig(opts.config)).dataset
      : DEFAULT_DATASET
    const given = Option.map(opts.labels, (l) => l.split(",").map((x) => x.trim()))
    if (Option.isSome(given) && (given.value.length !== 2 || given.value.some((x) => x.length === 0) || given.value[0] === given.value[1])) {
      return yield* new ConfigError({ source: "--labels", message: `--labels takes two different labels, POSITIVE,NEGATIVE (got "${Option.getOrElse(opts.labels, () => "")}")` })
    }
    const labels = Option.isSome(given)
      ? given.value as unknown as readonly [string, string]
      : opts.categorical > 0 && declared.positive_label === "1" && declared.negative_label === "0" ? ["yes", "no"] as const : undefined
    const dataset = opts.categorical > 0 || labels !== undefined ? withGeneratedCategories(declared, opts.categorical, labels) : declared
    const written = Option.isSome(opts.rows)
      ? yield* writeBulkData(opts.out, opts.rows.value, opts.files, opts.seed, dataset)
      : yield* writeSampleData(opts.out, SAMPLE_LAYOUT, dataset)
    if (dataset !== declared) {
      const path = NodePath.join(opts.out, "dataset.json")
      yield* store.writeAtomic(path, JSON.stringify({ dataset: Schema.encodeSync(DatasetSchema)(dataset) }, null, 2) + "\n").pipe(Effect.orDie)
      written.push(path)
    }
    yield* Console.log(written.join("\n"))
  }).pipe(
    Effect.catchTag("ConfigError", (e) => Effect.zipRight(Console.error(`ConfigError: ${e.message}`), Effect.sync(() => { process.exitCode = 2 }))),
    Effect.provide(FileStoreLive)
  )).pipe(Command.withDescription("write the deterministic sample data set (or bulk data for benchmarks), with the config's declared columns"))

const root = Command.make("drs").pipe(
  Command.withDescription("Dynamic Risk Assessment: a self-maintaining attrition-risk model"),
  Command.withSubcommands([fullprocessCommand, runCommand, statusCommand, releasesCommand, rollbackCommand, serveCommand, apiCallsCommand, workerCommand, monitorCommand, generateCommand])
)

const cli = Command.run(root, { name: "drs", version: "1.0.0" })

cli(process.argv).pipe(
  // @effect/cli has already printed what was wrong with the command line
  Effect.catchIf(ValidationError.isValidationError, () => Effect.sync(() => { process.exitCode = 2 })),
  Effect.provide(Layer.mergeAll(NodeContext.layer, logLayer)),
  Logger.withMinimumLogLevel(LogLevel.Info),
  NodeRuntime.runMain({ disablePrettyLogger: true })
)
