/** The HTTP API contract: endpoints, schemas and errors (no handlers). */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { DEFAULT_DATASET, type DatasetSchema, isCategorical } from "../domain/Dataset.js"
import { MonitoringResponse } from "../domain/Monitoring.js"
import { DataDriftReport } from "../domain/Schemas.js"
import { withFastPath } from "./FastPath.js"
import { ColumnSummary, DependencyReport, MissingData, ScoreResult, StepTiming } from "../domain/Schemas.js"

export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", { message: Schema.String }, HttpApiSchema.annotations({ status: 400 })) {}
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", { message: Schema.String }, HttpApiSchema.annotations({ status: 401 })) {}
export class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", { message: Schema.String }, HttpApiSchema.annotations({ status: 503 })) {}
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { message: Schema.String }, HttpApiSchema.annotations({ status: 404 })) {}
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", { message: Schema.String }, HttpApiSchema.annotations({ status: 413 })) {}
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", { message: Schema.String }, HttpApiSchema.annotations({ status: 409 })) {}

/** the longest activation reason kept (it is stored and shown on the dashboard) */
export const ACTIVATION_REASON_MAX = 500

const Feature = Schema.NullOr(Schema.Number.pipe(Schema.finite()))

/**
 * A categorical feature: text (a number is taken as its text), null when missing. Not an
 * enum: a category the model has not seen is allowed (and named in `warnings`); the known
 * ones are listed as examples.
 */
const CategoryFeature = (examples: ReadonlyArray<string>) =>
  Schema.NullOr(Schema.Union(Schema.String, Schema.Number.pipe(Schema.finite()))).annotations({
    description: "a category (text); null when missing",
    ...(examples.length > 0 ? { examples: [examples[0]!, ...examples.slice(1, 20)] as [string, ...Array<string>] } : {})
  })

/**
 * One row to predict, with the declared columns: every feature (null when missing); the id
 * and target may be given. `categories` gives the known categories of each categorical
 * feature (the live model's), as examples in the OpenAPI document.
 */
export const predictionRow = (dataset: DatasetSchema, categories: ReadonlyMap<string, ReadonlyArray<string>> = new Map()) =>
  Schema.Struct({
    ...(dataset.id_column ? { [dataset.id_column]: Schema.optional(Schema.Union(Schema.String, Schema.Number)) } : {}),
    ...Object.fromEntries(dataset.feature_columns.map((f) => [f, isCategorical(dataset, f) ? CategoryFeature(categories.get(f) ?? []) : Feature])),
    [dataset.target_column]: Schema.optional(Schema.Union(Schema.String, Schema.Number))
  } as Record<string, typeof Feature>).annotations({ identifier: "PredictionRow" })

export type PredictionRow = Readonly<Record<string, unknown>>

/** the most rows one request may hold, as the schema says (max_prediction_rows is the configured limit) */
const MAX_ROWS = 100_000

/** The prediction request as the schema declares it (see `predictionRequest`). */
export const predictionRequestSchema = (dataset: DatasetSchema, categories?: ReadonlyMap<string, ReadonlyArray<string>>) =>
  Schema.Struct({
    /** rows as JSON objects … */
    rows: Schema.optional(Schema.Array(predictionRow(dataset, categories)).pipe(Schema.maxItems(MAX_ROWS))),
    /** … or a CSV document with the declared header */
    csv: Schema.optional(Schema.String)
  }).annotations({ description: "Give either `rows` or `csv`", identifier: "PredictionRequest" })

type PredictionRequest = Schema.Schema.Type<ReturnType<typeof predictionRequestSchema>>

/**
 * Whether the schema would decode `u` to itself: an object of `rows` (at most MAX_ROWS rows,
 * each with every feature and no other key than the id and the target, every value of its
 * column's type) and/or `csv` (text), and no other key.
 */
export const decodesUnchanged = (dataset: DatasetSchema) => {
  // what each key of a row may hold; as in predictionRow, the target wins over a feature, a feature over the id
  const kinds = new Map<string, "number" | "category" | "label">()
  if (dataset.id_column) kinds.set(dataset.id_column, "label")
  for (const f of dataset.feature_columns) kinds.set(f, isCategorical(dataset, f) ? "category" : "number")
  kinds.set(dataset.target_column, "label")
  const required = [...kinds.values()].filter((k) => k !== "label").length
  const finite = (v: unknown) => typeof v === "number" && Number.isFinite(v)
  const row = (r: unknown) => {
    if (typeof r !== "object" || r === null || Array.isArray(r)) return false
    let features = 0
    for (const key of Object.keys(r)) {
      const kind = kinds.get(key)
      const v = (r as Record<string, unknown>)[key]
      if (kind === "number") {
        if (v !== null && !finite(v)) return false
        features++
      } else if (kind === "category") {
        if (v !== null && typeof v !== "string" && !finite(v)) return false
        features++
      } else if (kind === "label") {
        if (typeof v !== "string" && typeof v !== "number") return false
      } else return false
    }
    return features === required
  }
  return (u: unknown): u is PredictionRequest => {
    if (typeof u !== "object" || u === null || Array.isArray(u)) return false
    for (const key of Object.keys(u)) {
      const v = (u as Record<string, unknown>)[key]
      if (key === "csv") {
        if (typeof v !== "string") return false
      } else if (key === "rows") {
        if (!Array.isArray(v) || v.length > MAX_ROWS) return false
        for (let i = 0; i < v.length; i++) if (!row(v[i])) return false
      } else return false
    }
    return true
  }
}

/**
 * The prediction request: the schema above, with a fast path for the bodies it would return
 * unchanged (see FastPath.ts); the others, and every error, are the schema's.
 */
export const predictionRequest = (dataset: DatasetSchema, categories?: ReadonlyMap<string, ReadonlyArray<string>>) =>
  withFastPath(predictionRequestSchema(dataset, categories), decodesUnchanged(dataset))

export const PredictionResponse = Schema.Struct({
  /** 1: positive_label */
  predictions: Schema.Array(Schema.Literal(0, 1)),
  /** each prediction as the label text the data uses */
  labels: Schema.Array(Schema.String),
  /** the probability of positive_label */
  probabilities: Schema.Array(Schema.Number),
  releaseId: Schema.String,
  f1: Schema.optional(Schema.Number),
  /** what the answer should be read with: categories the live model has not seen */
  warnings: Schema.Array(Schema.String),
  /** with ?explain=true, one per row: each feature's contribution to the log-odds; base + Σ contributions = log(p / (1 − p)) */
  explanations: Schema.optional(Schema.Array(Schema.Struct({
    base: Schema.Number,
    contributions: Schema.Record({ key: Schema.String, value: Schema.Number })
  })))
})

export const DiagnosticsResponse = Schema.Struct({
  missing: Schema.Array(MissingData),
  timings: Schema.Array(StepTiming),
  dependencies: DependencyReport
})

export const Health = Schema.Struct({
  status: Schema.Literal("ok"),
  releaseId: Schema.NullOr(Schema.String),
  f1: Schema.NullOr(Schema.Number),
  /** the server process that answered (one of several with serve --workers), as an opaque id: no PID leaves the server */
  instance: Schema.String
})

/** /health when something it needs is down: which parts, and what is still served. */
export class HealthDown extends Schema.TaggedError<HealthDown>()("Degraded", {
  status: Schema.Literal("degraded"),
  down: Schema.Array(Schema.String),
  message: Schema.String,
  releaseId: Schema.NullOr(Schema.String)
}, HttpApiSchema.annotations({ status: 503 })) {}

export const FullProcessResponse = Schema.Struct({ outcome: Schema.String, summary: Schema.Unknown })

/** a raw CSV document, sent as text/csv */
const CsvBody = HttpApiSchema.Text({ contentType: "text/csv" })
const Html = HttpApiSchema.Text({ contentType: "text/html; charset=utf-8" })
const Prometheus = HttpApiSchema.Text({ contentType: "text/plain; version=0.0.4; charset=utf-8" })
const Pdf = HttpApiSchema.Uint8Array({ contentType: "application/pdf" })

export const modelGroup = (dataset: DatasetSchema, categories?: ReadonlyMap<string, ReadonlyArray<string>>) => HttpApiGroup.make("model")
  .add(HttpApiEndpoint.post("prediction", "/prediction").setPayload(Schema.Union(predictionRequest(dataset, categories), CsvBody))
    .setUrlParams(Schema.Struct({ explain: Schema.optional(Schema.Literal("true", "false")) })).addSuccess(PredictionResponse).addError(BadRequest).addError(Unavailable).addError(PayloadTooLarge))
  .add(HttpApiEndpoint.get("scoring", "/scoring").addSuccess(ScoreResult).addError(Unavailable).addError(BadRequest))
  .add(HttpApiEndpoint.get("summarystats", "/summarystats").addSuccess(Schema.Array(ColumnSummary)).addError(NotFound))
  .add(HttpApiEndpoint.get("diagnostics", "/diagnostics").addSuccess(DiagnosticsResponse).addError(NotFound))
  .add(HttpApiEndpoint.get("drift", "/drift").addSuccess(Schema.Array(DataDriftReport)))
  .add(HttpApiEndpoint.get("download", "/download").addSuccess(Pdf).addError(NotFound))
  .add(HttpApiEndpoint.post("fullprocess", "/fullprocess").addSuccess(FullProcessResponse).addError(Unauthorized).addError(Conflict))
  .annotate(OpenApi.Title, "Model")

export class SystemGroup extends HttpApiGroup.make("system")
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(Health).addError(HealthDown))
  .add(HttpApiEndpoint.get("metrics", "/metrics").addSuccess(Prometheus))
  .add(HttpApiEndpoint.get("monitor", "/").addSuccess(Html))
  .add(HttpApiEndpoint.get("uplotJs", "/assets/uplot.js").addSuccess(HttpApiSchema.Text({ contentType: "text/javascript; charset=utf-8" })))
  .add(HttpApiEndpoint.get("dashboardJs", "/assets/dashboard.js").addSuccess(HttpApiSchema.Text({ contentType: "text/javascript; charset=utf-8" })))
  .add(HttpApiEndpoint.get("uplotCss", "/assets/uplot.css").addSuccess(HttpApiSchema.Text({ contentType: "text/css; charset=utf-8" })))
  .annotate(OpenApi.Title, "System")
{}

export const ReleaseInfo = Schema.Struct({
  releaseId: Schema.String,
  deployedAt: Schema.NullOr(Schema.String),
  f1: Schema.NullOr(Schema.Number),
  modelHash: Schema.NullOr(Schema.String),
  dataHash: Schema.NullOr(Schema.String),
  live: Schema.Boolean
}).annotations({ identifier: "Release" })

export const ActivateResponse = Schema.Struct({
  releaseId: Schema.String,
  previous: Schema.NullOr(Schema.String),
  f1: Schema.NullOr(Schema.Number),
  reason: Schema.String
})

export class ReleasesGroup extends HttpApiGroup.make("releases")
  .add(HttpApiEndpoint.get("releases", "/releases").addSuccess(Schema.Array(ReleaseInfo)))
  .add(
    HttpApiEndpoint.post("activate", "/releases/:id/activate")
      .setPath(Schema.Struct({ id: Schema.String }))
      .setPayload(Schema.Struct({ reason: Schema.optional(Schema.String.pipe(Schema.maxLength(ACTIVATION_REASON_MAX))) }))
      .addSuccess(ActivateResponse)
      .addError(Unauthorized)
      .addError(NotFound)
      .addError(Conflict)
  )
  .annotate(OpenApi.Title, "Releases")
{}

export const LabelsResponse = Schema.Struct({ rows: Schema.Number, duplicate: Schema.Boolean })

/** Production monitoring: the windows of served traffic, and labels that arrive later. */
export class MonitoringGroup extends HttpApiGroup.make("monitoring")
  .add(HttpApiEndpoint.get("monitoring", "/monitoring").addSuccess(MonitoringResponse))
  .add(
    HttpApiEndpoint.post("labels", "/labels")
      .setPayload(Schema.Union(Schema.Struct({ csv: Schema.String }), HttpApiSchema.Text({ contentType: "text/csv" })))
      .addSuccess(LabelsResponse)
      .addError(BadRequest)
      .addError(Unauthorized)
  )
  .annotate(OpenApi.Title, "Monitoring")
{}

/** The API for a declared dataset: the prediction payload and its OpenAPI schema follow the columns. */
export const makeApi = (dataset: DatasetSchema, categories?: ReadonlyMap<string, ReadonlyArray<string>>) =>
  HttpApi.make("drs").add(modelGroup(dataset, categories)).add(ReleasesGroup).add(SystemGroup).add(MonitoringGroup).annotate(OpenApi.Title, "Dynamic Risk Assessment API")

export type Api = ReturnType<typeof makeApi>

/** The API of the default columns (what typed clients and the tests of the default schema use). */
export const Api: Api = makeApi(DEFAULT_DATASET)
