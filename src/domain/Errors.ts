/** Every domain error of the system. Infrastructure failures are defects. */
import { Schema } from "effect"

export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  source: Schema.String,
  message: Schema.String
}) {}

/** A CSV that cannot be ingested, located to file, row and column where that applies. */
export class CsvError extends Schema.TaggedError<CsvError>()("CsvError", {
  file: Schema.String,
  row: Schema.optional(Schema.Number),
  column: Schema.optional(Schema.String),
  reason: Schema.String
}) {
  override get message(): string {
    const where = [
      this.file,
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
