/** The monitoring page at `/`: server-rendered HTML with an inline SVG score chart. */
import type { ColumnSummary } from "../domain/Schemas.js"
import type { DriftRow, IngestedFile, ScoreRow } from "../services/Tracking.js"

export interface MonitorData {
  readonly releaseId: string | null
  readonly deployedF1: number | null
  readonly scores: ReadonlyArray<ScoreRow>
  readonly drift: DriftRow | null
  readonly summary: ReadonlyArray<ColumnSummary>
  readonly ingested: ReadonlyArray<IngestedFile>
  readonly hasReport: boolean
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
const num = (x: number | null, d = 4) => (x === null ? "n/a" : Number(x.toFixed(d)).toString())

export const scoreChart = (scores: ReadonlyArray<ScoreRow>): string => {
  const W = 640, H = 220, P = 36
  if (scores.length === 0) return `<p id="no-scores">No scores recorded yet.</p>`
  const x = (i: number) => P + (scores.length === 1 ? (W - 2 * P) / 2 : (i * (W - 2 * P)) / (scores.length - 1))
  const y = (f: number) => H - P - f * (H - 2 * P)
  const pts = scores.map((s, i) => `${x(i).toFixed(1)},${y(s.f1).toFixed(1)}`).join(" ")
  const dots = scores.map((s, i) =>
    `<circle class="point" cx="${x(i).toFixed(1)}" cy="${y(s.f1).toFixed(1)}" r="4" fill="${s.purpose === "drift-check" ? "#c0392b" : "#1f4e99"}"><title>${esc(s.scoredAt)} ${esc(s.purpose)} F1 ${num(s.f1)}</title></circle>`).join("")
  const grid = [0, 0.25, 0.5, 0.75, 1].map((g) =>
    `<line x1="${P}" x2="${W - P}" y1="${y(g)}" y2="${y(g)}" stroke="#ddd"/><text x="4" y="${y(g) + 4}" font-size="11">${g}</text>`).join("")
  const first = scores[0]!.scoredAt.slice(0, 16).replace("T", " ")
  const last = scores[scores.length - 1]!.scoredAt.slice(0, 16).replace("T", " ")
  const axis = `<text x="${P}" y="${H - 8}" font-size="11">${esc(first)}</text><text x="${W - P}" y="${H - 8}" font-size="11" text-anchor="end">${esc(last)}</text>`
  const legend = `<circle cx="${P + 6}" cy="12" r="4" fill="#1f4e99"/><text x="${P + 14}" y="16" font-size="11">F1 on test data (training, deployment)</text>` +
    `<circle cx="${P + 246}" cy="12" r="4" fill="#c0392b"/><text x="${P + 254}" y="16" font-size="11">deployed model on new data (drift check)</text>`
  return `<svg id="score-chart" role="img" aria-label="F1 score history" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${grid}${axis}${legend}<polyline fill="none" stroke="#1f4e99" stroke-width="2" points="${pts}"/>${dots}</svg>`
}

export const renderMonitor = (d: MonitorData): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>DRS monitor</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#111;max-width:60rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}
.drifted{color:#c0392b;font-weight:bold}.stable{color:#1e7e34;font-weight:bold}
</style></head><body>
<h1>Dynamic Risk Assessment</h1>
<section id="deployment"><h2>Deployed model</h2>
<p>${d.releaseId ? `Release <code id="release">${esc(d.releaseId)}</code>, F1 on test data <strong id="deployed-f1">${num(d.deployedF1)}</strong>` : `<span id="release">Nothing deployed yet.</span>`}</p>
<p>${d.hasReport ? `<a id="report-link" href="/download">Download the PDF report</a>` : "No report yet."} · <a href="/docs">API docs</a> · <a href="/metrics">metrics</a></p></section>
<section id="scores"><h2>Score history</h2>${scoreChart(d.scores)}</section>
<section id="drift"><h2>Drift</h2>${d.drift
  ? `<p>Latest decision (${esc(d.drift.decidedAt)}, ${esc(d.drift.test)} test): <span id="drift-status" class="${d.drift.drifted ? "drifted" : "stable"}">${d.drift.drifted ? "drifted" : "no drift"}</span></p><p id="drift-reason">${esc(d.drift.reason)}</p>`
  : `<p id="drift-status">No drift check has run yet.</p>`}</section>
<section id="summary"><h2>Summary statistics</h2>
<table><thead><tr><th>column</th><th>mean</th><th>median</th><th>std</th><th>n</th></tr></thead><tbody>
${d.summary.map((s) => `<tr><td>${esc(s.column)}</td><td>${num(s.mean)}</td><td>${num(s.median)}</td><td>${num(s.std)}</td><td>${s.count}</td></tr>`).join("\n")}
</tbody></table></section>
<section id="ingested"><h2>Ingested files</h2><ul>
${d.ingested.map((f) => `<li><code>${esc(f.fileName)}</code> — ${f.rows} rows, ${esc(f.ingestedAt)}</li>`).join("\n")}
</ul></section>
</body></html>
`
