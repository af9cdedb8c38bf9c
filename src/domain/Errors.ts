/** Every domain error of the system. Infrastructure failures are defects. */
import { Schema } from "effect"

export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  source: Schema.String,
  message: Schema.String
}) {}

/** A CSV that cannot be ingested, located to file, row and column where that applies. */
export class CsvError extends Schema.TaggedError<CsvError>()("CsvError", {
  file: Schema.String,
  /** the line of the file (1 is the header) */
  line: Schema.optional(Schema.Number),
  /** the data row (1 is the first row after the header), where the line is not known */
  row: Schema.optional(Schema.Number),
  column: Schema.optional(Schema.String),
  reason: Schema.String
}) {
  override get message(): string {
    const where = [
      this.file,
      this.line !== undefined ? `line ${this.line}` : undefined,
      this.row !== undefined ? `row ${this.row}` : undefined,
      this.column !== undefined ? `column "${this.column}"` : undefined
    ].filter((s) => s !== undefined)
    return `${where.join(", ")}: ${this.reason}`
  }
}

export class NoDataError extends Schema.TaggedError<NoDataError>()("NoDataError", {
  message: Schema.String
}) {}

export class ModelNotFound extends Schema.TaggedError<ModelNotFound>()("ModelNotFound", {
  path: Schema.String,
  message: Schema.String
}) {}

export class NotDeployed extends Schema.TaggedError<NotDeployed>()("NotDeployed", {
  message: Schema.String,
  /** set when a release is named live but cannot be loaded; absent when nothing was ever deployed */
  brokenRelease: Schema.optional(Schema.String)
}) {}

export class LockHeld extends Schema.TaggedError<LockHeld>()("LockHeld", {
  path: Schema.String,
  holder: Schema.String
}) {
  override get message(): string {
    return `another run holds the lock ${this.path} (${this.holder})`
  }
}

export class ReportError extends Schema.TaggedError<ReportError>()("ReportError", {
  message: Schema.String
}) {}

export class FileStoreError extends Schema.TaggedError<FileStoreError>()("FileStoreError", {
  path: Schema.String,
  operation: Schema.String,
  message: Schema.String
}) {}

export class DeployError extends Schema.TaggedError<DeployError>()("DeployError", {
  message: Schema.String
}) {}

/** The data plane could not do its work (a DuckDB failure other than a bad input file). */
export class DataError extends Schema.TaggedError<DataError>()("DataError", {
  message: Schema.String
}) {}

/** The tracking database and the data snapshots disagree, or the dataset schema changed under existing data. */
export class SnapshotError extends Schema.TaggedError<SnapshotError>()("SnapshotError", {
  message: Schema.String
}) {}

export class ReleaseNotFound extends Schema.TaggedError<ReleaseNotFound>()("ReleaseNotFound", {
  releaseId: Schema.String,
  message: Schema.String
}) {}

/** A cluster worker cannot see the folders or snapshots every worker must share. */
export class SharedStorageError extends Schema.TaggedError<SharedStorageError>()("SharedStorageError", {
  message: Schema.String
}) {}
