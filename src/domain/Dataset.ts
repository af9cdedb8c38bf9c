/** The declared dataset schema: which CSV columns are the id, the features (numeric or categorical) and the target. */
import { Schema } from "effect"

const ColumnName = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z_][A-Za-z0-9_ .-]{0,127}$/, {
    message: () => "a column name starts with a letter or _ and has at most 128 letters, digits, _, space, . or -"
  })
)

/** A class label as it appears in the files: any text of 1 to 64 characters without a line break. */
const Label = Schema.String.pipe(
  Schema.pattern(/^[^\r\n]{1,64}$/, { message: () => "a label is 1 to 64 characters without a line break" })
)

export class DatasetSchema extends Schema.Class<DatasetSchema>("DatasetSchema")({
  /** an optional identifier column (kept, never used as a feature) */
  id_column: Schema.optionalWith(Schema.NullOr(ColumnName), { default: () => "corporation" }),
  feature_columns: Schema.Array(ColumnName).pipe(Schema.minItems(1), Schema.maxItems(256)),
  /** the features (a subset of feature_columns) that hold text categories; the others are numbers */
  categorical_columns: Schema.optionalWith(Schema.Array(ColumnName), { default: () => [] }),
  /** the target: a two-class label */
  target_column: ColumnName,
  /** the target's two values as they appear in the files; the model predicts 1 for positive_label */
  positive_label: Schema.optionalWith(Label, { default: () => "1" }),
  negative_label: Schema.optionalWith(Label, { default: () => "0" }),
  /** a column the schema does not declare: "ignore" drops it at ingestion (and says which), "reject" rejects the file */
  extra_columns: Schema.optionalWith(Schema.Literal("ignore", "reject"), { default: () => "ignore" as const })
}) {}

/** The reference system's columns, the default. */
export const DEFAULT_DATASET = DatasetSchema.make({
  id_column: "corporation",
  feature_columns: ["lastmonth_activity", "lastyear_activity", "number_of_employees"],
  target_column: "exited"
})

/** Every column of a data file, in declared order: id (if any), features, target. */
export const columnsOf = (d: DatasetSchema): ReadonlyArray<string> =>
  [...(d.id_column ? [d.id_column] : []), ...d.feature_columns, d.target_column]

/** Whether a feature holds text categories (decided by the declared schema alone). */
export const isCategorical = (d: DatasetSchema, feature: string): boolean => d.categorical_columns.includes(feature)

/** The class labels: index 0 is negative_label, index 1 positive_label. */
export const labelsOf = (d: DatasetSchema): readonly [string, string] => [d.negative_label, d.positive_label]

/** What is wrong with a schema beyond its fields' types (checked with the config), or undefined. */
export const datasetProblem = (d: DatasetSchema): string | undefined => {
  const notFeatures = d.categorical_columns.filter((c) => !d.feature_columns.includes(c))
  if (notFeatures.length > 0) return `dataset.categorical_columns names ${notFeatures.join(", ")}, which is not in dataset.feature_columns`
  if (d.positive_label === d.negative_label) return `dataset.positive_label and dataset.negative_label must differ (both are "${d.positive_label}")`
  return undefined
}

/** Names that appear twice; a valid schema has none. */
export const repeatedColumns = (d: DatasetSchema): ReadonlyArray<string> => {
  const all = columnsOf(d)
  return [...new Set(all.filter((c, i) => all.indexOf(c) !== i))]
}

/**
 * A stable text form of a schema, stored with the data it describes. What a schema of
 * numeric features with 0/1 labels had before categories and labels existed stays the same,
 * so data ingested then is still recognised.
 */
export const schemaFingerprint = (d: DatasetSchema): string =>
  JSON.stringify({
    id: d.id_column ?? null, features: d.feature_columns, target: d.target_column,
    ...(d.categorical_columns.length > 0 ? { categorical: d.categorical_columns } : {}),
    ...(d.positive_label !== "1" || d.negative_label !== "0" ? { labels: [d.negative_label, d.positive_label] } : {})
  })
