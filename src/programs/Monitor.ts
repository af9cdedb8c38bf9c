/**
 * monitor: label files in, the windows of served traffic computed and saved, alerts raised.
 * A command of its own, a step of fullprocess (before the drift check, which reads its
 * windows under drift_trigger "estimated" or "realised"), and so an activity of the workflow
 * on cluster workers.
 */
import { Effect, Option } from "effect"
import type { MonitoringWindow, MonitorResult } from "../domain/Monitoring.js"
import { Alerts } from "../services/Alerts.js"
import { AppConfig } from "../services/AppConfig.js"
import { Deployer } from "../services/Deployer.js"
import { Monitor } from "../services/Monitor.js"
import { timed } from "./Steps.js"

export interface MonitorVerdict {
  /** the live release's latest window (the newest with served rows) */
  readonly window: MonitoringWindow | null
  readonly threshold: number | null
  readonly estimatedDrop: boolean
  readonly realisedDrop: boolean
  readonly servingDrift: ReadonlyArray<string>
  readonly reason: string
}

const f4 = (x: number) => x.toFixed(4)

/**
 * The live release's newest window against its test F1 minus `estimated_drop_tolerance`:
 * the estimated F1 (CBPE) below it is an estimated drop, the realised F1 (labelled rows)
 * below it a realised drop; flagged features (or prediction) are serving drift. Pure.
 */
export const judgeWindows = (windows: ReadonlyArray<MonitoringWindow>, releaseId: string | null, liveF1: number | null, tolerance: number): MonitorVerdict => {
  const mine = windows.filter((w) => w.releaseId === releaseId && w.rows > 0)
  const window = mine.length > 0 ? mine.reduce((a, b) => (b.start > a.start ? b : a)) : null
  if (window === null || liveF1 === null) {
    return { window, threshold: null, estimatedDrop: false, realisedDrop: false, servingDrift: [], reason: releaseId === null ? "nothing is live" : `no served rows of release ${releaseId} logged yet` }
  }
  const threshold = liveF1 - tolerance
  const estimatedDrop = window.estimated.f1 < threshold
  const realisedDrop = window.realised !== null && window.realised.f1 < threshold
  const servingDrift = window.drift.filter((d) => d.flagged).map((d) => d.feature)
  const parts = [
    `estimated F1 ${f4(window.estimated.f1)} ${estimatedDrop ? "<" : ">="} ${f4(threshold)}`,
    window.realised === null ? "no labels yet" : `realised F1 ${f4(window.realised.f1)} on ${window.labelled} labelled row(s) ${realisedDrop ? "<" : ">="} ${f4(threshold)}`,
    servingDrift.length > 0 ? `serving drift in ${servingDrift.join(", ")}` : "no serving drift"
  ]
  return {
    window, threshold, estimatedDrop, realisedDrop, servingDrift,
    reason: `window ${window.start} of release ${releaseId} (${window.rows} served rows; threshold: live test F1 ${f4(liveF1)} − ${tolerance}): ${parts.join("; ")}`
  }
}

/** The verdict on the windows saved by the last monitor run. */
export const monitorVerdict = Effect.gen(function*() {
  const config = yield* AppConfig
  const live = yield* Effect.flatMap(Deployer, (d) => d.current()).pipe(Effect.option)
  const { windows } = yield* Effect.flatMap(Monitor, (m) => m.latest())
  return judgeWindows(windows, Option.getOrNull(Option.map(live, (l) => l.releaseId)), Option.getOrNull(Option.flatMap(live, (l) => Option.fromNullable(l.f1))), config.estimated_drop_tolerance)
})

/** Ingest new label files, compute and save the windows, and alert on a new drop or drift. */
export const monitorProgram = (runId: number | null) =>
  Effect.gen(function*() {
    const t0 = performance.now()
    const config = yield* AppConfig
    const monitor = yield* Monitor
    const alerts = yield* Alerts
    const deployer = yield* Deployer
    const before = yield* monitorVerdict
    const labels = yield* monitor.ingestLabels()
    for (const r of labels.rejected) yield* alerts.notify({ event: "file-rejected", runId, details: { file: r.name, error: r.error, kind: "labels" } })
    const computed = yield* monitor.compute()
    yield* monitor.save(computed.windows)
    const live = yield* deployer.current().pipe(Effect.option)
    const verdict = judgeWindows(computed.windows, Option.getOrNull(Option.map(live, (l) => l.releaseId)), Option.getOrNull(Option.flatMap(live, (l) => Option.fromNullable(l.f1))), config.estimated_drop_tolerance)
    // an alert once per window and kind: not again for a window the last run had already flagged
    const same = before.window !== null && verdict.window !== null && before.window.start === verdict.window.start && before.window.releaseId === verdict.window.releaseId
    const raised: Array<string> = []
    const details = { releaseId: verdict.window?.releaseId, window: verdict.window?.start, estimatedF1: verdict.window?.estimated.f1, realisedF1: verdict.window?.realised?.f1 ?? null, threshold: verdict.threshold, reason: verdict.reason }
    if (verdict.estimatedDrop && !(same && before.estimatedDrop)) raised.push("estimated-drop")
    if (verdict.realisedDrop && !(same && before.realisedDrop)) raised.push("realised-drop")
    if (verdict.servingDrift.length > 0 && !(same && before.servingDrift.length > 0)) raised.push("serving-drift")
    for (const event of raised) {
      yield* alerts.notify({ event: event as "estimated-drop" | "realised-drop" | "serving-drift", runId, details: { ...details, features: verdict.servingDrift } })
    }
    yield* Effect.logInfo(`monitor: ${computed.windows.length} window(s) over ${computed.loggedRows} logged row(s); ${verdict.reason}`)
    for (const [release, c] of Object.entries(computed.calibration)) {
      if (c.startsWith("none")) yield* Effect.logWarning(`release ${release} has no stored calibration (an older model): CBPE uses its raw probabilities`)
    }
    return {
      computedAt: new Date().toISOString(),
      window: config.monitor_window,
      loggedRows: computed.loggedRows,
      labelFiles: labels.ingested,
      rejectedLabelFiles: labels.rejected,
      windows: computed.windows.length,
      calibration: computed.calibration,
      alerts: raised,
      ms: performance.now() - t0
    } satisfies MonitorResult
  })

/** monitor as a timed step of a run. */
export const monitorStep = (runId: number | null) => monitorProgram(runId).pipe(timed(runId, "monitor"))
