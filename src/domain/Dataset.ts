/** The declared dataset schema: which CSV columns are the id, the features and the target. */
import { Schema } from "effect"

const ColumnName = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z_][A-Za-z0-9_ .-]{0,127}$/, {
    message: () => "a column name starts with a letter or _ and has at most 128 letters, digits, _, space, . or -"
  })
)

export class DatasetSchema extends Schema.Class<DatasetSchema>("DatasetSchema")({
  /** an optional identifier column (kept, never used as a feature) */
  id_column: Schema.optionalWith(Schema.NullOr(ColumnName), { default: () => "corporation" }),
  feature_columns: Schema.Array(ColumnName).pipe(Schema.minItems(1), Schema.maxItems(256)),
  /** a 0/1 class label */
  target_column: ColumnName
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

/** Names that appear twice; a valid schema has none. */
export const repeatedColumns = (d: DatasetSchema): ReadonlyArray<string> => {
  const all = columnsOf(d)
  return [...new Set(all.filter((c, i) => all.indexOf(c) !== i))]
}

/** A stable text form of a schema, stored with the data it describes. */
export const schemaFingerprint = (d: DatasetSchema): string =>
  JSON.stringify({ id: d.id_column ?? null, features: d.feature_columns, target: d.target_column })
