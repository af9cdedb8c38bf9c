/**
 * What each step of fullprocess returns. A run on cluster workers stores these as the results
 * of its durable activities, so a run resumed on another worker replays them instead of
 * redoing the work: each is a schema that survives JSON.
 */
import { Schema } from "effect"
import { DataDriftReport, DriftDecision } from "./Schemas.js"

export const RunOutcome = Schema.Literal("no-new-data", "no-valid-data", "no-decision", "no-drift", "gate-refused", "redeployed")
export type RunOutcome = typeof RunOutcome.Type

/** One immutable Parquet file of a snapshot: its path, sha256 and rows. */
export const SnapshotPart = Schema.Struct({ path: Schema.String, hash: Schema.String, rows: Schema.Number })
export type SnapshotPart = typeof SnapshotPart.Type

/**
 * A snapshot of everything ingested: a list of immutable Parquet files (each run adds the
 * file of its new rows), and the batch of new rows that made it.
 */
export const SnapshotInfo = Schema.Struct({
  id: Schema.Number,
  /** the data set's identity: the one part's hash, or the sha256 of the parts' hashes (see Snapshots.snapshotHash) */
  hash: Schema.String,
  parts: Schema.Array(SnapshotPart),
  rows: Schema.Number,
  /** the rows this snapshot added (new after de-duplication), as their own Parquet file */
  batchPath: Schema.NullOr(Schema.String),
  batchRows: Schema.Number,
  /** rows read from the new files, before de-duplication */
  rowsRead: Schema.Number,
  datasetSchema: Schema.String,
  createdAt: Schema.String,
  runId: Schema.NullOr(Schema.Number)
})

export const IngestionResult = Schema.Struct({
  newFiles: Schema.Array(Schema.Struct({ name: Schema.String, sha256: Schema.String, rows: Schema.Number })),
  skipped: Schema.Array(Schema.Struct({ name: Schema.String, reason: Schema.String })),
  rejected: Schema.Array(Schema.Struct({ name: Schema.String, error: Schema.String, movedTo: Schema.NullOr(Schema.String) })),
  /** rows read from the new files */
  rowsRead: Schema.Number,
  /** rows of this run that were new: not a duplicate within the run nor of anything ingested before */
  newRows: Schema.Number,
  /** rows in the data set after merging and de-duplication */
  totalRows: Schema.Number,
  duplicatesDropped: Schema.Number,
  finalDataPath: Schema.String,
  /** the current snapshot's hash (the data set's identity), null before the first ingestion */
  dataHash: Schema.NullOr(Schema.String),
  snapshot: Schema.NullOr(SnapshotInfo),
  /** set when the snapshot was rebuilt from the input files */
  rebuilt: Schema.optional(Schema.String),
  /** the columns of new files that the schema does not declare, dropped (extra_columns: "ignore") */
  ignoredColumns: Schema.optional(Schema.Array(Schema.Struct({ file: Schema.String, columns: Schema.Array(Schema.String) })))
})
export type IngestionResult = typeof IngestionResult.Type

export const DriftStep = Schema.Struct({
  drift: DriftDecision,
  dataDrift: Schema.NullOr(DataDriftReport),
  /** why there was no performance decision (too few new rows) */
  noDecision: Schema.optional(Schema.String),
  /** whether any test the trigger listens to could decide */
  decided: Schema.Boolean
})
export type DriftStep = typeof DriftStep.Type

export const TrainStep = Schema.Struct({ modelHash: Schema.String, rows: Schema.Number })
export const ScoreStep = Schema.Struct({ f1: Schema.Number })

/** The deploy gate's verdict: the candidate against the live model, on the same test data. */
export const GateVerdict = Schema.Struct({
  mode: Schema.Literal("not-worse", "always", "first"),
  passed: Schema.Boolean,
  candidateF1: Schema.Number,
  liveF1: Schema.NullOr(Schema.Number),
  reason: Schema.String
})
export type GateVerdict = typeof GateVerdict.Type

export const DeployStep = Schema.Struct({ releaseId: Schema.String, f1: Schema.Number })
export const ReportStep = Schema.Struct({ pdf: Schema.String })

/** How a scheduled tick begins: a run, or why there is none (nothing new; another tick's run still going). */
export const ScheduledBegin = Schema.Union(
  Schema.Struct({ runId: Schema.Number }),
  Schema.Struct({ outcome: Schema.Literal("no-new-data", "skipped"), reason: Schema.String })
)

/** Why a run failed, as the CLI would print it: one line and an exit code. */
export class RunFailed extends Schema.TaggedError<RunFailed>()("RunFailed", {
  runId: Schema.NullOr(Schema.Number),
  tag: Schema.String,
  message: Schema.String,
  exitCode: Schema.Number
}) {}

export const StepName = Schema.Literal("begin", "ingest", "monitor", "drift-check", "train", "score", "gate", "deploy", "report", "finish", "fail")
export type StepName = typeof StepName.Type
