/**
 * Per-feature data drift of a run: the new rows of its snapshot against the data the live
 * model was trained on (the snapshot named by the model's data hash). Stored per run.
 */
import { Effect } from "effect"
import { Snapshots } from "../data/Snapshots.js"
import { DataDriftReport, FeatureDriftResult, type ModelArtifact } from "../domain/Schemas.js"
import { categoricalDrift } from "../lib/CategoricalDrift.js"
import { featureDrift } from "../lib/DataDrift.js"
import type { Frame } from "../lib/Frame.js"
import { AppConfig } from "../services/AppConfig.js"
import { FileStore } from "../services/FileStore.js"
import { type SnapshotRow, Tracking } from "../services/Tracking.js"

/**
 * The report, or null (with the reason logged) where there is no reference or no new rows to
 * compare. `batch`: the snapshot's new rows when the caller has read them already.
 */
export const dataDriftCheck = (runId: number | null, live: ModelArtifact, snapshot: SnapshotRow, batch?: Frame) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const tracking = yield* Tracking
    const snapshots = yield* Snapshots
    const store = yield* FileStore
    const reference = yield* tracking.snapshotByHash(live.dataHash)
    if (reference === null || !(yield* Effect.forEach(reference.parts, (p) => store.exists(p.path).pipe(Effect.orDie))).every((e) => e)) {
      yield* Effect.logWarning(`no data-drift check: the live model's training data (snapshot ${live.dataHash.slice(0, 12)}) is not available`)
      return null
    }
    if (snapshot.batchPath === null || snapshot.batchRows === 0) {
      yield* Effect.logInfo("no data-drift check: this run added no new rows")
      return null
    }
    const ref = yield* snapshots.frameOf(reference)
    const cur = batch ?? (yield* snapshots.frame(snapshot.batchPath, snapshot.batchRows))
    const options = { psiThreshold: config.psi_threshold, ksAlpha: config.ks_alpha }
    const features = config.dataset.feature_columns.map((name, j) => {
      const refLevels = ref.levels[j]
      const curLevels = cur.levels[j]
      if (refLevels === null || refLevels === undefined || curLevels === null || curLevels === undefined) {
        return FeatureDriftResult.make(featureDrift(name, ref.features[j]!, cur.features[j]!, options))
      }
      const d = categoricalDrift(name, { codes: ref.features[j]!, levels: refLevels }, { codes: cur.features[j]!, levels: curLevels }, options)
      return FeatureDriftResult.make({
        ...d, ksStatistic: null, ksPValue: null, ksMethod: null, meanReference: null, meanCurrent: null
      })
    })
    const report = DataDriftReport.make({
      runId, at: new Date().toISOString(), referenceHash: reference.hash, currentHash: snapshot.hash,
      psiThreshold: config.psi_threshold, ksAlpha: config.ks_alpha,
      drifted: features.some((f) => f.flagged), features
    })
    yield* tracking.recordDataDrift(report)
    const flagged = features.filter((f) => f.flagged)
    yield* Effect.logInfo(flagged.length === 0
      ? `data drift: none of ${features.length} features (${snapshot.batchRows} new rows)`
      : `data drift: ${flagged.map((f) => `${f.feature} (${f.reasons.join(", ")})`).join("; ")}`)
    return report
  }).pipe(Effect.withSpan("dataDriftCheck"))
