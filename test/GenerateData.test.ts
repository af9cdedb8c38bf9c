import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { DatasetSchema } from "../src/domain/Dataset.js"
import { generateCsv, generateLines, SAMPLE_LAYOUT, writeSampleData } from "../src/programs/GenerateData.js"
import { FileStore } from "../src/services/FileStore.js"

const ROOT = NodePath.resolve(import.meta.dirname, "..")

describe("sample data generator", () => {
  it("is deterministic and makes valid rows", () => {
    assert.deepStrictEqual(generateLines(50, 9), generateLines(50, 9))
    assert.notDeepEqual(generateLines(50, 9), generateLines(50, 10))
    for (const line of generateLines(200, 3)) {
      const [corporation, , , employees, exited] = line.split(",")
      assert.isTrue(exited === "0" || exited === "1")
      assert.isAtLeast(Number(employees), 1)
      assert.match(corporation!, /^[a-z]{4}$/)
    }
  })

  it("follows a declared schema: its header, no id column when none is declared, both classes", () => {
    const dataset = DatasetSchema.make({ id_column: null, feature_columns: ["a", "b", "c", "d", "e", "f"], target_column: "y" })
    const text = generateCsv(400, 7, dataset)
    const [header, ...lines] = text.trimEnd().split("\n")
    assert.strictEqual(header, "a,b,c,d,e,f,y")
    assert.strictEqual(lines.length, 400)
    const labels = new Set(lines.map((l) => l.split(",")[6]))
    assert.deepStrictEqual([...labels].sort(), ["0", "1"])
    for (const l of lines) assert.strictEqual(l.split(",").length, 7)
  })

  it.effect("the shipped data/ folder is exactly its output", () =>
    Effect.gen(function*() {
      const written = yield* writeSampleData("/gen")
      const store = yield* FileStore
      assert.strictEqual(written.length, Object.keys(SAMPLE_LAYOUT).length)
      for (const rel of Object.keys(SAMPLE_LAYOUT)) {
        const generated = yield* store.readText(NodePath.join("/gen", rel))
        assert.strictEqual(generated, NodeFs.readFileSync(NodePath.join(ROOT, "data", rel), "utf8"), rel)
      }
    }).pipe(Effect.provide(FileStore.layerMemory())))
})
