/** Reporter: the confusion-matrix PNG and the PDF performance report. */
import { Effect, Layer } from "effect"
// pdfkit and pureimage load on first use: a run with nothing to report never pays for them
type PImageModule = typeof import("pureimage")
import { PassThrough } from "node:stream"
import { setFlagsFromString } from "node:v8"
import { ReportError } from "../domain/Errors.js"
import type { ClassificationReport } from "../lib/Metrics.js"
import type { ColumnSummary, DependencyReport, MissingData, ModelArtifact, StepTiming } from "../domain/Schemas.js"
import { fontPath } from "../lib/Fonts.js"
import type { ConfusionMatrix } from "../lib/Stats.js"
import { FileStore } from "./FileStore.js"

export interface ReportData {
  readonly generatedAt: string
  readonly releaseId: string | null
  readonly model: ModelArtifact
  readonly modelHash: string
  readonly testScore: number
  readonly testRows: number
  readonly confusionMatrix: ConfusionMatrix
  readonly scoreHistory: ReadonlyArray<{ readonly at: string; readonly f1: number; readonly purpose: string }>
  readonly drift: ReadonlyArray<{ readonly at: string; readonly test: string; readonly drifted: boolean; readonly reason: string }>
  readonly summary: ReadonlyArray<ColumnSummary>
  readonly missing: ReadonlyArray<MissingData>
  readonly timings: ReadonlyArray<StepTiming>
  readonly dependencies: DependencyReport
  /** the latest per-feature data drift (new rows against the live model's training data) */
  readonly dataDrift: {
    readonly at: string
    readonly features: ReadonlyArray<{ readonly feature: string; readonly psi: number | null; readonly ksPValue: number | null; readonly missingRateCurrent: number; readonly meanReference: number | null; readonly meanCurrent: number | null; readonly flagged: boolean }>
  } | null
  /** scikit-learn's classification report of the model on the test data */
  readonly classificationReport: ClassificationReport | null
  readonly rocAuc: number | null
  readonly logLoss: number | null
  /** the files in the data set, with when each was ingested (null where the time is not known) */
  readonly ingestedFiles: ReadonlyArray<{ readonly name: string; readonly ingestedAt: string | null }>
}

let pureimage: Promise<PImageModule> | undefined
/** pureimage with the DejaVu fonts registered (its font registry is process-wide) */
const loadPureimage = () =>
  (pureimage ??= import("pureimage").then((PImage) => {
    PImage.registerFont(fontPath(false), "DejaVuSans").loadSync()
    PImage.registerFont(fontPath(true), "DejaVuSansBold").loadSync()
    return PImage
  }))
const loadPdfKit = () => import("pdfkit")

const collect = (write: (sink: PassThrough) => Promise<void> | void) =>
  new Promise<Uint8Array>((resolve, reject) => {
    const sink = new PassThrough()
    const chunks: Array<Buffer> = []
    sink.on("data", (c: Buffer) => chunks.push(c))
    sink.on("end", () => resolve(new Uint8Array(Buffer.concat(chunks))))
    sink.on("error", reject)
    Promise.resolve(write(sink)).catch(reject)
  })

/** Render a 2×2 confusion matrix (rows: actual, columns: predicted) as a PNG. */
export const renderConfusionMatrix = async (cm: ConfusionMatrix, title: string): Promise<Uint8Array> => {
  const PImage = await loadPureimage()
  const W = 520
  const H = 460
  const img = PImage.make(W, H)
  const ctx = img.getContext("2d")
  ctx.fillStyle = "#ffffff"
  ctx.fillRect(0, 0, W, H)
  ctx.fillStyle = "#111111"
  ctx.font = "20pt DejaVuSansBold"
  ctx.fillText(title, 20, 34)
  const max = Math.max(1, cm[0][0], cm[0][1], cm[1][0], cm[1][1])
  const x0 = 160
  const y0 = 90
  const cell = 150
  for (let r = 0; r < 2; r++) {
    for (let c = 0; c < 2; c++) {
      const v = cm[r]![c]!
      const t = v / max
      // white to deep blue
      const shade = (a: number, b: number) => Math.round(a + (b - a) * t)
      ctx.fillStyle = `rgb(${shade(239, 8)},${shade(243, 48)},${shade(255, 107)})`
      ctx.fillRect(x0 + c * cell, y0 + r * cell, cell - 4, cell - 4)
      ctx.fillStyle = t > 0.5 ? "#ffffff" : "#111111"
      ctx.font = "30pt DejaVuSansBold"
      const label = String(v)
      ctx.fillText(label, x0 + c * cell + cell / 2 - 11 * label.length, y0 + r * cell + cell / 2 + 10)
    }
  }
  ctx.fillStyle = "#111111"
  ctx.font = "14pt DejaVuSans"
  ctx.fillText("Predicted", x0 + cell - 40, y0 - 34)
  ctx.fillText("0 (stayed)", x0 + 30, y0 - 10)
  ctx.fillText("1 (exited)", x0 + cell + 30, y0 - 10)
  ctx.fillText("Actual", 20, y0 + cell + 5)
  ctx.fillText("0 (stayed)", 60, y0 + cell / 2)
  ctx.fillText("1 (exited)", 60, y0 + cell + cell / 2)
  return collect((sink) => PImage.encodePNGToStream(img, sink))
}

const fmt = (x: number | null | undefined, digits = 4) => (x === null || x === undefined ? "n/a" : Number(x.toFixed(digits)).toString())

/** Render the performance report as a PDF. */
export const renderReport = async (data: ReportData, confusionPng: Uint8Array): Promise<Uint8Array> => {
  const { default: PDFDocument } = await loadPdfKit()
  return collect((sink) => {
    const doc = new PDFDocument({ size: "A4", margin: 50, info: { Title: "Dynamic Risk Assessment — model report", Author: "drs" } })
    doc.registerFont("body", fontPath(false))
    doc.registerFont("bold", fontPath(true))
    doc.pipe(sink)
    const room = (points: number) => {
      if (doc.y > doc.page.height - doc.page.margins.bottom - points) doc.addPage()
    }
    const h = (text: string) => {
      room(80)
      return doc.moveDown(0.8).font("bold").fontSize(13).text(text).moveDown(0.3).font("body").fontSize(10)
    }
    const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, widths: ReadonlyArray<number>) => {
      const x = doc.page.margins.left
      // each row as tall as its tallest cell: long reasons wrap inside their column
      const line = (cells: ReadonlyArray<string>, font: string) => {
        doc.font(font)
        const height = Math.max(12, ...cells.map((c, i) => doc.heightOfString(c, { width: widths[i]! - 6 })))
        if (doc.y + height > doc.page.height - doc.page.margins.bottom) doc.addPage()
        const y = doc.y
        let cx = x
        cells.forEach((c, i) => {
          doc.text(c, cx, y, { width: widths[i]! - 6 })
          cx += widths[i]!
        })
        doc.x = x
        doc.y = y + height + 3
      }
      room(50)
      line(header, "bold")
      for (const r of rows) line(r, "body")
      doc.font("body")
    }
    doc.font("bold").fontSize(20).text("Dynamic Risk Assessment — model report")
    doc.font("body").fontSize(10).fillColor("#444444")
      .text(`Generated ${data.generatedAt}${data.releaseId ? ` · release ${data.releaseId}` : " · not deployed"}`)
      .fillColor("#000000")

    h("Model")
    table(["", "value"], [
      ["solver", `${data.model.solver} (C = ${data.model.C})`],
      ["features", data.model.features.join(", ")],
      ["coefficients", data.model.coefficients.map((c) => c.toPrecision(6)).join(", ")],
      ["intercept", data.model.intercept.toPrecision(6)],
      ["training rows", String(data.model.trainingRows)],
      ["trained at", data.model.trainedAt],
      ["model sha256", data.modelHash.slice(0, 16)]
    ], [120, 375])

    h("Performance on test data")
    doc.text(`F1 = ${data.testScore} on ${data.testRows} rows`)
    doc.image(Buffer.from(confusionPng), { width: 260 })
    if (data.rocAuc !== null || data.logLoss !== null) {
      doc.text(`ROC AUC = ${data.rocAuc === null ? "n/a (one class only)" : fmt(data.rocAuc)} · log loss = ${fmt(data.logLoss)}`)
    }

    if (data.classificationReport) {
      h("Classification report (test data)")
      const r = data.classificationReport
      const line = (name: string, m: { precision: number; recall: number; f1: number; support: number }) =>
        [name, fmt(m.precision), fmt(m.recall), fmt(m.f1), String(m.support)]
      table(["", "precision", "recall", "f1-score", "support"], [
        ...Object.entries(r.perClass).map(([k, m]) => line(`class ${k}`, m)),
        ["accuracy", "", "", fmt(r.accuracy), String(r.macroAvg.support)],
        line("macro avg", r.macroAvg),
        line("weighted avg", r.weightedAvg)
      ], [115, 95, 95, 95, 95])
    }

    h("Score history (latest 12)")
    table(["when", "purpose", "F1"], data.scoreHistory.slice(-12).map((s) => [s.at, s.purpose, fmt(s.f1)]), [220, 160, 115])

    h("Drift decisions (latest 6)")
    table(["when", "test", "drifted", "reason"], data.drift.slice(-6).map((d) => [d.at.slice(0, 16).replace("T", " "), d.test, d.drifted ? "yes" : "no", d.reason]), [100, 90, 50, 255])

    h("Data drift per feature")
    if (data.dataDrift === null) doc.text("no data-drift check yet: it runs when new files arrive while a model is live")
    else {
      doc.text(`new rows of the run at ${data.dataDrift.at} against the live model's training data`)
      table(["feature", "PSI", "KS p-value", "missing", "mean (ref → new)", "flagged"], data.dataDrift.features.map((f) => [
        f.feature, fmt(f.psi, 3), f.ksPValue === null ? "n/a" : f.ksPValue < 1e-4 ? f.ksPValue.toExponential(2) : fmt(f.ksPValue),
        `${fmt(100 * f.missingRateCurrent, 1)} %`, `${fmt(f.meanReference, 2)} → ${fmt(f.meanCurrent, 2)}`, f.flagged ? "yes" : "no"
      ]), [130, 50, 65, 50, 150, 50])
    }

    h("Summary statistics (the data set)")
    table(["column", "mean", "median", "std", "n"], data.summary.map((s) => [s.column, fmt(s.mean), fmt(s.median), fmt(s.std), String(s.count)]), [160, 90, 90, 90, 65])

    h("Missing data")
    table(["column", "missing", "percent"], data.missing.map((m) => [m.column, String(m.missing), `${fmt(m.percent, 2)} %`]), [200, 150, 145])

    h("Timings")
    table(["step", "ms"], data.timings.map((t) => [t.step, fmt(t.ms, 1)]), [200, 295])

    h("Outdated dependencies")
    if (!data.dependencies.checked) doc.text(`not checked: ${data.dependencies.error ?? "unknown reason"}`)
    else if (data.dependencies.packages.length === 0) doc.text("all dependencies are up to date")
    else table(["package", "current", "wanted", "latest"], data.dependencies.packages.map((p) => [p.name, p.current, p.wanted, p.latest]), [200, 95, 100, 100])

    h("Ingested files")
    table(["file", "ingested at"], data.ingestedFiles.map((f) => [f.name, f.ingestedAt ?? "unknown"]), [295, 200])
    doc.end()
  })
}

export class Reporter extends Effect.Service<Reporter>()("drs/Reporter", {
  effect: Effect.gen(function*() {
    const store = yield* FileStore
    const confusionPng = Effect.fn("Reporter.confusionPng")(function*(cm: ConfusionMatrix, title = "Confusion matrix") {
      return yield* Effect.tryPromise({ try: () => renderConfusionMatrix(cm, title), catch: (e) => new ReportError({ message: `PNG rendering failed: ${String(e)}` }) })
    })
    const pdf = Effect.fn("Reporter.pdf")(function*(data: ReportData, png: Uint8Array) {
      return yield* Effect.tryPromise({ try: () => renderReport(data, png), catch: (e) => new ReportError({ message: `PDF rendering failed: ${String(e)}` }) })
    })
    /** Render both and write them atomically; returns their paths. */
    const write = Effect.fn("Reporter.write")(function*(data: ReportData, pngPath: string, pdfPath: string) {
      // the renderers (fonts, text layout, pixels) make many short-lived objects: the young
      // generation, kept at its first size for the data steps (see main.ts), may grow from
      // here, which saves most of the collections (the data steps' peak is behind)
      yield* Effect.sync(() => setFlagsFromString("--semi-space-growth-factor=2"))
      const png = yield* confusionPng(data.confusionMatrix, `Confusion matrix — F1 ${fmt(data.testScore)}`)
      yield* store.writeAtomic(pngPath, png).pipe(Effect.orDie)
      const bytes = yield* pdf(data, png)
      yield* store.writeAtomic(pdfPath, bytes).pipe(Effect.orDie)
      return { pngPath, pdfPath, pdfBytes: bytes.length }
    })
    return { confusionPng, pdf, write } as const
  })
}) {
  static readonly layerTest = Reporter.Default.pipe(Layer.provideMerge(FileStore.layerMemory()))
}
