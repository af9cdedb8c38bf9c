/**
 * The dashboard's "Production" section: the served traffic, window by window (what the last
 * `monitor` run computed): served volume, the prediction distribution, estimated (CBPE)
 * against realised F1 over time with the threshold, and the drifted features. Server-side
 * SVG: nothing to load.
 */
import type { MonitoringWindow } from "../domain/Monitoring.js"

export interface ProductionData {
  readonly windows: ReadonlyArray<MonitoringWindow>
  /** the live release's test F1 minus estimated_drop_tolerance */
  readonly threshold: number | null
  readonly window: string
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
const num = (x: number | null | undefined, d = 3) => (x === null || x === undefined || !Number.isFinite(x) ? "n/a" : Number(x.toFixed(d)).toString())
const day = (iso: string) => esc(iso.slice(0, 16).replace("T", " "))

/** Estimated and realised F1 per window, and the threshold, as an SVG line chart. */
export const f1Chart = (p: ProductionData, width = 720, height = 220): string => {
  const ws = p.windows
  if (ws.length === 0) return ""
  const left = 36, right = 10, top = 10, bottom = 24
  const xs = (i: number) => left + (ws.length === 1 ? (width - left - right) / 2 : (i * (width - left - right)) / (ws.length - 1))
  const ys = (v: number) => top + (1 - v) * (height - top - bottom)
  const line = (vals: ReadonlyArray<number | null>, cls: string) => {
    const pts = vals.flatMap((v, i) => (v === null ? [] : [`${xs(i).toFixed(1)},${ys(v).toFixed(1)}`]))
    return `<polyline class="${cls}" fill="none" points="${pts.join(" ")}"/>${vals.map((v, i) => (v === null ? "" : `<circle class="${cls}" cx="${xs(i).toFixed(1)}" cy="${ys(v).toFixed(1)}" r="3"><title>${day(ws[i]!.start)}: ${num(v)}</title></circle>`)).join("")}`
  }
  const grid = [0, 0.25, 0.5, 0.75, 1].map((v) => `<line class="grid" x1="${left}" x2="${width - right}" y1="${ys(v)}" y2="${ys(v)}"/><text x="2" y="${ys(v) + 4}">${v}</text>`).join("")
  const threshold = p.threshold === null ? "" : `<line class="threshold" x1="${left}" x2="${width - right}" y1="${ys(p.threshold).toFixed(1)}" y2="${ys(p.threshold).toFixed(1)}"/>`
  return `<svg id="production-chart" viewBox="0 0 ${width} ${height}" style="width:100%;max-width:${width}px;height:auto" role="img" aria-label="estimated and realised F1 per window">
<style>#production-chart text{font-size:10px;fill:#5d6d7e}.grid{stroke:#e5e8e8}.estimated{stroke:#1f4e99;fill:#1f4e99;stroke-width:2}.realised{stroke:#1e8449;fill:#1e8449;stroke-width:2}.threshold{stroke:#b7950b;stroke-dasharray:6 4;stroke-width:1.5}</style>
${grid}${threshold}${line(ws.map((w) => w.estimated.f1), "estimated")}${line(ws.map((w) => w.realised?.f1 ?? null), "realised")}
<text x="${left}" y="${height - 6}">${day(ws[0]!.start)}</text><text x="${width - right - 90}" y="${height - 6}">${day(ws[ws.length - 1]!.start)}</text></svg>`
}

export const productionSection = (p: ProductionData | null): string => {
  if (p === null || p.windows.length === 0) {
    return `<section id="production"><h2>Production</h2><p class="empty" id="production-empty">No served traffic monitored yet: the prediction log fills as <code>/prediction</code> is called, and <code>monitor</code> (or <code>fullprocess</code>) computes its windows.</p></section>`
  }
  const maxRows = Math.max(...p.windows.map((w) => w.rows))
  const rows = [...p.windows].reverse().slice(0, 60).map((w) => {
    const pred = w.drift.find((d) => d.kind === "prediction")
    const drifted = w.drift.filter((d) => d.flagged && d.kind !== "prediction").map((d) => d.feature)
    const below = p.threshold !== null && w.estimated.f1 < p.threshold
    return `<tr><td>${day(w.start)}</td><td><code>${esc(w.releaseId)}</code></td>
<td><span class="bar" style="width:${Math.max(2, Math.round((60 * w.rows) / maxRows))}px"></span> ${w.rows}</td><td>${w.labelled}</td>
<td class="${below ? "bad" : ""}">${num(w.estimated.f1)}</td><td>${w.realised ? num(w.realised.f1) : "—"}</td>
<td>${pred ? `${num(pred.meanCurrent)} <span class="muted">(training ${num(pred.meanReference)}, PSI ${num(pred.psi)})</span>${pred.flagged ? ` <span class="bad">drifted</span>` : ""}` : "n/a"}</td>
<td class="${drifted.length > 0 ? "bad" : ""}">${drifted.length > 0 ? esc(drifted.join(", ")) : "none"}</td></tr>`
  })
  return `<section id="production"><h2>Production <span class="muted">(served traffic, windows of ${esc(p.window)})</span></h2>
<div class="scroll">${f1Chart(p)}</div>
<p class="legend"><span class="key estimated-key">● estimated F1 (CBPE)</span> <span class="key realised-key">● realised F1 (labelled rows)</span> <span class="key threshold-key">- - threshold${p.threshold !== null ? ` ${num(p.threshold)}` : ""}</span></p>
<div class="scroll"><table id="production-table"><thead><tr><th>window</th><th>release</th><th>served</th><th>labelled</th><th>estimated F1</th><th>realised F1</th><th>mean probability</th><th>drifted features</th></tr></thead><tbody>
${rows.join("\n")}</tbody></table></div>
<style>.bar{display:inline-block;height:.7em;background:#85a9d6;vertical-align:middle}.estimated-key{color:#1f4e99}.realised-key{color:#1e8449}</style></section>`
}
