/**
 * Production monitoring: the config keys of the prediction log, the labels and the windows;
 * the probability calibration stored with a model; one monitored window as GET /monitoring
 * returns it.
 */
import { Schema } from "effect"

const NonEmpty = Schema.String.pipe(Schema.minLength(1))
const PositiveInt = Schema.Int.pipe(Schema.positive())

/** a window length: a whole number of minutes, hours or days ("15m", "6h", "1d", "30d") */
export const WindowLength = Schema.String.pipe(Schema.pattern(/^[1-9][0-9]{0,4}(m|h|d)$/, {
  message: () => `a window length such as "1d", "30d", "6h" or "15m"`
}))

/** The config keys of production monitoring (spread into AppConfigSchema). */
export const MonitoringConfigFields = {
  /** record every POST /prediction row (Parquet batches per server process); false turns it off */
  prediction_log: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** where the batches go; default <output_folder_path>/predictions */
  prediction_log_path: Schema.optional(NonEmpty),
  /** a batch is written once it holds this many rows (about 5 MB for 3 features; a write costs a few ms per file, so not small) … */
  prediction_log_max_rows: Schema.optionalWith(PositiveInt, { default: () => 100_000 }),
  /** … or once its oldest row is this many seconds old: a crash loses at most one open batch */
  prediction_log_max_seconds: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 3600)), { default: () => 30 }),
  /** label files (the id column and the target column) dropped here are ingested by `monitor` */
  labels_folder_path: Schema.optionalWith(NonEmpty, { default: () => "data/labels" }),
  /** the length of a monitoring window */
  monitor_window: Schema.optionalWith(WindowLength, { default: () => "1d" }),
  /** drift_trigger "estimated"/"realised" and their alerts fire below the live release's test F1 minus this */
  estimated_drop_tolerance: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), { default: () => 0.05 })
}

/**
 * The calibration of a model's probabilities, fitted on rows held out of its training:
 * isotonic regression (as NannyML's CBPE) when the held-out rows are many enough, else
 * Platt's sigmoid on the log-odds. `rows` held-out rows; the Brier scores before and after.
 */
export const Calibration = Schema.Union(
  Schema.Struct({
    method: Schema.Literal("isotonic"),
    /** the fitted step function's knots (scikit-learn's X_thresholds_, y_thresholds_): linear between them, clipped outside */
    x: Schema.Array(Schema.Number),
    y: Schema.Array(Schema.Number),
    rows: Schema.Number,
    brierBefore: Schema.Number,
    brierAfter: Schema.Number
  }),
  Schema.Struct({
    method: Schema.Literal("platt"),
    /** p' = 1 / (1 + exp(-(a · logit(p) + b))) */
    a: Schema.Number,
    b: Schema.Number,
    rows: Schema.Number,
    brierBefore: Schema.Number,
    brierAfter: Schema.Number
  })
).annotations({ identifier: "Calibration" })
export type Calibration = typeof Calibration.Type

/** F1, precision and recall of class 1 (0 where a denominator is 0, as scikit-learn), and ROC AUC (null with one class). */
export const WindowMetrics = Schema.Struct({
  f1: Schema.Number,
  precision: Schema.Number,
  recall: Schema.Number,
  rocAuc: Schema.NullOr(Schema.Number)
}).annotations({ identifier: "WindowMetrics" })
export type WindowMetrics = typeof WindowMetrics.Type

/** One input's drift in a window of served rows, against the live model's training data. */
export const ServingDrift = Schema.Struct({
  /** a feature's name, or "prediction" for the distribution of the predicted probability */
  feature: Schema.String,
  kind: Schema.Literal("numeric", "categorical", "prediction"),
  psi: Schema.NullOr(Schema.Number),
  ksStatistic: Schema.NullOr(Schema.Number),
  ksPValue: Schema.NullOr(Schema.Number),
  missingRateReference: Schema.Number,
  missingRateCurrent: Schema.Number,
  meanReference: Schema.NullOr(Schema.Number),
  meanCurrent: Schema.NullOr(Schema.Number),
  /** the window's rows the measures were computed on (a sample of a large window) */
  currentRows: Schema.Number,
  flagged: Schema.Boolean,
  reasons: Schema.Array(Schema.String),
  /** a categorical feature: the chi-square test of homogeneity's p-value (its test instead of KS) */
  chiSquarePValue: Schema.optional(Schema.NullOr(Schema.Number)),
  /** a categorical feature: categories served that the training data never had, with their share */
  newCategories: Schema.optional(Schema.Array(Schema.Struct({ category: Schema.String, share: Schema.Number })))
}).annotations({ identifier: "ServingDrift" })
export type ServingDrift = typeof ServingDrift.Type

export const MonitoringWindow = Schema.Struct({
  start: Schema.String,
  end: Schema.String,
  releaseId: Schema.String,
  rows: Schema.Number,
  labelled: Schema.Number,
  realised: Schema.NullOr(WindowMetrics),
  estimated: WindowMetrics,
  drift: Schema.Array(ServingDrift)
}).annotations({ identifier: "MonitoringWindow" })
export type MonitoringWindow = typeof MonitoringWindow.Type

/** GET /monitoring */
export const MonitoringResponse = Schema.Struct({ windows: Schema.Array(MonitoringWindow) })
export type MonitoringResponse = typeof MonitoringResponse.Type

/** What a `monitor` run did (the step's result, stored with the run). */
export const MonitorResult = Schema.Struct({
  computedAt: Schema.String,
  window: Schema.String,
  loggedRows: Schema.Number,
  labelFiles: Schema.Array(Schema.Struct({ name: Schema.String, rows: Schema.Number })),
  rejectedLabelFiles: Schema.Array(Schema.Struct({ name: Schema.String, error: Schema.String })),
  windows: Schema.Number,
  /** how the estimate's probabilities were calibrated, per release: "isotonic", "platt", or "none (raw probabilities)" */
  calibration: Schema.Record({ key: Schema.String, value: Schema.String }),
  /** alerts raised by this run */
  alerts: Schema.Array(Schema.String),
  ms: Schema.Number
})
export type MonitorResult = typeof MonitorResult.Type

/** A window length in milliseconds. */
export const windowMillis = (w: string): number => {
  const n = Number(w.slice(0, -1))
  const unit = w.at(-1)
  return n * (unit === "m" ? 60_000 : unit === "h" ? 3_600_000 : 86_400_000)
}
