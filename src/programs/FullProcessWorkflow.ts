/**
 * fullprocess as a durable workflow on cluster workers (@effect/workflow on @effect/cluster):
 * the same pipeline as the CLI's, each step an activity whose result is stored in the shared
 * database. A run whose worker dies is resumed by another worker: completed activities are
 * replayed from storage, not redone. ClusterCron starts one run per tick of `schedule`,
 * across all workers; the tick is the workflow's idempotency key, so a tick never runs twice.
 */
import * as ClusterCron from "@effect/cluster/ClusterCron"
import * as Entity from "@effect/cluster/Entity"
import * as Activity from "@effect/workflow/Activity"
import * as Workflow from "@effect/workflow/Workflow"
import type { WorkflowEngine, WorkflowInstance } from "@effect/workflow/WorkflowEngine"
import { Cause, Cron, DateTime, Effect, Either, Option, Schedule, Schema } from "effect"
import { LockHeld } from "../domain/Errors.js"
import { RunFailed, RunOutcome, ScheduledBegin } from "../domain/Run.js"
import { AppConfig } from "../services/AppConfig.js"
import type { FileStore } from "../services/FileStore.js"
import { Tracking } from "../services/Tracking.js"
import { describeFailure } from "./Failure.js"
import { beginStep, failStep, finishStep, type FullProcessSummary, pipeline, type StepRunner } from "./FullProcess.js"
import { withLock } from "./Lock.js"

export const FullProcessWorkflow = Workflow.make({
  name: "drs/fullprocess",
  payload: { tick: Schema.String },
  success: Schema.Struct({ outcome: Schema.Union(RunOutcome, Schema.Literal("skipped")), runId: Schema.NullOr(Schema.Number) }),
  error: RunFailed,
  idempotencyKey: ({ tick }) => tick
})

/** A failure as a RunFailed, which the workflow can store; an interruption (a worker stopping) stays one, so the activity is retried. */
const asRunFailed = (runId: number | null) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, RunFailed, R> =>
  Effect.catchAllCause(self, (cause) => {
    if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
    const failure = Cause.failureOption(cause)
    if (Option.isSome(failure) && failure.value instanceof RunFailed) return Effect.fail(failure.value)
    const f = describeFailure(cause)
    return Effect.fail(new RunFailed({ runId, tag: f.tag, message: f.message, exitCode: f.exitCode }))
  })

/**
 * A pause before each activity, for fault-injection tests only (a worker killed mid-run);
 * DRS_ACTIVITY_PAUSE_MS is unset in production.
 */
const pauseMs = Number(process.env.DRS_ACTIVITY_PAUSE_MS ?? 0)

/**
 * Each step as an activity: recorded per attempt (which worker, how it ended), under the run
 * lock (waiting while another process holds it), its failure stored as a RunFailed.
 */
export const asActivity = (executionId: string, worker: string, runId: number | null): StepRunner<RunFailed, WorkflowEngine | WorkflowInstance | Tracking | AppConfig | FileStore> =>
  (name, schema, step) =>
    Activity.make({
      name,
      success: schema,
      error: RunFailed,
      execute: Effect.gen(function*() {
        const tracking = yield* Tracking
        const config = yield* AppConfig
        const attempt = yield* tracking.activityStarted(executionId, name, worker)
        if (pauseMs > 0) yield* Effect.sleep(pauseMs)
        const locked = withLock(step).pipe(
          Effect.retry({
            while: (e) => e instanceof LockHeld,
            schedule: Schedule.spaced("2 seconds"),
            times: Math.ceil(config.lock_stale_seconds / 2) + 5
          })
        )
        return yield* locked.pipe(
          Effect.onExit((exit) =>
            tracking.activityFinished(attempt, exit._tag === "Success" ? "done" : Cause.isInterruptedOnly(exit.cause) ? "interrupted" : "failed")
          ),
          Effect.withLogSpan(name),
          Effect.annotateLogs({ activity: name, executionId })
        )
      }).pipe(asRunFailed(runId))
    })

/** The workflow's body: begin (records the tick), the pipeline, then finish or fail. */
export const FullProcessWorkflowLive = (worker: string) =>
  FullProcessWorkflow.toLayer(({ tick }, executionId) =>
    Effect.gen(function*() {
      const begin = Effect.gen(function*() {
        const tracking = yield* Tracking
        const config = yield* AppConfig
        yield* tracking.recordTick({ tick, executionId, worker })
        // one run at a time: a tick while another tick's run is still going (resumed after a
        // worker died, say) is skipped; a run older than lock_stale_seconds no longer counts
        const since = new Date(Date.now() - config.lock_stale_seconds * 1000).toISOString()
        const busy = yield* tracking.unfinishedTicks(executionId, since)
        if (busy.length > 0) {
          const found = busy[0]!
          const reason = `the run${found.runId !== null ? ` ${found.runId}` : ""} of tick ${found.tick} (worker ${found.worker}) is still going`
          yield* Effect.logInfo(`skipped: ${reason}`)
          yield* tracking.finishTick(executionId, "skipped", null, worker, { tick: found.tick, runId: found.runId })
          return { outcome: "skipped" as const, reason }
        }
        const begun = yield* beginStep("worker")
        if (begun !== null) {
          yield* tracking.tickRun(executionId, begun.runId)
          return begun
        }
        yield* tracking.finishTick(executionId, "no-new-data", null, worker)
        return { outcome: "no-new-data" as const, reason: "no new data" }
      })
      const begun = yield* asActivity(executionId, worker, null)("begin", ScheduledBegin, begin)
      if ("outcome" in begun) return { outcome: begun.outcome, runId: null }
      const runId = begun.runId
      const step = asActivity(executionId, worker, runId)
      const summary: FullProcessSummary = yield* pipeline(step, runId).pipe(
        asRunFailed(runId),
        Effect.tapError((failed) =>
          step("fail", Schema.Void, failStep(runId, failed).pipe(
            Effect.zipRight(Effect.flatMap(Tracking, (t) => t.finishTick(executionId, "failed", runId, worker)))
          ))
        )
      )
      yield* step("finish", Schema.Void, finishStep(runId, summary).pipe(
        Effect.zipRight(Effect.flatMap(Tracking, (t) => t.finishTick(executionId, summary.outcome, runId, worker)))
      ))
      yield* Effect.logInfo(`tick ${tick}: ${summary.outcome} (run ${runId})`)
      return { outcome: summary.outcome, runId }
    }).pipe(
      Effect.tapError((e) => Effect.logError(`tick ${tick}: run ${e.runId ?? ""} failed: ${e.message}`)),
      Effect.annotateLogs({ workflow: "fullprocess", tick })
    )
  )

/** The tick a ClusterCron run is for: its entity id is the tick's time. */
const currentTick = Effect.gen(function*() {
  const address = yield* Effect.serviceOption(Entity.CurrentAddress)
  return Option.match(address, { onNone: () => DateTime.formatIso(DateTime.unsafeNow()), onSome: (a) => a.entityId })
})

/** One fullprocess per tick of `schedule`, across all workers. */
export const FullProcessCron = (schedule: string) =>
  ClusterCron.make({
    name: "drs/fullprocess",
    cron: Either.getOrThrow(Cron.parse(schedule)),
    // the run is started, not waited for: ClusterCron schedules the next tick only once this
    // returns, so a tick that comes while a run is going fires, and is recorded as skipped
    execute: Effect.gen(function*() {
      const tick = yield* currentTick
      yield* Effect.logInfo(`schedule tick ${tick}: fullprocess`)
      yield* FullProcessWorkflow.execute({ tick }, { discard: true })
    })
  })
