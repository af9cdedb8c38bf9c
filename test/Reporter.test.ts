import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { DependencyReport } from "../src/domain/Schemas.js"
import { classificationReport } from "../src/lib/Metrics.js"
import { renderConfusionMatrix, Reporter } from "../src/services/Reporter.js"
import { Model } from "../src/services/Model.js"
import { FileStore } from "../src/services/FileStore.js"
import { Diagnostics } from "../src/services/Diagnostics.js"
import { Ingestion } from "../src/services/Ingestion.js"
import { ColumnSummary, MissingData } from "../src/domain/Schemas.js"
import { csv, frame, row, TestLayer } from "./layers.js"

const pngSize = (png: Uint8Array) => {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength)
  return { width: view.getUint32(16), height: view.getUint32(20) }
}

describe("Reporter", () => {
  it("renders the confusion matrix as a real PNG", async () => {
    const png = await renderConfusionMatrix([[0, 2], [1, 2]], "Confusion matrix — Übersicht")
    assert.deepStrictEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
    assert.deepStrictEqual(pngSize(png), { width: 520, height: 460 })
  })

  it.effect("writes the PNG and a PDF report, non-ASCII names included", () =>
    Effect.gen(function*() {
      const reporter = yield* Reporter
      const model = yield* Model
      const rows = [row("Ærø Åkeri", 10, 100, 1, 0), row("Żółć", 500, 50, 2, 1), row("東京", null, 70, 3, 1)]
      const m = yield* model.train(frame(rows), "hash")
      const out = yield* reporter.write({
        generatedAt: "2026-11-23T00:00:00.000Z", releaseId: "r1", model: m, modelHash: "abc", testScore: 0.5, testRows: 3,
        confusionMatrix: [[1, 0], [1, 1]],
        scoreHistory: [{ at: "2026-11-22T00:00:00Z", f1: 0.4, purpose: "deployed" }],
        drift: [{ at: "2026-11-22T00:00:00Z", test: "raw", drifted: true, reason: "new score 0.4 < deployed score 0.5" }],
        summary: [ColumnSummary.make({ column: "lastmonth_activity", mean: 1, median: 1, std: 0.5, count: 3 })],
        missing: [MissingData.make({ column: "Größe", missing: 1, percent: 33.3 })], timings: [{ step: "ingestion", ms: 12 }],
        dependencies: DependencyReport.make({ checked: false, error: "offline", packages: [] }),
        classificationReport: classificationReport([0, 0, 1], [0, 1, 1]), rocAuc: 0.75, logLoss: 0.5,
        dataDrift: { at: "2026-11-22T00:00:00Z", features: [{ feature: "größe", psi: 0.4, ksPValue: 1e-6, missingRateCurrent: 0.1, meanReference: 1, meanCurrent: 2, flagged: true }] },
        ingestedFiles: [{ name: "Übersicht.csv", ingestedAt: "2026-11-22T10:00:00.000Z" }]
      }, "/r/cm.png", "/r/report.pdf")
      const store = yield* FileStore
      const pdf = yield* store.readFile(out.pdfPath)
      assert.strictEqual(new TextDecoder().decode(pdf.subarray(0, 5)), "%PDF-")
      assert.strictEqual(pdf.length, out.pdfBytes)
      // the fonts are embedded (DejaVu), so every glyph above can be drawn
      assert.include(new TextDecoder("latin1").decode(pdf), "DejaVuSans")
      const png = yield* store.readFile(out.pngPath)
      assert.deepStrictEqual(pngSize(png), { width: 520, height: 460 })
    }).pipe(Effect.provide(Reporter.layerTest), Effect.provide(Model.layerTest)))

  it.effect("summary statistics and missing data (in SQL over the snapshot) skip and count missing values", () =>
    Effect.gen(function*() {
    yield* Effect.flatMap(Ingestion, (i) => i.ingest())
    const diagnostics = yield* Diagnostics
    const s = yield* diagnostics.summaryStats()
    assert.deepStrictEqual(s.map((c) => [c.column, c.mean, c.median, c.count]), [
      ["lastmonth_activity", 2, 2, 2], ["lastyear_activity", 15, 15, 2], ["number_of_employees", 7, 7, 3]
    ])
    assert.approximately(s[2]!.std!, 2, 1e-12)
    const m = yield* diagnostics.missingData()
    assert.deepStrictEqual(m.map((c) => [c.column, c.missing]), [
      ["corporation", 1], ["lastmonth_activity", 1], ["lastyear_activity", 1], ["number_of_employees", 0], ["exited", 0]
    ])
    assert.approximately(m[0]!.percent, 100 / 3, 1e-12)
    }).pipe(Effect.provide(TestLayer({
      "/t/data/sourcedata/s.csv": csv([row("a", 1, null, 5, 0), row("", 3, 10, 7, 1), row("c", null, 20, 9, 0)])
    }))))
})
