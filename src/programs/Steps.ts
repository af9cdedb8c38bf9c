/** The pipeline steps, each a program over service tags. */
import { Effect, Fiber, Option } from "effect"
import * as NodePath from "node:path"
import { labelsOf } from "../domain/Dataset.js"
import type { ModelArtifact } from "../domain/Schemas.js"
import { isBoosting, learnerOf } from "../lib/learners/Learners.js"
import { AppConfig } from "../services/AppConfig.js"
import { Deployer } from "../services/Deployer.js"
import { Diagnostics } from "../services/Diagnostics.js"
import { FileStore } from "../services/FileStore.js"
import { Ingestion } from "../services/Ingestion.js"
import { Model, modelHash } from "../services/Model.js"
import { Monitor } from "../services/Monitor.js"
import { Reporter } from "../services/Reporter.js"
import { Scorer } from "../services/Scorer.js"
import { Tracking } from "../services/Tracking.js"
import { Snapshots } from "../data/Snapshots.js"
import { StepTiming } from "../domain/Schemas.js"

export const STEPS = ["ingestion", "training", "scoring", "deployment", "diagnostics", "reporting"] as const
export type Step = (typeof STEPS)[number]

export const reportPaths = (modelFolder: string) => ({
  png: NodePath.join(modelFolder, "confusionmatrix.png"),
  pdf: NodePath.join(modelFolder, "report.pdf"),
  diagnostics: NodePath.join(modelFolder, "diagnostics.json")
})

/** Time an effect and record the duration under `step`. */
export const timed = (runId: number | null, step: string) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const tracking = yield* Tracking
    const t0 = performance.now()
    const a = yield* self
    const ms = performance.now() - t0
    yield* tracking.recordTiming(runId, step, ms)
    return a
  }).pipe(Effect.withLogSpan(step), Effect.annotateLogs({ step }))

export const ingestionStep = (runId: number | null) =>
  Effect.flatMap(Ingestion, (i) => i.ingest(runId)).pipe(timed(runId, "ingestion"))

/** The ingestion up to its commit point, without the user files (see Ingestion.writeUserFiles). */
export const snapshotStep = (runId: number | null) =>
  Effect.flatMap(Ingestion, (i) => i.commit(runId)).pipe(timed(runId, "ingestion"))

/** What the model versions table records of a model: a linear one's solver and terms; trees: the learner and the baseline log-odds. */
const modelTerms = (m: ModelArtifact) =>
  isBoosting(m)
    ? { solver: "gradient-boosting", coefficients: [] as ReadonlyArray<number>, intercept: m.booster.baseline }
    : { solver: m.solver, coefficients: m.coefficients, intercept: m.intercept }

export const trainingStep = (runId: number | null) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const snapshots = yield* Snapshots
    const model = yield* Model
    const tracking = yield* Tracking
    // the current snapshot, checked against its hash: never train on nothing or on the wrong data
    const snapshot = yield* snapshots.current()
    const frame = yield* snapshots.ownedFrameOf(snapshot)
    const artifact = yield* model.train(frame, snapshot.hash)
    const path = yield* model.save(artifact)
    const hash = modelHash(artifact)
    yield* tracking.recordModel({
      modelHash: hash, path, dataHash: snapshot.hash, ...modelTerms(artifact), config
    })
    yield* Effect.logInfo(`trained on ${frame.rows} rows of snapshot ${snapshot.hash.slice(0, 12)}; saved ${path}`)
    const { coefficients, intercept } = modelTerms(artifact)
    return { path, modelHash: hash, rows: frame.rows, dataHash: snapshot.hash, learner: learnerOf(artifact), coefficients, intercept }
  }).pipe(timed(runId, "training"))

export const scoringStep = (runId: number | null) =>
  Effect.gen(function*() {
    const model = yield* Model
    const scorer = yield* Scorer
    const m = yield* model.load()
    const result = yield* scorer.scoreTestData(m)
    return { f1: result.f1, rows: result.rows, confusionMatrix: result.confusionMatrix, modelHash: result.modelHash }
  }).pipe(timed(runId, "scoring"))

export const deploymentStep = (runId: number | null) =>
  Effect.flatMap(Deployer, (d) => d.deploy(runId)).pipe(timed(runId, "deployment"))

/** The model that reports describe: the deployed one, else the latest trained one. */
const reportedModel = Effect.gen(function*() {
  const deployer = yield* Deployer
  const model = yield* Model
  const live = yield* deployer.current().pipe(Effect.option)
  if (Option.isSome(live)) return { model: live.value.model, releaseId: live.value.releaseId as string | null, ingested: live.value.ingestedFiles }
  const m = yield* model.load()
  const tracking = yield* Tracking
  const files = yield* tracking.ingestedFiles()
  return { model: m, releaseId: null, ingested: files.map((f) => f.fileName) }
})

export const diagnosticsStep = (runId: number | null) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const diagnostics = yield* Diagnostics
    const store = yield* FileStore
    const scorer = yield* Scorer
    const model = yield* Model
    const tracking = yield* Tracking
    // npm outdated waits on the network in its own process (at most its timeout, once a day):
    // it runs while the rest is computed
    const dependencies = yield* Effect.fork(diagnostics.dependencies())
    const { model: m } = yield* reportedModel
    const test = yield* scorer.testData()
    const [summary, missing] = yield* Effect.all([diagnostics.summaryStats(), diagnostics.missingData()], { concurrency: "unbounded" })
    // a run that has just ingested and trained has timed both: they are not done again to time them
    const measured = runId === null ? [] : (yield* tracking.timingsOfRun(runId)).filter((t) => t.step === "ingestion" || t.step === "training")
    const result = {
      predictions: Array.from(model.predict(m, test).predictions),
      summary,
      missing,
      timings: measured.length === 2 ? measured.map((t) => StepTiming.make({ step: t.step, ms: t.ms })) : yield* diagnostics.timings(),
      dependencies: yield* Fiber.join(dependencies)
    }
    yield* store.writeAtomic(reportPaths(config.output_model_path).diagnostics, JSON.stringify(result, null, 2) + "\n").pipe(Effect.orDie)
    return result
  }).pipe(timed(runId, "diagnostics"))

export const reportingStep = (runId: number | null) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const diagnostics = yield* Diagnostics
    const scorer = yield* Scorer
    const reporter = yield* Reporter
    const tracking = yield* Tracking
    const { ingested, model, releaseId } = yield* reportedModel
    const test = yield* scorer.testData()
    const score = yield* scorer.score(model, test, config.test_data_path, "report", "test", true)
    const history = yield* tracking.scores()
    const drift = yield* tracking.driftDecisions()
    const timings = yield* tracking.latestTimings()
    const ingestedAt = new Map((yield* tracking.ingestedFiles()).map((f) => [f.fileName, f.ingestedAt]))
    const paths = reportPaths(config.output_model_path)
    const written = yield* reporter.write({
      generatedAt: new Date().toISOString(),
      releaseId,
      model,
      modelHash: score.modelHash,
      testScore: score.f1,
      testRows: score.rows,
      confusionMatrix: score.confusionMatrix,
      labels: labelsOf(config.dataset),
      scoreHistory: history.map((s) => ({ at: s.scoredAt, f1: s.f1, purpose: s.purpose })),
      drift: drift.map((d) => ({ at: d.decidedAt, test: d.test, drifted: d.drifted, reason: d.reason })),
      summary: yield* diagnostics.summaryStats(),
      missing: yield* diagnostics.missingData(),
      timings: timings.map((t) => ({ step: t.step, ms: t.ms })),
      dependencies: yield* diagnostics.dependencies(),
      classificationReport: score.classificationReport,
      importance: score.importance,
      dataDrift: (yield* tracking.dataDrift(1))[0] ?? null,
      rocAuc: score.rocAuc,
      logLoss: score.logLoss,
      ingestedFiles: ingested.map((name) => ({ name, ingestedAt: ingestedAt.get(name) ?? null })),
      production: {
        windows: (yield* Effect.flatMap(Monitor, (m) => m.latest())).windows,
        threshold: score.f1 - config.estimated_drop_tolerance,
        window: config.monitor_window
      }
    }, paths.png, paths.pdf)
    yield* Effect.logInfo(`wrote ${written.pngPath} and ${written.pdfPath}`)
    return { png: written.pngPath, pdf: written.pdfPath, f1: score.f1, releaseId }
  }).pipe(timed(runId, "reporting"))

export const runStep = (step: Step, runId: number | null) => {
  switch (step) {
    case "ingestion": return ingestionStep(runId)
    case "training": return trainingStep(runId)
    case "scoring": return scoringStep(runId)
    case "deployment": return deploymentStep(runId)
    case "diagnostics": return diagnosticsStep(runId)
    case "reporting": return reportingStep(runId)
  }
}

