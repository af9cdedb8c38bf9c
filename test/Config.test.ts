import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadConfig, parseOverride, trackingDbPath } from "../src/services/AppConfig.js"
import { FileStore } from "../src/services/FileStore.js"

const base = {
  input_folder_path: "in", output_folder_path: "out", test_data_path: "test",
  output_model_path: "models", prod_deployment_path: "prod"
}
const withFile = (content: string) => Effect.provide(FileStore.layerMemory({ "/cfg/config.json": content }))

describe("configuration", () => {
  it.effect("decodes the five keys and fills in defaults", () =>
    Effect.gen(function*() {
      const c = yield* loadConfig("/cfg/config.json")
      assert.strictEqual(c.input_folder_path, "in")
      assert.strictEqual(c.drift_test, "raw")
      assert.strictEqual(c.api_port, 8000)
      assert.strictEqual(c.regularization_C, 1)
    }).pipe(withFile(JSON.stringify(base))))

  it.effect("--set overrides, with JSON values where they parse", () =>
    Effect.gen(function*() {
      const c = yield* loadConfig("/cfg/config.json", ["drift_test=parametric", "api_port=9001", "input_folder_path=other/in"])
      assert.strictEqual(c.drift_test, "parametric")
      assert.strictEqual(c.api_port, 9001)
      assert.strictEqual(c.input_folder_path, "other/in")
    }).pipe(withFile(JSON.stringify(base))))

  it.effect("--set takes a JSON object, merged into the configured one, and an array", () =>
    Effect.gen(function*() {
      const c = yield* loadConfig("/cfg/config.json", [`gradient_boosting={"max_iter":5}`, `learner=gradient-boosting`])
      assert.strictEqual(c.learner, "gradient-boosting")
      assert.strictEqual(c.gradient_boosting.max_iter, 5)
      // the configured keys stay; the others take their defaults
      assert.strictEqual(c.gradient_boosting.learning_rate, 0.3)
      assert.strictEqual(c.gradient_boosting.max_leaf_nodes, 31)
      const e = yield* Effect.flip(loadConfig("/cfg/config.json", [`gradient_boosting={"max_iter":"many"}`]))
      assert.include(e.message, "max_iter")
    }).pipe(withFile(JSON.stringify({ ...base, gradient_boosting: { learning_rate: 0.3 } }))))

  it.effect("names the missing key, the bad value and the unknown key", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(loadConfig("/cfg/config.json", ["drift_test=sometimes", "input_folder_pth=x"]))
      assert.strictEqual(e._tag, "ConfigError")
      assert.include(e.message, "prod_deployment_path")
      assert.include(e.message, "drift_test")
      assert.include(e.message, "input_folder_pth")
    }).pipe(withFile(JSON.stringify({ ...base, prod_deployment_path: undefined }))))

  it.effect("reports unreadable and non-JSON files with their path", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(loadConfig("/cfg/nope.json"))
      assert.include(missing.message, "cannot read")
      assert.strictEqual(missing.source, "/cfg/nope.json")
      const bad = yield* Effect.flip(loadConfig("/cfg/config.json"))
      assert.include(bad.message, "not valid JSON")
    }).pipe(withFile("{ not json")))

  it.effect("rejects a malformed --set", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(parseOverride("novalue"))
      assert.include(e.message, "expected key=value")
    }))

  it.effect("the tracking database defaults to the output folder, so two projects never share one; database_url chooses another", () =>
    Effect.gen(function*() {
      const c = yield* loadConfig("/cfg/config.json")
      assert.strictEqual(trackingDbPath(c), "out/drs.sqlite")
      const other = yield* loadConfig("/cfg/config.json", ["output_folder_path=elsewhere"])
      assert.strictEqual(trackingDbPath(other), "elsewhere/drs.sqlite")
      const pg = yield* loadConfig("/cfg/config.json", ["database_url=postgres://u@127.0.0.1:5432/drs"])
      assert.strictEqual(trackingDbPath(pg), "postgres://u@127.0.0.1:5432/drs")
      const old = yield* loadConfig("/cfg/config.json", ["db_path=legacy.sqlite"])
      assert.strictEqual(trackingDbPath(old), "legacy.sqlite")
      const both = yield* Effect.flip(loadConfig("/cfg/config.json", ["db_path=a.sqlite", "database_url=b.sqlite"]))
      assert.include(both.message, "database_url and db_path name different databases")
    }).pipe(withFile(JSON.stringify(base))))

  it.effect("a dataset naming a column twice is refused", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(loadConfig("/cfg/config.json"))
      assert.include(e.message, "names the column(s) x more than once")
    }).pipe(withFile(JSON.stringify({ ...base, dataset: { id_column: null, feature_columns: ["x", "y"], target_column: "x" } }))))
})
