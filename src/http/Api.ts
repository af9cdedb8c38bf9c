/** The HTTP API contract: endpoints, schemas and errors (no handlers). */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { ColumnSummary, DependencyReport, MissingData, ScoreResult, StepTiming } from "../domain/Schemas.js"

export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", { message: Schema.String }, HttpApiSchema.annotations({ status: 400 })) {}
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", { message: Schema.String }, HttpApiSchema.annotations({ status: 401 })) {}
export class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", { message: Schema.String }, HttpApiSchema.annotations({ status: 503 })) {}
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { message: Schema.String }, HttpApiSchema.annotations({ status: 404 })) {}
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", { message: Schema.String }, HttpApiSchema.annotations({ status: 409 })) {}

const Feature = Schema.NullOr(Schema.Number.pipe(Schema.finite()))

export const PredictionRow = Schema.Struct({
  corporation: Schema.optional(Schema.String),
  lastmonth_activity: Feature,
  lastyear_activity: Feature,
  number_of_employees: Feature,
  exited: Schema.optional(Schema.Literal(0, 1))
})

export const PredictionRequest = Schema.Struct({
  /** rows as JSON objects … */
  rows: Schema.optional(Schema.Array(PredictionRow).pipe(Schema.maxItems(100_000))),
  /** … or a CSV document with the usual header */
  csv: Schema.optional(Schema.String)
}).annotations({ description: "Give either `rows` or `csv`" })

export const PredictionResponse = Schema.Struct({
  predictions: Schema.Array(Schema.Literal(0, 1)),
  probabilities: Schema.Array(Schema.Number),
  releaseId: Schema.String,
  f1: Schema.optional(Schema.Number)
})

export const DiagnosticsResponse = Schema.Struct({
  missing: Schema.Array(MissingData),
  timings: Schema.Array(StepTiming),
  dependencies: DependencyReport
})

export const Health = Schema.Struct({
  status: Schema.Literal("ok"),
  releaseId: Schema.NullOr(Schema.String),
  f1: Schema.NullOr(Schema.Number)
})

export const FullProcessResponse = Schema.Struct({ outcome: Schema.String, summary: Schema.Unknown })

/** a raw CSV document, sent as text/csv */
const CsvBody = HttpApiSchema.Text({ contentType: "text/csv" })
const Html = HttpApiSchema.Text({ contentType: "text/html; charset=utf-8" })
const Prometheus = HttpApiSchema.Text({ contentType: "text/plain; version=0.0.4; charset=utf-8" })
const Pdf = HttpApiSchema.Uint8Array({ contentType: "application/pdf" })

export class ModelGroup extends HttpApiGroup.make("model")
  .add(HttpApiEndpoint.post("prediction", "/prediction").setPayload(Schema.Union(PredictionRequest, CsvBody)).addSuccess(PredictionResponse).addError(BadRequest).addError(Unavailable))
  .add(HttpApiEndpoint.get("scoring", "/scoring").addSuccess(ScoreResult).addError(Unavailable).addError(BadRequest))
  .add(HttpApiEndpoint.get("summarystats", "/summarystats").addSuccess(Schema.Array(ColumnSummary)).addError(NotFound))
  .add(HttpApiEndpoint.get("diagnostics", "/diagnostics").addSuccess(DiagnosticsResponse).addError(NotFound))
  .add(HttpApiEndpoint.get("download", "/download").addSuccess(Pdf).addError(NotFound))
  .add(HttpApiEndpoint.post("fullprocess", "/fullprocess").addSuccess(FullProcessResponse).addError(Unauthorized).addError(Conflict))
  .annotate(OpenApi.Title, "Model")
{}

export class SystemGroup extends HttpApiGroup.make("system")
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(Health))
  .add(HttpApiEndpoint.get("metrics", "/metrics").addSuccess(Prometheus))
  .add(HttpApiEndpoint.get("monitor", "/").addSuccess(Html))
  .annotate(OpenApi.Title, "System")
{}

export class Api extends HttpApi.make("drs").add(ModelGroup).add(SystemGroup).annotate(OpenApi.Title, "Dynamic Risk Assessment API") {}
