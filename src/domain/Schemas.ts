/** The single description of the system's data shapes. */
import { Cron, Either, Schema } from "effect"
import { DEFAULT_DATASET, DatasetSchema } from "./Dataset.js"
import { Calibration, MonitoringConfigFields } from "./Monitoring.js"

export const DriftTest = Schema.Literal("raw", "parametric", "nonparametric")
export type DriftTest = typeof DriftTest.Type

export const Solver = Schema.Literal("liblinear", "gradient-descent")

/** which rows the performance-drift check scores the live model on */
export const DriftCheckData = Schema.Literal("new", "all")
export type DriftCheckData = typeof DriftCheckData.Type

const NonEmpty = Schema.String.pipe(Schema.minLength(1))

/** a cron expression that parses: five fields, or six with seconds first */
const CronExpression = Schema.String.pipe(Schema.filter((s) =>
  Either.isRight(Cron.parse(s)) || `not a cron expression: "${s}" (expected five fields such as "*/10 * * * *", or six with seconds first)`
))
const PositiveInt = Schema.Int.pipe(Schema.positive())

/** which learner trains the model; "auto" trains both and keeps the better on a validation split of the training data */
export const Learner = Schema.Literal("logistic-regression", "gradient-boosting", "auto")
export type Learner = typeof Learner.Type

/** HistGradientBoostingClassifier's settings, with scikit-learn's names and defaults */
export const GradientBoostingSettings = Schema.Struct({
  learning_rate: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 0.1 }),
  max_iter: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 100 }),
  max_leaf_nodes: Schema.optionalWith(Schema.NullOr(Schema.Int.pipe(Schema.greaterThanOrEqualTo(2))), { default: () => 31 }),
  max_depth: Schema.optionalWith(Schema.NullOr(Schema.Int.pipe(Schema.positive())), { default: () => null }),
  min_samples_leaf: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 20 }),
  l2_regularization: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 0 }),
  max_bins: Schema.optionalWith(Schema.Int.pipe(Schema.between(2, 255)), { default: () => 255 }),
  /** "auto": on above 10,000 rows */
  early_stopping: Schema.optionalWith(Schema.Union(Schema.Literal("auto"), Schema.Boolean), { default: () => "auto" as const }),
  validation_fraction: Schema.optionalWith(Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThan(1)), { default: () => 0.1 }),
  n_iter_no_change: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 10 }),
  tol: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 1e-7 }),
  random_state: Schema.optionalWith(Schema.Int, { default: () => 0 })
})
export type GradientBoostingSettings = typeof GradientBoostingSettings.Type

/** config.json: the five keys of the reference system plus this system's own, with defaults. */
export class AppConfigSchema extends Schema.Class<AppConfigSchema>("AppConfig")({
  input_folder_path: NonEmpty,
  output_folder_path: NonEmpty,
  test_data_path: NonEmpty,
  output_model_path: NonEmpty,
  prod_deployment_path: NonEmpty,
  /** the declared columns of the data: id (optional), features, 0/1 target */
  dataset: Schema.optionalWith(DatasetSchema, { default: () => DEFAULT_DATASET }),
  /** the tracking database: a SQLite file path, or postgres://… for several machines; default <output_folder_path>/drs.sqlite */
  database_url: Schema.optional(NonEmpty),
  /** the former name of a SQLite database_url */
  db_path: Schema.optional(NonEmpty),
  /** a file with a field longer than this is rejected */
  max_field_bytes: Schema.optionalWith(PositiveInt, { default: () => 65_536 }),
  /** DuckDB's memory limit for ingestion and reads; larger work spills to disk */
  duckdb_memory_limit: Schema.optionalWith(NonEmpty, { default: () => "2GB" }),
  /** where malformed input files are moved, with an .error.txt beside them */
  quarantine_folder_path: Schema.optionalWith(NonEmpty, { default: () => "data/quarantine" }),
  drift_test: Schema.optionalWith(DriftTest, { default: () => "raw" as const }),
  /** parametric and non-parametric tests need this many historical scores, else the raw test decides */
  drift_min_history: Schema.optionalWith(PositiveInt, { default: () => 3 }),
  /** "new": score the live model on this run's new rows (the reference's rule); "all": on everything ingested */
  drift_check_data: Schema.optionalWith(DriftCheckData, { default: () => "new" as const }),
  /** what makes fullprocess retrain: "performance" (the F1 drift test), "data" (a feature's PSI or KS test), or "either" */
  drift_trigger: Schema.optionalWith(Schema.Literal("performance", "data", "either", "estimated", "realised"), { default: () => "performance" as const }),
  /** a feature drifts when its PSI over 10 quantile bins of the reference is above this … */
  psi_threshold: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 0.25 }),
  /** … or when the two-sample KS test's p-value is below this */
  ks_alpha: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), { default: () => 0.01 }),
  /** with fewer new rows than this, there is no performance decision */
  drift_min_rows: Schema.optionalWith(PositiveInt, { default: () => 1 }),
  /** "logistic-regression", "gradient-boosting" or "auto" (both, the better on a validation split of the training data) */
  learner: Schema.optionalWith(Learner, { default: () => "logistic-regression" as const }),
  gradient_boosting: Schema.optionalWith(GradientBoostingSettings, { default: () => Schema.decodeSync(GradientBoostingSettings)({}) }),
  solver: Schema.optionalWith(Solver, { default: () => "liblinear" as const }),
  regularization_C: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 1 }),
  max_iterations: Schema.optionalWith(PositiveInt, { default: () => 100 }),
  learning_rate: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 0.5 }),
  releases_to_keep: Schema.optionalWith(PositiveInt, { default: () => 5 }),
  /** "not-worse": a retrained model goes live only if its test F1 ≥ the live model's + deploy_min_improvement; "always": every retrained model */
  deploy_gate: Schema.optionalWith(Schema.Literal("not-worse", "always"), { default: () => "not-worse" as const }),
  deploy_min_improvement: Schema.optionalWith(Schema.Number.pipe(Schema.finite()), { default: () => 0 }),
  lock_stale_seconds: Schema.optionalWith(PositiveInt, { default: () => 3600 }),
  /** when cluster workers run fullprocess (cron syntax; a sixth, leading field gives seconds) */
  schedule: Schema.optionalWith(CronExpression, { default: () => "*/10 * * * *" }),
  /** the address other workers reach this worker at (its host name or IP on a shared network), and its port */
  worker_host: Schema.optionalWith(NonEmpty, { default: () => "localhost" }),
  worker_port: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 65535)), { default: () => 34431 }),
  /** how soon the runs of a worker that died move to another worker */
  worker_failover_seconds: Schema.optionalWith(Schema.Int.pipe(Schema.between(3, 3600)), { default: () => 30 }),
  api_host: Schema.optionalWith(NonEmpty, { default: () => "127.0.0.1" }),
  api_port: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 65535)), { default: () => 8000 }),
  /** bearer token for mutating endpoints; DRS_API_TOKEN overrides */
  api_token: Schema.optional(Schema.String),
  max_body_bytes: Schema.optionalWith(PositiveInt, { default: () => 1_048_576 }),
  /** rows one POST /prediction may carry; more is a 413 */
  max_prediction_rows: Schema.optionalWith(PositiveInt, { default: () => 10_000 }),
  /** a client must send all request headers within this time */
  server_headers_timeout_ms: Schema.optionalWith(PositiveInt, { default: () => 10_000 }),
  /** … and the whole request, body included, within this time (a 408, then the socket is closed) */
  server_request_timeout_ms: Schema.optionalWith(PositiveInt, { default: () => 30_000 }),
  /** an idle keep-alive connection is closed after this time */
  server_keepalive_timeout_ms: Schema.optionalWith(PositiveInt, { default: () => 5_000 }),
  /** log every request (method, path, status, time) to stderr */
  access_log: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** connections beyond this are refused */
  server_max_connections: Schema.optionalWith(PositiveInt, { default: () => 1024 }),
  /** where alerts are POSTed as JSON; none: alerts are off */
  alert_webhook_url: Schema.optional(Schema.String.pipe(Schema.pattern(/^https?:\/\//, { message: () => "an http:// or https:// URL" }))),
  /** with it, each alert carries X-DRS-Signature: sha256=<hex HMAC of the body> */
  alert_webhook_secret: Schema.optional(Schema.String),
  alert_timeout_ms: Schema.optionalWith(PositiveInt, { default: () => 5000 }),
  /** retries after the first attempt, with exponential backoff from alert_backoff_ms */
  alert_retries: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 10)), { default: () => 3 }),
  alert_backoff_ms: Schema.optionalWith(PositiveInt, { default: () => 500 }),
  dependency_check_timeout_ms: Schema.optionalWith(PositiveInt, { default: () => 20_000 }),
  ...MonitoringConfigFields
}) {}

export const AppConfigFromJson = Schema.parseJson(AppConfigSchema)

export const ConfusionMatrixSchema = Schema.Tuple(
  Schema.Tuple(Schema.Number, Schema.Number),
  Schema.Tuple(Schema.Number, Schema.Number)
)

/** How one feature is encoded for the model, learnt from the training data (lib/learners/Encoding.ts). */
export const FeatureEncodingSchema = Schema.Union(
  Schema.Struct({
    name: Schema.String,
    kind: Schema.Literal("numeric"),
    /** missing values take the training median */
    impute: Schema.Number
  }),
  Schema.Struct({
    name: Schema.String,
    kind: Schema.Literal("categorical"),
    /** the categories seen in training, sorted; others are unknown */
    categories: Schema.Array(Schema.String),
    /** missing values take the training's most frequent category (null: none was seen) */
    impute: Schema.NullOr(Schema.String)
  })
).annotations({ identifier: "FeatureEncoding" })

/**
 * The trained model as saved to disk (trainedmodel.json). Format 2 carries the encoding
 * (categories, imputation), the class labels and the names of the encoded columns that the
 * arrays below are over; format 1 (numeric features, 0/1 labels) still loads.
 */
/** With learner "auto": both candidates' figures on the validation split held out of the training data, and the one kept. */
export const LearnerSelection = Schema.Struct({
  validationRows: Schema.Number,
  candidates: Schema.Array(Schema.Struct({
    learner: Schema.Literal("logistic-regression", "gradient-boosting"),
    f1: Schema.Number,
    rocAuc: Schema.NullOr(Schema.Number)
  })),
  chosen: Schema.Literal("logistic-regression", "gradient-boosting")
}).annotations({ identifier: "LearnerSelection" })
export type LearnerSelection = typeof LearnerSelection.Type

export class LogisticArtifact extends Schema.Class<LogisticArtifact>("LogisticArtifact")({
  format: Schema.Literal("drs-logistic-regression/1", "drs-logistic-regression/2"),
  features: Schema.Array(Schema.String),
  /** format 2: each feature's encoding, in feature order */
  encoding: Schema.optional(Schema.Array(FeatureEncodingSchema)),
  /** format 2: the class labels as the files write them, [negative, positive] */
  labels: Schema.optional(Schema.Tuple(Schema.String, Schema.String)),
  /** format 2: the encoded columns: the numeric features, then each categorical feature's one-hot columns */
  columns: Schema.optional(Schema.Array(Schema.String)),
  solver: Solver,
  C: Schema.Number,
  /** column standardisation: z = (x - mean) / scale */
  means: Schema.Array(Schema.Number),
  scales: Schema.Array(Schema.Number),
  /** format 1: missing features are imputed with the training medians */
  impute: Schema.optional(Schema.Array(Schema.Number)),
  interceptStd: Schema.Number,
  weightsStd: Schema.Array(Schema.Number),
  /** the same model in raw feature space (scikit-learn's coef_ / intercept_) */
  coefficients: Schema.Array(Schema.Number),
  intercept: Schema.Number,
  iterations: Schema.Number,
  converged: Schema.Boolean,
  trainedAt: Schema.String,
  trainingRows: Schema.Number,
  dataHash: Schema.String,
  /** learner "auto": how this model was chosen */
  selection: Schema.optional(LearnerSelection),
  /** the probabilities' calibration on rows held out of training (CBPE); absent in older artifacts */
  calibration: Schema.optional(Calibration)
}) {}

/** A fitted tree as flat arrays (lib/learners/boosting/tree.ts). */
const TreeSchema = Schema.Struct({
  split: Schema.Array(Schema.Number),
  feature: Schema.Array(Schema.Number),
  threshold: Schema.Array(Schema.Number),
  missingGoToLeft: Schema.Array(Schema.Boolean),
  leftCategories: Schema.Array(Schema.Array(Schema.Number)),
  left: Schema.Array(Schema.Number),
  right: Schema.Array(Schema.Number),
  value: Schema.Array(Schema.Number),
  cover: Schema.Array(Schema.Number),
  gain: Schema.Array(Schema.Number)
})

/** The boosted trees (lib/learners/boosting): bin thresholds, trees, the early-stopping history, the settings. */
export const BoostedModelSchema = Schema.Struct({
  format: Schema.Literal("hist-gradient-boosting"),
  baseline: Schema.Number,
  features: Schema.Array(Schema.Union(
    Schema.Struct({ kind: Schema.Literal("numeric"), thresholds: Schema.Array(Schema.Number) }),
    Schema.Struct({ kind: Schema.Literal("categorical"), cardinality: Schema.Number })
  )),
  trees: Schema.Array(TreeSchema),
  iterations: Schema.Number,
  early_stopping: Schema.Struct({
    enabled: Schema.Boolean,
    stopped_early: Schema.Boolean,
    train_loss: Schema.Array(Schema.Number),
    validation_loss: Schema.Array(Schema.Number),
    validation_rows: Schema.Number
  }),
  settings: Schema.Struct({
    learning_rate: Schema.Number,
    max_iter: Schema.Number,
    max_leaf_nodes: Schema.NullOr(Schema.Number),
    max_depth: Schema.NullOr(Schema.Number),
    min_samples_leaf: Schema.Number,
    l2_regularization: Schema.Number,
    max_bins: Schema.Number,
    early_stopping: Schema.Union(Schema.Literal("auto"), Schema.Boolean),
    validation_fraction: Schema.Number,
    n_iter_no_change: Schema.Number,
    tol: Schema.Number,
    random_state: Schema.Number
  })
})

/** Gradient-boosted trees on the shared encoding (categories as codes into `encoding`'s, unknown or missing as missing). */
export class BoostingArtifact extends Schema.Class<BoostingArtifact>("BoostingArtifact")({
  format: Schema.Literal("drs-gradient-boosting/1"),
  features: Schema.Array(Schema.String),
  encoding: Schema.Array(FeatureEncodingSchema),
  /** the class labels as the files write them, [negative, positive] */
  labels: Schema.Tuple(Schema.String, Schema.String),
  booster: BoostedModelSchema,
  trainedAt: Schema.String,
  trainingRows: Schema.Number,
  dataHash: Schema.String,
  /** learner "auto": how this model was chosen */
  selection: Schema.optional(LearnerSelection),
  /** the probabilities' calibration on rows held out of training (CBPE) */
  calibration: Schema.optional(Calibration)
}) {}

/** The trained model as saved (trainedmodel.json): self-describing, its `format` names the learner. */
export const ModelArtifact = Schema.Union(LogisticArtifact, BoostingArtifact)
export type ModelArtifact = LogisticArtifact | BoostingArtifact

export const ModelArtifactFromJson = Schema.parseJson(ModelArtifact)

export const ClassMetrics = Schema.Struct({
  precision: Schema.Number,
  recall: Schema.Number,
  f1: Schema.Number,
  support: Schema.Number
})

/** scikit-learn's classification_report: per class (keyed by the target's labels), accuracy, macro and weighted averages */
export const ClassificationReportSchema = Schema.Struct({
  perClass: Schema.Record({ key: Schema.String, value: ClassMetrics }),
  accuracy: Schema.Number,
  macroAvg: ClassMetrics,
  weightedAvg: ClassMetrics
}).annotations({ identifier: "ClassificationReport" })

export class ScoreResult extends Schema.Class<ScoreResult>("ScoreResult")({
  f1: Schema.Number,
  rows: Schema.Number,
  confusionMatrix: ConfusionMatrixSchema,
  classificationReport: ClassificationReportSchema,
  /** area under the ROC curve; null where the data has one class only */
  rocAuc: Schema.NullOr(Schema.Number),
  logLoss: Schema.Number,
  dataset: Schema.String,
  modelHash: Schema.String,
  at: Schema.String,
  /** global importance: each feature's mean |contribution to the log-odds| over these rows */
  importance: Schema.optional(Schema.Array(Schema.Struct({ feature: Schema.String, importance: Schema.Number })))
}) {}

export class ColumnSummary extends Schema.Class<ColumnSummary>("ColumnSummary")({
  column: Schema.String,
  /** null for a categorical feature, as are median and std */
  mean: Schema.NullOr(Schema.Number),
  median: Schema.NullOr(Schema.Number),
  std: Schema.NullOr(Schema.Number),
  /** the values present */
  count: Schema.Number,
  /** "categorical" for a categorical feature; absent for a numeric one */
  kind: Schema.optional(Schema.Literal("numeric", "categorical")),
  /** a categorical feature: how many distinct categories */
  distinct: Schema.optional(Schema.Number),
  /** a categorical feature: the most frequent categories (up to 5) with their share of the rows */
  top: Schema.optional(Schema.Array(Schema.Struct({ category: Schema.String, count: Schema.Number, share: Schema.Number }))),
  /** a categorical feature: the share of rows where it is missing */
  missingRate: Schema.optional(Schema.Number)
}) {}

export class MissingData extends Schema.Class<MissingData>("MissingData")({
  column: Schema.String,
  missing: Schema.Number,
  percent: Schema.Number
}) {}

export class StepTiming extends Schema.Class<StepTiming>("StepTiming")({
  step: Schema.String,
  ms: Schema.Number
}) {}

export class OutdatedDependency extends Schema.Class<OutdatedDependency>("OutdatedDependency")({
  name: Schema.String,
  current: Schema.String,
  wanted: Schema.String,
  latest: Schema.String
}) {}

export class DependencyReport extends Schema.Class<DependencyReport>("DependencyReport")({
  checked: Schema.Boolean,
  /** why the check could not run, where it could not */
  error: Schema.optional(Schema.String),
  packages: Schema.Array(OutdatedDependency)
}) {}

/** A number that may be NaN (no score): JSON has no NaN, so it is written as null. */
export const MaybeNumber = Schema.transform(Schema.NullOr(Schema.Number), Schema.Number, {
  strict: true,
  decode: (n) => n ?? Number.NaN,
  encode: (n) => (Number.isNaN(n) ? null : n)
})

export class DriftDecision extends Schema.Class<DriftDecision>("DriftDecision")({
  test: DriftTest,
  drifted: Schema.Boolean,
  /** NaN where the decision had no performance score (data drift only) */
  newScore: MaybeNumber,
  deployedScore: Schema.NullOr(Schema.Number),
  threshold: Schema.NullOr(Schema.Number),
  historySize: Schema.Number,
  reason: Schema.String
}) {}

/** One feature's data drift between the live model's training data and a run's new rows. */
export class FeatureDriftResult extends Schema.Class<FeatureDriftResult>("FeatureDrift")({
  feature: Schema.String,
  psi: Schema.NullOr(Schema.Number),
  ksStatistic: Schema.NullOr(Schema.Number),
  ksPValue: Schema.NullOr(Schema.Number),
  ksMethod: Schema.NullOr(Schema.Literal("exact", "asymptotic")),
  missingRateReference: Schema.Number,
  missingRateCurrent: Schema.Number,
  meanReference: Schema.NullOr(Schema.Number),
  meanCurrent: Schema.NullOr(Schema.Number),
  referenceRows: Schema.Number,
  currentRows: Schema.Number,
  flagged: Schema.Boolean,
  reasons: Schema.Array(Schema.String),
  /** "categorical" for a categorical feature (its test is chi-square, not KS); absent for a numeric one */
  kind: Schema.optional(Schema.Literal("numeric", "categorical")),
  /** a categorical feature: the chi-square test of homogeneity over its categories (missing and unseen included) */
  chiSquare: Schema.optional(Schema.NullOr(Schema.Number)),
  chiSquarePValue: Schema.optional(Schema.NullOr(Schema.Number)),
  chiSquareDof: Schema.optional(Schema.NullOr(Schema.Number)),
  /** a categorical feature: categories of the new rows that the reference never had, and their share */
  newCategories: Schema.optional(Schema.Array(Schema.Struct({ category: Schema.String, share: Schema.Number })))
}) {}

/** The data drift of one run: every feature, against which reference. */
export class DataDriftReport extends Schema.Class<DataDriftReport>("DataDriftReport")({
  runId: Schema.NullOr(Schema.Number),
  at: Schema.String,
  /** the snapshot the live model was trained on */
  referenceHash: Schema.String,
  /** the snapshot whose new rows were compared */
  currentHash: Schema.String,
  psiThreshold: Schema.Number,
  ksAlpha: Schema.Number,
  drifted: Schema.Boolean,
  features: Schema.Array(FeatureDriftResult)
}) {}
