/** Reporter: the confusion-matrix PNG and the PDF performance report. */
import type { MonitoringWindow } from "../domain/Monitoring.js"
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
  /** the class labels as the data writes them, [negative, positive] */
  readonly labels?: readonly [string, string]
  readonly scoreHistory: ReadonlyArray<{ readonly at: string; readonly f1: number; readonly purpose: string }>
  readonly drift: ReadonlyArray<{ readonly at: string; readonly test: string; readonly drifted: boolean; readonly reason: string }>
  readonly summary: ReadonlyArray<ColumnSummary>
  readonly missing: ReadonlyArray<MissingData>
  readonly timings: ReadonlyArray<StepTiming>
  readonly dependencies: DependencyReport
  /** the latest per-feature data drift (new rows against the live model's training data) */
  readonly dataDrift: {
    readonly at: string
    readonly features: ReadonlyArray<{ readonly feature: string; readonly psi: number | null; readonly ksPValue: number | null; readonly chiSquarePValue?: number | null | undefined; readonly missingRateCurrent: number; readonly meanReference: number | null; readonly meanCurrent: number | null; readonly flagged: boolean }>
  } | null
  /** each feature's mean |contribution| to the log-odds on the test data (global importance) */
  readonly importance?: ReadonlyArray<{ readonly feature: string; readonly importance: number }> | undefined
  /** scikit-learn's classification report of the model on the test data */
  readonly classificationReport: ClassificationReport | null
  readonly rocAuc: number | null
  readonly logLoss: number | null
  /** the files in the data set, with when each was ingested (null where the time is not known) */
  readonly ingestedFiles: ReadonlyArray<{ readonly name: string; readonly ingestedAt: string | null }>
  /** the served traffic's windows (the last monitor run), for the Production section */
  readonly production?: { readonly windows: ReadonlyArray<MonitoringWindow>; readonly threshold: number | null; readonly window: string } | null
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
export const renderConfusionMatrix = async (cm: ConfusionMatrix, title: string, labels: readonly [string, string] = ["0", "1"]): Promise<Uint8Array> => {
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
  // the classes as the data names them, cut to fit a cell
  const [negative, positive] = labels.map((l) => (l.length > 14 ? `${l.slice(0, 13)}…` : l))
  ctx.fillText(negative!, x0 + 30, y0 - 10)
  ctx.fillText(positive!, x0 + cell + 30, y0 - 10)
  ctx.fillText("Actual", 20, y0 + cell + 5)
  ctx.fillText(negative!, 60, y0 + cell / 2)
  ctx.fillText(positive!, 60, y0 + cell + cell / 2)
  return collect((sink) => PImage.encodePNGToStream(img, sink))
}

const fmt = (x: number | null | undefined, digits = 4) => (x === null || x === undefined ? "n/a" : Number(x.toFixed(digits)).toString())
const pValue = (p: number | null) => (p === null ? "n/a" : p < 1e-4 ? p.toExponential(2) : fmt(p))

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
    const m = data.model
    table(["", "value"], [
      ...(m.format === "drs-gradient-boosting/1"
        ? [
          ["learner", `gradient-boosted trees (${m.booster.iterations} trees, learning rate ${m.booster.settings.learning_rate})`],
          ["early stopping", m.booster.early_stopping.enabled
            ? `on ${m.booster.early_stopping.validation_rows} validation rows${m.booster.early_stopping.stopped_early ? ", stopped early" : ""}; final validation loss ${fmt(m.booster.early_stopping.validation_loss.at(-1) ?? null)}`
            : "off"],
          ["features", m.features.join(", ")],
          ["baseline log-odds", m.booster.baseline.toPrecision(6)]
        ]
        : [
          ["learner", `logistic regression, ${m.solver} (C = ${m.C})`],
          ["features", m.features.join(", ")],
          ["coefficients", (m.columns ?? m.features).map((c, j) => `${c} ${m.coefficients[j]!.toPrecision(4)}`).slice(0, 40).join(", ")],
          ["intercept", m.intercept.toPrecision(6)]
        ]),
      ...(m.selection
        ? [["learner auto", `${m.selection.candidates.map((c) => `${c.learner} F1 ${fmt(c.f1)}, ROC AUC ${fmt(c.rocAuc)}`).join("; ")} on ${m.selection.validationRows} validation rows; kept ${m.selection.chosen}`]]
        : []),
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

    if ((data.importance ?? []).length > 0) {
      h("Feature importance (mean |contribution to the log-odds| on the test data)")
      const rows = [...data.importance!].sort((a, b) => b.importance - a.importance)
      const top = Math.max(...rows.map((r) => r.importance), 1e-12)
      const x0 = doc.page.margins.left
      for (const r of rows) {
        if (doc.y > doc.page.height - doc.page.margins.bottom - 20) doc.addPage()
        const y = doc.y
        doc.fontSize(9).fillColor("#000000").text(r.feature.length > 24 ? `${r.feature.slice(0, 23)}…` : r.feature, x0, y, { width: 130, lineBreak: false })
        doc.rect(x0 + 135, y + 1, Math.max(1, 280 * r.importance / top), 9).fill("#3b6fd8")
        doc.fillColor("#000000").text(fmt(r.importance), x0 + 425, y, { width: 70, lineBreak: false })
        doc.x = x0
        doc.y = y + 14
      }
      doc.fontSize(10)
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
      table(["feature", "PSI", "p (KS; χ²)", "missing", "mean (ref → new)", "flagged"], data.dataDrift.features.map((f) => [
        f.feature, fmt(f.psi, 3), pValue(f.ksPValue ?? f.chiSquarePValue ?? null),
        `${fmt(100 * f.missingRateCurrent, 1)} %`, `${fmt(f.meanReference, 2)} → ${fmt(f.meanCurrent, 2)}`, f.flagged ? "yes" : "no"
      ]), [130, 50, 65, 50, 150, 50])
    }

    h("Production (served traffic)")
    const prod = data.production ?? null
    if (prod === null || prod.windows.length === 0) doc.text("no served traffic monitored yet: the prediction log fills as /prediction is called, and monitor computes its windows")
    else {
      doc.text(`windows of ${prod.window}; estimated F1 by CBPE from calibrated probabilities, realised F1 on the labelled rows${prod.threshold !== null ? `; threshold (live test F1 − tolerance) ${fmt(prod.threshold)}` : ""}`)
      table(["window", "served", "labelled", "est. F1", "real. F1", "mean p (train → served)", "drifted features"], prod.windows.slice(-20).map((w) => {
        const p = w.drift.find((d) => d.kind === "prediction")
        const drifted = w.drift.filter((d) => d.flagged && d.kind !== "prediction").map((d) => d.feature)
        return [
          w.start.slice(0, 16).replace("T", " "), String(w.rows), String(w.labelled),
          `${fmt(w.estimated.f1)}${prod.threshold !== null && w.estimated.f1 < prod.threshold ? " ▼" : ""}`, w.realised ? fmt(w.realised.f1) : "—",
          p ? `${fmt(p.meanReference, 3)} → ${fmt(p.meanCurrent, 3)}${p.flagged ? " (drifted)" : ""}` : "n/a", drifted.join(", ") || "none"
        ]
      }), [85, 45, 45, 50, 50, 110, 110])
    }

    h("Summary statistics (the data set)")
    table(["column", "mean", "median", "std", "n"], data.summary.filter((s) => s.top === undefined).map((s) => [s.column, fmt(s.mean), fmt(s.median), fmt(s.std), String(s.count)]), [160, 90, 90, 90, 65])
    const categorical = data.summary.filter((s) => s.top !== undefined)
    if (categorical.length > 0) {
      h("Categorical features")
      table(["column", "n", "categories", "most frequent (share)", "missing"], categorical.map((s) => [
        s.column, String(s.count), String(s.distinct ?? 0), (s.top ?? []).slice(0, 3).map((t) => `${t.category} ${fmt(100 * t.share, 1)}%`).join(", "),
        `${fmt(100 * (s.missingRate ?? 0), 2)} %`
      ]), [110, 55, 65, 215, 50])
    }

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
    const confusionPng = Effect.fn("Reporter.confusionPng")(function*(cm: ConfusionMatrix, title = "Confusion matrix", labels?: readonly [string, string]) {
      return yield* Effect.tryPromise({ try: () => renderConfusionMatrix(cm, title, labels), catch: (e) => new ReportError({ message: `PNG rendering failed: ${String(e)}` }) })
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
      const png = yield* confusionPng(data.confusionMatrix, `Confusion matrix — F1 ${fmt(data.testScore)}`, data.labels)
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
