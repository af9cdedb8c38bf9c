/** AppConfig: config.json decoded by its Schema, with `--set key=value` overrides. */
import { Context, Effect, Layer, ParseResult, Schema } from "effect"
import * as NodePath from "node:path"
import { datasetProblem, repeatedColumns } from "../domain/Dataset.js"
import { ConfigError } from "../domain/Errors.js"
import { AppConfigSchema } from "../domain/Schemas.js"
import { FileStore } from "./FileStore.js"

/**
 * The tracking database: `database_url` (a SQLite path or postgres://…), or the older
 * `db_path`, else `drs.sqlite` in the output folder (so two projects never share one).
 */
export const trackingDbPath = (config: AppConfigSchema) =>
  config.database_url ?? config.db_path ?? NodePath.join(config.output_folder_path, "drs.sqlite")

export class AppConfig extends Context.Tag("drs/AppConfig")<AppConfig, AppConfigSchema>() {
  static readonly layerTest = (overrides: Partial<ConstructorParameters<typeof AppConfigSchema>[0]> = {}) =>
    Layer.succeed(AppConfig, testConfig(overrides))
}

const decode = Schema.decodeUnknown(AppConfigSchema, { onExcessProperty: "error", errors: "all" })

/**
 * Parse one `key=value`; the value is JSON where it parses as JSON (numbers, booleans,
 * objects, arrays), else a string.
 */
export const parseOverride = (s: string): Effect.Effect<readonly [string, unknown], ConfigError> => {
  const eq = s.indexOf("=")
  if (eq <= 0) {
    return Effect.fail(new ConfigError({ source: "--set", message: `expected key=value, got "${s}"` }))
  }
  const key = s.slice(0, eq).trim()
  const raw = s.slice(eq + 1)
  let value: unknown = raw
  try {
    const parsed: unknown = JSON.parse(raw)
    if (parsed !== null) value = parsed
  } catch {
    value = raw
  }
  return Effect.succeed([key, value] as const)
}

export const decodeConfig = (source: string, raw: unknown, overrides: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      return yield* new ConfigError({ source, message: "the configuration must be a JSON object" })
    }
    const merged: Record<string, unknown> = { ...raw }
    const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x)
    for (const o of overrides) {
      const [k, v] = yield* parseOverride(o)
      // an object sets the keys it names in the configured object (gradient_boosting={"max_iter":5})
      merged[k] = isObject(v) && isObject(merged[k]) ? { ...merged[k], ...v } : v
    }
    const config = yield* decode(merged).pipe(
      Effect.mapError((e) =>
        new ConfigError({ source, message: `invalid configuration:\n${ParseResult.TreeFormatter.formatErrorSync(e)}` })
      )
    )
    if (config.database_url !== undefined && config.db_path !== undefined && config.database_url !== config.db_path) {
      return yield* new ConfigError({ source, message: "invalid configuration: database_url and db_path name different databases; keep database_url" })
    }
    const repeated = repeatedColumns(config.dataset)
    if (repeated.length > 0) {
      return yield* new ConfigError({ source, message: `invalid configuration: dataset names the column(s) ${repeated.join(", ")} more than once` })
    }
    const problem = datasetProblem(config.dataset)
    if (problem !== undefined) return yield* new ConfigError({ source, message: `invalid configuration: ${problem}` })
    return config
  })

/** Read and validate a config file through the FileStore. */
export const loadConfig = (path: string, overrides: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const store = yield* FileStore
    const text = yield* store.readText(path).pipe(
      Effect.mapError((e) => new ConfigError({ source: path, message: `cannot read the configuration file: ${e.message}` }))
    )
    const json = yield* Effect.try({
      try: (): unknown => JSON.parse(text),
      catch: (e) => new ConfigError({ source: path, message: `not valid JSON: ${(e as Error).message}` })
    })
    return yield* decodeConfig(path, json, overrides)
  })

export const layerFromFile = (path: string, overrides: ReadonlyArray<string> = []) =>
  Layer.effect(AppConfig, loadConfig(path, overrides))

export const testConfig = (overrides: Partial<ConstructorParameters<typeof AppConfigSchema>[0]> = {}) =>
  AppConfigSchema.make({
    input_folder_path: "/t/data/sourcedata",
    output_folder_path: "/t/data/ingesteddata",
    test_data_path: "/t/data/testdata",
    output_model_path: "/t/data/models",
    prod_deployment_path: "/t/production",
    db_path: ":memory:",
    quarantine_folder_path: "/t/data/quarantine",
    labels_folder_path: "/t/data/labels",
    ...overrides
  })
