/**
 * The monitoring dashboard at `/`: server-rendered HTML, a uPlot chart served by the app
 * itself (/assets), and a little script that draws the chart, activates releases with the
 * bearer token and refreshes the page's content every 30 s.
 */
import * as NodeCrypto from "node:crypto"
import type { DashboardData } from "./DashboardData.js"
import { productionSection } from "./DashboardProduction.js"

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
const num = (x: number | null | undefined, d = 4) => (x === null || x === undefined || !Number.isFinite(x) ? "n/a" : Number(x.toFixed(d)).toString())
const when = (iso: string | null) => (iso ? esc(iso.slice(0, 19).replace("T", " ")) : "—")

/** "3 min ago", from two ISO times */
export const age = (iso: string, now: string) => {
  const s = Math.max(0, (Date.parse(now) - Date.parse(iso)) / 1000)
  if (s < 90) return `${Math.round(s)} s ago`
  if (s < 5400) return `${Math.round(s / 60)} min ago`
  if (s < 172800) return `${Math.round(s / 3600)} h ago`
  return `${Math.round(s / 86400)} days ago`
}

const duration = (ms: number | null) => (ms === null ? "running" : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`)

const table = (id: string, head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, empty: string) =>
  rows.length === 0
    ? `<p class="empty" id="${id}-empty">${esc(empty)}</p>`
    : `<div class="scroll"><table id="${id}"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows.map((r) => `<tr>${r.join("")}</tr>`).join("")}</tbody></table></div>`

const td = (s: string, cls = "") => `<td${cls ? ` class="${cls}"` : ""}>${s}</td>`

const statusStrip = (d: DashboardData) => {
  const drift = d.drift
  const state = drift?.state ?? "unknown"
  const word = state === "drifted" ? "drifted" : state === "stable" ? "no drift" : "not checked yet"
  return `<section id="status" class="strip">
<div class="card"><h2>Live release</h2>${d.live
    ? `<p><code id="live-release">${esc(d.live.releaseId)}</code></p><p>F1 on test data <strong id="live-f1">${num(d.live.f1)}</strong></p><p class="muted">deployed ${when(d.live.deployedAt)}</p>`
    : `<p id="live-release">${d.liveProblem ? `<span class="bad">${esc(d.liveProblem)}</span>` : "Nothing deployed yet."}</p>`}</div>
<div class="card"><h2>Last run</h2>${d.lastRun
    ? `<p><strong id="last-run-outcome">${esc(d.lastRun.outcome)}</strong> <span class="muted" id="last-run-age">${age(d.lastRun.startedAt, d.generatedAt)}</span></p><p class="reason">${esc(d.lastRun.reason)}</p>`
    : `<p id="last-run-outcome">No run yet.</p>`}</div>
<div class="card"><h2>Drift</h2><p><span id="drift-state" class="pill ${state}" role="status">${state === "drifted" ? "▲" : state === "stable" ? "●" : "○"} ${word}</span></p>${drift
    ? `<p class="reason" id="drift-reason">${esc(drift.reason)}</p><p class="muted">${esc(drift.test)} test, ${when(drift.decidedAt)}</p>`
    : ""}</div>
</section>`
}

const chart = (d: DashboardData) => {
  const points = d.scores.map((s) => ({ t: Date.parse(s.at) / 1000, f1: s.f1, kind: s.kind }))
  const payload = {
    points,
    threshold: d.threshold,
    events: d.events.map((e) => ({ t: Date.parse(e.at) / 1000, kind: e.kind, label: e.label }))
  }
  return `<section id="history"><h2>Score history</h2>
${points.length === 0 ? `<p class="empty" id="no-scores">No scores recorded yet.</p>` : `<div id="score-chart" role="img" aria-label="F1 score history with the drift threshold and lifecycle events"></div>`}
<p class="legend"><span class="key deployed-key">● deployed (test data)</span> <span class="key check-key">● drift check</span>${d.threshold ? ` <span class="key threshold-key" id="threshold-label">— threshold ${num(d.threshold.value)}: ${esc(d.threshold.label)} (${esc(d.threshold.test)})</span>` : ""}</p>
${table("events", ["when", "event", "what"], d.events.slice(-12).reverse().map((e) => [td(when(e.at)), td(`<span class="ev ${e.kind}">${esc(e.kind)}</span>`), td(esc(e.label))]), "No deployments yet.")}
<script type="application/json" id="chart-data">${JSON.stringify(payload).replace(/</g, "\\u003c")}</script>
</section>`
}

const dataDrift = (d: DashboardData) => `<section id="data-drift"><h2>Data drift per feature</h2>${d.dataDrift
  ? `<p class="muted">new rows of the latest run against the live model's training data, ${when(d.dataDrift.at)}</p>` +
    table("data-drift-table", ["feature", "PSI", "p-value (KS; χ² for categories)", "flagged"], d.dataDrift.features.map((f) => [
      td(esc(f.feature)), td(num(f.psi, 3)), td(f.ksPValue === null ? "n/a" : f.ksPValue < 1e-4 ? f.ksPValue.toExponential(2) : num(f.ksPValue, 4)),
      td(f.flagged ? `<span class="pill drifted">▲ flagged</span> <span class="muted">${esc(f.reasons.join(", "))}</span>` : `<span class="pill stable">● ok</span>`)
    ]), "")
  : `<p class="empty" id="data-drift-empty">No data-drift check yet: it runs when new files arrive while a model is live.</p>`}</section>`

const releases = (d: DashboardData) => `<section id="releases"><h2>Releases</h2>${table("releases-table", ["release", "deployed", "F1", "data", ""], d.releases.map((r) => [
  td(`<code>${esc(r.id)}</code>`), td(when(r.at)), td(num(r.f1)), td(`<code>${esc((r.dataHash ?? "").slice(0, 12))}</code>`),
  td(r.live ? `<span class="pill stable">● live</span>` : `<button type="button" class="activate" data-release="${esc(r.id)}">activate</button>`)
]), "No releases yet.")}<p id="activate-result" role="status" class="muted"></p></section>`

const runs = (d: DashboardData) => `<section id="runs"><h2>Runs <span class="muted">(last ${d.runs.length})</span></h2>${table("runs-table", ["#", "started", "command", "outcome", "reason", "duration", "rows"], d.runs.map((r) => [
  td(String(r.id)), td(when(r.startedAt)), td(esc(r.command)), td(`<span class="outcome ${esc(r.outcome)}">${esc(r.outcome)}</span>`),
  td(esc(r.reason), "reason"), td(duration(r.durationMs)), td(r.rows === null ? "" : String(r.rows))
]), "No runs yet.")}</section>`

const schedule = (d: DashboardData) => d.schedule.length === 0 ? "" : `<section id="schedule"><h2>Schedule <span class="muted">(cluster workers, last ${d.schedule.length} ticks)</span></h2>${table("schedule-table", ["tick", "worker", "outcome", "run", "duration"], d.schedule.map((t) => [
  td(when(t.tick)), td(`<code>${esc(t.worker)}</code>`), td(`<span class="outcome ${esc(t.outcome ?? "running")}">${esc(t.outcome ?? "running")}</span>`),
  td(t.runId === null ? "" : String(t.runId)), td(duration(t.durationMs))
]), "")}</section>`

const rejected = (d: DashboardData) => `<section id="rejected"><h2>Rejected files</h2>${table("rejected-table", ["file", "when", "reason"], d.rejected.map((f) => [
  td(`<code>${esc(f.fileName)}</code>`), td(when(f.at)), td(esc(f.reason), "reason")
]), "No file has been rejected.")}</section>`

const ingested = (d: DashboardData) => `<section id="ingested"><h2>Ingested files</h2>${table("ingested-table", ["file", "ingested", "rows"], d.ingested.map((f) => [
  td(`<code>${esc(f.fileName)}</code>`), td(when(f.at)), td(String(f.rows))
]), "Nothing ingested yet.")}</section>`

const report = (d: DashboardData) => {
  const r = d.classificationReport
  const row = (name: string, m: { precision: number; recall: number; f1: number; support: number }) => [td(esc(name)), td(num(m.precision)), td(num(m.recall)), td(num(m.f1)), td(String(m.support))]
  return `<section id="classification"><h2>Classification report <span class="muted">(live release, test data)</span></h2>${r
    ? table("classification-table", ["", "precision", "recall", "f1-score", "support"], [
      ...Object.entries(r.perClass).map(([k, m]) => row(`class ${k}`, m)),
      [td("accuracy"), td(""), td(""), td(num(r.accuracy)), td(String(r.macroAvg.support))],
      row("macro avg", r.macroAvg),
      row("weighted avg", r.weightedAvg)
    ], "")
    : `<p class="empty">No live release to report on.</p>`}${importance(d)}</section>`
}

/** The live model's global importance as bars, and with learner "auto" the candidates it was chosen from. */
const importance = (d: DashboardData) => {
  if (d.importance.length === 0) return ""
  const top = Math.max(...d.importance.map((f) => f.importance), 1e-12)
  const bars = [...d.importance].sort((a, b) => b.importance - a.importance).map((f) =>
    // a <meter> draws the bar: no style attribute (the CSP allows none)
    `<div class="bar-row"><span class="bar-label">${esc(f.feature)}</span><meter class="bar" min="0" max="${top}" value="${f.importance}"></meter><span class="bar-value">${num(f.importance, 4)}</span></div>`
  ).join("")
  const selection = d.selection
    ? `<p class="muted" id="learner-selection">learner auto: ${d.selection.candidates.map((c) => `${esc(c.learner)} F1 ${num(c.f1, 4)}`).join(", ")} on ${d.selection.validationRows} validation rows; kept <strong>${esc(d.selection.chosen)}</strong></p>`
    : ""
  return `<h3>Feature importance <span class="muted">(mean |contribution to the log-odds| on the test data)</span></h3><div id="importance-chart">${bars}</div>${selection}`
}

const data = (d: DashboardData) => `<section id="data"><h2>Data</h2><div class="two">
<div><h3>Summary statistics</h3>${table("summary-table", ["column", "mean", "median", "std", "n"], d.summary.filter((s) => s.top === undefined).map((s) => [td(esc(s.column)), td(num(s.mean)), td(num(s.median)), td(num(s.std)), td(String(s.count))]), "No data ingested yet.")}${
  d.summary.some((s) => s.top !== undefined)
    ? `<h3>Categorical features</h3>${table("categories-table", ["column", "n", "categories", "most frequent", "missing %"], d.summary.filter((s) => s.top !== undefined).map((s) => [
      td(esc(s.column)), td(String(s.count)), td(String(s.distinct ?? 0)),
      `<td>${(s.top ?? []).map((t) => `${esc(t.category)} ${num(100 * t.share, 1)}%`).join(", ")}</td>`, td(num(100 * (s.missingRate ?? 0), 2))
    ]), "")}`
    : ""}</div>
<div><h3>Missing data</h3>${table("missing-table", ["column", "missing", "%"], d.missing.map((m) => [td(esc(m.column)), td(String(m.missing)), td(num(m.percent, 2))]), "No data ingested yet.")}</div>
</div></section>`

const STYLE = `
.bar-row{display:grid;grid-template-columns:10em 1fr 5em;gap:.5em;align-items:center;margin:.15em 0}.bar-label{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.bar{display:block;width:100%;height:.9em}.bar-value{text-align:right;font-variant-numeric:tabular-nums}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#17202a;background:#f4f6f8}
header{background:#17324d;color:#fff;padding:.8rem 1.2rem;display:flex;flex-wrap:wrap;gap:.6rem 1.4rem;align-items:baseline}
header h1{font-size:1.25rem;margin:0}header a{color:#cfe3ff}header .muted{color:#b8c7d6}
main{max-width:1360px;margin:0 auto;padding:1rem}section{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:.8rem 1rem;margin:0 0 1rem}
h2{font-size:1.05rem;margin:.1rem 0 .6rem}h3{font-size:.95rem;margin:.2rem 0 .4rem}
.strip{display:grid;grid-template-columns:repeat(auto-fit,minmax(240px,1fr));gap:1rem;background:none;border:none;padding:0}
.card{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:.8rem 1rem}.card p{margin:.25rem 0}
.muted{color:#5d6d7e;font-size:.9em}.reason{color:#34495e;font-size:.9em;overflow-wrap:anywhere}.bad{color:#b03a2e}
.pill{display:inline-block;border-radius:999px;padding:.1rem .6rem;font-weight:600;font-size:.9em;border:1px solid}
.pill.drifted{background:#fdecea;color:#a93226;border-color:#e6b0aa}.pill.stable{background:#e9f7ef;color:#1e8449;border-color:#a9dfbf}.pill.unknown{background:#f2f3f4;color:#5d6d7e;border-color:#d5d8dc}
.scroll{overflow-x:auto;max-width:100%}table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #e5e8e8;padding:.3rem .5rem;text-align:left;vertical-align:top;white-space:nowrap}
td.reason{white-space:normal;min-width:16rem}th{font-size:.85em;color:#5d6d7e}
.two{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:1rem}
#score-chart{width:100%;min-height:260px}.legend{font-size:.9em}.key{margin-right:1rem}.deployed-key{color:#1f4e99}.check-key{color:#c0392b}.threshold-key{color:#7d6608}
.ev{font-weight:600}.ev.deployed{color:#1e8449}.ev.gate-refused{color:#a93226}.ev.rolled-back{color:#7d3c98}
.outcome.failed{color:#a93226;font-weight:600}.outcome.redeployed{color:#1e8449;font-weight:600}.outcome.gate-refused{color:#a93226}
button.activate{font:inherit;padding:.15rem .6rem;border:1px solid #17324d;border-radius:4px;background:#fff;color:#17324d;cursor:pointer}
button.activate:hover{background:#17324d;color:#fff}code{font-size:.9em;overflow-wrap:anywhere}
@media (max-width:600px){main{padding:.5rem}section{padding:.6rem}header{padding:.6rem}}
`

/** The client: draws the chart with uPlot, activates releases, and refreshes the content. */
const SCRIPT = `
(function(){
  var COLORS={deployed:"#1e8449","gate-refused":"#a93226","rolled-back":"#7d3c98"};
  function draw(){
    var el=document.getElementById("score-chart"), raw=document.getElementById("chart-data");
    if(!el||!raw||typeof uPlot==="undefined")return;
    var d=JSON.parse(raw.textContent), pts=d.points;
    var xs=[],dep=[],chk=[],thr=[];
    // the events' times join the x axis, so every marker falls inside the plot
    var rows=pts.map(function(p){return {t:p.t,p:p};}).concat(d.events.map(function(e){return {t:e.t,p:null};}));
    rows.sort(function(a,b){return a.t-b.t;});
    rows.forEach(function(r){var p=r.p;xs.push(r.t);var isDep=p&&p.kind.indexOf("deployed")===0;dep.push(p&&isDep?p.f1:null);chk.push(p&&!isDep?p.f1:null);thr.push(d.threshold?d.threshold.value:null);});
    if(xs.length===1){xs.push(xs[0]+60);dep.push(null);chk.push(null);thr.push(thr[0]);}
    el.innerHTML="";
    var opts={width:Math.max(280,el.clientWidth),height:260,legend:{show:false},
      // a history of one point (or of points seconds apart) still gets a readable time axis
      scales:{x:(xs[xs.length-1]-xs[0]<120?{time:true,range:[xs[0]-120,xs[xs.length-1]+120]}:{time:true}),y:{range:[0,1]}},
      series:[{},{label:"deployed (test data)",stroke:"#1f4e99",points:{show:true,size:7},spanGaps:true},
        {label:"drift check",stroke:"#c0392b",points:{show:true,size:7},spanGaps:true},
        {label:"threshold",stroke:"#b7950b",dash:[6,4],points:{show:false}}],
      hooks:{draw:[function(u){var ctx=u.ctx;d.events.forEach(function(e){var x=u.valToPos(e.t,"x",true);
        if(x<u.bbox.left||x>u.bbox.left+u.bbox.width)return;ctx.save();ctx.strokeStyle=COLORS[e.kind]||"#555";ctx.lineWidth=2;ctx.setLineDash(e.kind==="deployed"?[]:[4,3]);
        ctx.beginPath();ctx.moveTo(x,u.bbox.top);ctx.lineTo(x,u.bbox.top+u.bbox.height);ctx.stroke();ctx.restore();});}]}};
    new uPlot(opts,[xs,dep,chk,thr],el);
  }
  function wire(){
    draw();
    document.querySelectorAll("button.activate").forEach(function(b){b.addEventListener("click",function(){
      var id=b.getAttribute("data-release"), out=document.getElementById("activate-result");
      var token=sessionStorage.getItem("drs-token")||window.prompt("Bearer token to activate release "+id+":");
      if(!token){out.textContent="Activation cancelled: no token.";return;}
      fetch("/releases/"+encodeURIComponent(id)+"/activate",{method:"POST",headers:{"content-type":"application/json","authorization":"Bearer "+token},body:JSON.stringify({reason:"activated from the dashboard"})})
        .then(function(r){return r.json().then(function(j){return {ok:r.ok,status:r.status,body:j};});})
        .then(function(r){
          if(r.ok){sessionStorage.setItem("drs-token",token);out.textContent="Release "+r.body.releaseId+" is live (was "+(r.body.previous||"nothing")+").";refresh();}
          else{if(r.status===401)sessionStorage.removeItem("drs-token");out.textContent="Activation failed ("+r.status+"): "+(r.body.message||"");}
        },function(e){out.textContent="Activation failed: "+e;});
    });});
  }
  function refresh(){
    var keep=window.scrollY, note=document.getElementById("activate-result"), msg=note?note.textContent:"";
    fetch(location.pathname,{headers:{accept:"text/html"}}).then(function(r){return r.text();}).then(function(html){
      var doc=new DOMParser().parseFromString(html,"text/html"), next=doc.querySelector("main");
      if(!next)return;document.querySelector("main").replaceWith(next);
      var n=document.getElementById("activate-result");if(n&&msg)n.textContent=msg;
      var g=doc.getElementById("generated");if(g)document.getElementById("generated").textContent=g.textContent;
      wire();window.scrollTo(0,keep);
    }).catch(function(){});
  }
  wire();
  setInterval(refresh,30000);
  var t;window.addEventListener("resize",function(){clearTimeout(t);t=setTimeout(draw,150);});
})();
`

export const renderDashboard = (d: DashboardData): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>DRS monitor</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/assets/uplot.css">
<style>${STYLE}</style></head><body>
<header><h1>Dynamic Risk Assessment</h1>
<span>${d.hasReport ? `<a id="report-link" href="/download">PDF report</a>` : `<span class="muted">no report yet</span>`} · <a href="/docs">API docs</a> · <a href="/metrics">metrics</a></span>
<span class="muted">updated <span id="generated">${when(d.generatedAt)}</span> UTC, refreshes every 30 s</span></header>
<main>
${statusStrip(d)}
${chart(d)}
${dataDrift(d)}
${productionSection(d.production ?? null)}
${releases(d)}
${report(d)}
${runs(d)}
${schedule(d)}
${rejected(d)}
${ingested(d)}
${data(d)}
</main>
<script src="/assets/uplot.js"></script>
<script src="/assets/dashboard.js"></script>
</body></html>
`

/** The client script, served as /assets/dashboard.js: the page runs no inline script. */
export const DASHBOARD_SCRIPT = SCRIPT

/**
 * The dashboard's headers: scripts only from the app itself, its one inline style by hash, no
 * framing (it keeps the bearer token in sessionStorage), no referrer.
 */
export const dashboardHeaders: Readonly<Record<string, string>> = {
  "content-security-policy": [
    "default-src 'none'", "script-src 'self'", `style-src 'self' 'sha256-${NodeCrypto.createHash("sha256").update(STYLE).digest("base64")}'`,
    "img-src 'self' data:", "connect-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"
  ].join("; "),
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY"
}
