import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { generateRows, SAMPLE_LAYOUT, writeSampleData } from "../src/programs/GenerateData.js"
import { FileStore } from "../src/services/FileStore.js"

const ROOT = NodePath.resolve(import.meta.dirname, "..")

describe("sample data generator", () => {
  it("is deterministic and makes valid rows", () => {
    assert.deepStrictEqual(generateRows(50, 9), generateRows(50, 9))
    assert.notDeepEqual(generateRows(50, 9), generateRows(50, 10))
    for (const r of generateRows(200, 3)) {
      assert.isTrue(r.exited === 0 || r.exited === 1)
      assert.isAtLeast(r.number_of_employees!, 1)
      assert.match(r.corporation, /^[a-z]{4}$/)
    }
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
