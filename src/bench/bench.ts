/**
 * `npm run bench`: this system against the original Python one (pandas, scikit-learn, Flask
 * under gunicorn), side by side in one run on the same machine, printed as ratios with the
 * targets. The machine is shared and noisy: short measurements alternate and take medians.
 *
 *   node dist/bench/bench.js [--quick]     --quick skips the 10M-row ingestion and fullprocess
 *                            [--serve]     only start-up and HTTP
 *                            [--serve-rounds N]  alternating rounds of the HTTP side by side (default 3)
 *                            [--e2e]       only the end-to-end fullprocess rows (with --quick: 1M only;
 *                                          with --e2e-10m: 10M only)
 *                            [--rows50m]   also ingest and train 50M rows (peak RSS against 4 GiB)
 *                            [--real]      only the real-table rows (categories, text labels; both learners)
 *                            [--learner gradient-boosting]  the trees' drift path at 10M rows too
 */
import { spawn, spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import { type Load, load, measure, median, startServer, wall } from "./Measure.js"

const ROOT = NodePath.resolve(NodePath.dirname(fileURLToPath(import.meta.url)), "..", "..")
const MAIN = NodePath.join(ROOT, "dist", "main.js")
const PY_BENCH = process.env.DRS_SHARED_BENCH ?? NodePath.resolve(ROOT, "..", "shared", "bench")
const PY = "/usr/bin/python3"
const argv = process.argv.slice(2)
const args = new Set(argv)
const learner = argv.includes("--learner") ? argv[argv.indexOf("--learner") + 1] : undefined
const serveRounds = argv.includes("--serve-rounds") ? Math.max(1, Number(argv[argv.indexOf("--serve-rounds") + 1])) : 3
const work = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "drs-bench-"))
const node = process.execPath

const say = (s: string) => process.stderr.write(`${s}\n`)

const ensureTools = () => {
  const missing = ["/usr/bin/time", "/usr/bin/wrk"].filter((p) => !NodeFs.existsSync(p))
  if (missing.length === 0) return
  if (process.getuid?.() !== 0) throw new Error(`the benchmark needs GNU time and wrk: apt-get install time wrk`)
  say("installing GNU time and wrk (Debian packages)…")
  const r = spawnSync("sh", ["-c", "apt-get install -y -qq time wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq time wrk >/dev/null)"], { stdio: "inherit" })
  if (r.status !== 0) throw new Error("could not install time and wrk")
}

const pythonOk = spawnSync(PY, ["-c", "import pandas, sklearn"], { stdio: "ignore" }).status === 0 && NodeFs.existsSync(NodePath.join(PY_BENCH, "bench_steps.py"))
const gunicornOk = pythonOk && spawnSync(PY, ["-c", "import flask"], { stdio: "ignore" }).status === 0 && NodeFs.existsSync("/usr/bin/gunicorn")

/** A project folder whose config points into it. */
const project = (name: string, input: string, extra: Record<string, unknown> = {}) => {
  const dir = NodePath.join(work, name)
  NodeFs.mkdirSync(dir, { recursive: true })
  NodeFs.cpSync(NodePath.join(ROOT, "data", "testdata"), NodePath.join(dir, "test"), { recursive: true })
  const config = NodePath.join(dir, "config.json")
  NodeFs.writeFileSync(config, JSON.stringify({
    input_folder_path: input, output_folder_path: NodePath.join(dir, "out"), test_data_path: NodePath.join(dir, "test"),
    output_model_path: NodePath.join(dir, "models"), prod_deployment_path: NodePath.join(dir, "production"),
    quarantine_folder_path: NodePath.join(dir, "quarantine"), ...extra
  }))
  return { dir, config }
}

const generate = (rows: number) => {
  const dir = NodePath.join(work, `in-${rows}`)
  if (NodeFs.existsSync(dir)) return dir
  say(`generating ${rows.toLocaleString("en-US")} rows in 4 files…`)
  measure(node, [MAIN, "generate-data", dir, "--rows", String(rows), "--files", "4", "--seed", "1"])
  return dir
}

interface Row {
  readonly what: string
  readonly ours: string
  readonly theirs: string
  readonly ratio: number | null
  readonly target: string
  readonly pass: boolean | null
}
const rows: Array<Row> = []
const fmtMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`)
const add = (what: string, ours: string, theirs: string, ratio: number | null, target: string, pass: boolean | null) => {
  rows.push({ what, ours, theirs, ratio, target, pass })
  say(`  ${what}: ours ${ours}, theirs ${theirs}${ratio === null ? "" : `, ratio ${ratio.toFixed(2)}×`} (target ${target})`)
}

/** Ingestion of a folder, ours and pandas' alternately, `reps` times each; medians. */
const ingestion = (input: string, reps: number, tag: string) => {
  const ours: Array<{ wallMs: number; peakMiB: number }> = []
  const theirs: Array<{ wallMs: number; peakMiB: number }> = []
  for (let i = 0; i < reps; i++) {
    const p = project(`ingest-${tag}-${i}`, input)
    ours.push(measure(node, [MAIN, "run", "--steps", "ingestion", "--config", p.config]))
    if (pythonOk) theirs.push(measure(PY, [NodePath.join(PY_BENCH, "bench_steps.py"), "ingest", input, NodePath.join(work, `py-${tag}-${i}`)]))
  }
  return {
    ours: { wallMs: median(ours.map((r) => r.wallMs)), peakMiB: median(ours.map((r) => r.peakMiB)) },
    theirs: pythonOk ? { wallMs: median(theirs.map((r) => r.wallMs)), peakMiB: median(theirs.map((r) => r.peakMiB)) } : null,
    project: `ingest-${tag}-0`
  }
}

const main = async () => {
  ensureTools()
  // what the bench starts (our commands, the peers, wrk) inherits its priority: above other
  // work on a shared machine when it may be raised, the same for both sides either way
  try {
    NodeOs.setPriority(-19)
  } catch {
    say("the priority could not be raised (not root): other work on the machine shows in the figures")
  }
  if (!NodeFs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm run bench does)`)
  say(`work folder ${work}`)
  if (!pythonOk) say(`python3 cannot import pandas and sklearn (or ${PY_BENCH} is missing): ours only. Debian: apt-get install python3-pandas python3-sklearn python3-flask gunicorn`)
  const cpus = NodeOs.cpus().length

  if (args.has("--health-under-load")) {
    const sample = project("sample", NodePath.join(ROOT, "data", "sourcedata"))
    measure(node, [MAIN, "fullprocess", "--no-apicalls", "--config", sample.config])
    await healthUnderLoad(sample.config, 18_000 + (process.pid % 1000) + 2, 10)
    return printTable()
  }
  if (args.has("--e2e") || args.has("--e2e-10m")) await endToEndBench()
  else if (args.has("--real")) await realBench()
  else {
    if (!args.has("--serve")) await dataBench()
    if (!args.has("--serve")) await realBench()
    if (!args.has("--serve")) await endToEndBench()
    await serveBench(cpus)
    await serveTreesBench(cpus)
  }
  printTable()
}

/** Ingestion and training, at 1M rows (and 10M, and 50M on request). */
const dataBench = async () => {
  // 1M rows: ingestion wall and peak RSS, then training on the ingested data
  const in1m = generate(1_000_000)
  say("ingestion, 1M rows (3 alternating runs each)…")
  const i1 = ingestion(in1m, 3, "1m")
  add("ingestion 1M rows: wall", fmtMs(i1.ours.wallMs), i1.theirs ? fmtMs(i1.theirs.wallMs) : "—", i1.theirs ? i1.ours.wallMs / i1.theirs.wallMs : null, "≤ 0.35×", i1.theirs ? i1.ours.wallMs / i1.theirs.wallMs <= 0.35 : null)
  add("ingestion 1M rows: peak RSS", `${i1.ours.peakMiB.toFixed(0)} MiB`, i1.theirs ? `${i1.theirs.peakMiB.toFixed(0)} MiB` : "—", i1.theirs ? i1.ours.peakMiB / i1.theirs.peakMiB : null, "≤ 0.7×", i1.theirs ? i1.ours.peakMiB / i1.theirs.peakMiB <= 0.7 : null)

  // the same data set: finaldata.csv line for line (in any order) as pandas writes it
  if (pythonOk) {
    const sorted = (path: string) => NodeFs.readFileSync(path, "utf8").trimEnd().split("\n").sort().join("\n")
    const same = sorted(NodePath.join(work, i1.project, "out", "finaldata.csv")) === sorted(NodePath.join(work, "py-1m-0", "finaldata.csv"))
    add("finaldata.csv, 1M rows: the same lines as pandas'", same ? "same" : "different", "—", null, "same", same)
  }

  say("training on the 1M ingested rows (3 alternating runs each)…")
  const tOurs: Array<number> = []
  const tTheirs: Array<number> = []
  const trained = NodePath.join(work, i1.project, "config.json")
  for (let i = 0; i < 3; i++) {
    tOurs.push(measure(node, [MAIN, "run", "--steps", "training", "--config", trained]).wallMs)
    if (pythonOk) tTheirs.push(measure(PY, [NodePath.join(PY_BENCH, "bench_steps.py"), "train", NodePath.join(work, "py-1m-0"), "liblinear"]).wallMs)
  }
  const tr = pythonOk ? median(tOurs) / median(tTheirs) : null
  add("training 1M rows (read + fit)", fmtMs(median(tOurs)), pythonOk ? fmtMs(median(tTheirs)) : "—", tr, "≤ 0.3×", tr === null ? null : tr <= 0.3)

  if (!args.has("--quick")) {
    const in10m = generate(10_000_000)
    say("ingestion, 10M rows (1 run each)…")
    const i10 = ingestion(in10m, 1, "10m")
    add("ingestion 10M rows: wall", fmtMs(i10.ours.wallMs), i10.theirs ? fmtMs(i10.theirs.wallMs) : "—", i10.theirs ? i10.ours.wallMs / i10.theirs.wallMs : null, "≤ 0.35×", i10.theirs ? i10.ours.wallMs / i10.theirs.wallMs <= 0.35 : null)
    add("ingestion 10M rows: peak RSS", `${i10.ours.peakMiB.toFixed(0)} MiB`, i10.theirs ? `${i10.theirs.peakMiB.toFixed(0)} MiB` : "—", i10.theirs ? i10.ours.peakMiB / i10.theirs.peakMiB : null, "—", null)
  } else say("--quick: the 10M-row ingestion is skipped")

  if (args.has("--rows50m")) {
    const in50m = generate(50_000_000)
    const p = project("rows50m", in50m)
    const ing = measure(node, [MAIN, "run", "--steps", "ingestion", "--config", p.config])
    const trn = measure(node, [MAIN, "run", "--steps", "training", "--config", p.config])
    add("50M rows: ingestion peak RSS", `${ing.peakMiB.toFixed(0)} MiB (${fmtMs(ing.wallMs)})`, "—", null, "≤ 4096 MiB", ing.peakMiB <= 4096)
    add("50M rows: training peak RSS", `${trn.peakMiB.toFixed(0)} MiB (${fmtMs(trn.wallMs)})`, "—", null, "≤ 4096 MiB", trn.peakMiB <= 4096)
    // the trees' memory peaks in the first iterations (binned features, gradients, histograms): five show it
    const gb = measure(node, [MAIN, "run", "--steps", "training", "--config", p.config, "--set", "learner=gradient-boosting", "--set", `gradient_boosting={"max_iter":5}`])
    add("50M rows: gradient-boosted trees' training peak RSS (5 trees)", `${gb.peakMiB.toFixed(0)} MiB (${fmtMs(gb.wallMs)})`, "—", null, "≤ 4096 MiB", gb.peakMiB <= 4096)
    NodeFs.rmSync(in50m, { recursive: true, force: true })
  }

}

/** The same CSV files with every label flipped (the world changed: the live model drifts). */
const flipped = (input: string) => {
  const dir = `${input}-flipped`
  if (NodeFs.existsSync(dir)) return dir
  NodeFs.mkdirSync(dir)
  for (const f of NodeFs.readdirSync(input).sort()) {
    const out = NodeFs.openSync(NodePath.join(dir, f), "w")
    const text = NodeFs.readFileSync(NodePath.join(input, f), "latin1")
    // the label is the last field of each line: 0 ↔ 1 (the header is left as it is)
    let start = text.indexOf("\n") + 1
    NodeFs.writeSync(out, text.slice(0, start), null, "latin1")
    const block = 1 << 24
    while (start < text.length) {
      const end = Math.min(text.length, text.lastIndexOf("\n", start + block) + 1 || text.length)
      NodeFs.writeSync(out, text.slice(start, end).replace(/,([01])\n/g, (_m, l: string) => (l === "1" ? ",0\n" : ",1\n")), null, "latin1")
      start = end > start ? end : text.length
    }
    NodeFs.closeSync(out)
  }
  return dir
}

/** Copy a prepared state folder over `to` (removed first): every timed run starts from the same state. */
const restore = (from: string, to: string) => {
  NodeFs.rmSync(to, { recursive: true, force: true })
  NodeFs.cpSync(from, to, { recursive: true, preserveTimestamps: true })
}

/** New files into an input folder: hard links (ingestion only reads them), else copies. */
const addInput = (from: string, input: string) => {
  for (const f of NodeFs.readdirSync(from)) {
    try {
      NodeFs.linkSync(NodePath.join(from, f), NodePath.join(input, f))
    } catch {
      NodeFs.copyFileSync(NodePath.join(from, f), NodePath.join(input, f))
    }
  }
}

/**
 * fullprocess end to end, ours against fullprocess_ref.py, each timed run started from a copy
 * of the same deployed state (the sample data ingested, trained and deployed by that system)
 * with `rows` new rows in 4 files added: no drift, and labels flipped with deploy_gate
 * "always" (drift → retrain → score → deploy → diagnostics and report).
 */
const endToEnd = (rows: number, reps: number) => {
  const tag = rows >= 1e6 ? `${rows / 1e6}M` : `${rows}`
  const fresh = generate(rows)
  const paths: Array<{ name: string; input: string; config: Record<string, unknown>; model: string; outcome: string }> = [
    { name: "no drift", input: fresh, config: {}, model: "lr", outcome: "no-drift" },
    { name: "drift, deploy_gate always", input: flipped(fresh), config: { deploy_gate: "always" }, model: "lr", outcome: "redeployed" }
  ]
  // the gradient-boosting learner's drift path against fullprocess_ref.py --model hgb (at 1M rows;
  // at 10M with --learner gradient-boosting)
  if (rows <= 1_000_000 || learner === "gradient-boosting") {
    paths.push({ name: "drift, learner gradient-boosting", input: flipped(fresh), config: { deploy_gate: "always", learner: "gradient-boosting" }, model: "hgb", outcome: "redeployed" })
  }
  // the deployed state each system starts from, prepared once by that system
  const sample = NodePath.join(ROOT, "data", "sourcedata")
  const prepared = (who: "ours" | "py", extra: Record<string, unknown>, model = "lr") => {
    const key = `e2e-${who}-${JSON.stringify(extra).replace(/[^a-z0-9]+/gi, "")}${model === "lr" ? "" : `-${model}`}`
    const prep = NodePath.join(work, `${key}-prep`)
    const run = NodePath.join(work, key)
    if (!NodeFs.existsSync(prep)) {
      NodeFs.rmSync(run, { recursive: true, force: true })
      const input = NodePath.join(run, "in")
      NodeFs.mkdirSync(input, { recursive: true })
      for (const f of NodeFs.readdirSync(sample)) NodeFs.copyFileSync(NodePath.join(sample, f), NodePath.join(input, f))
      const p = project(key, input, extra)
      if (who === "ours") measure(node, [MAIN, "fullprocess", "--no-apicalls", "--config", p.config])
      // the same kind of model deployed as the timed run trains (the trees' path: trees on both sides)
      else measure(PY, [NodePath.join(PY_BENCH, "fullprocess_ref.py"), p.config, ...(model !== "lr" ? ["--model", model] : [])])
      NodeFs.cpSync(run, prep, { recursive: true, preserveTimestamps: true })
    }
    return { prep, run, config: NodePath.join(run, "config.json"), input: NodePath.join(run, "in") }
  }
  for (const path of paths) {
    say(`fullprocess end to end, ${tag} new rows, ${path.name} (${reps} alternating run(s) each)…`)
    const ours: Array<{ wallMs: number; peakMiB: number }> = []
    const theirs: Array<{ wallMs: number; peakMiB: number }> = []
    const o = prepared("ours", path.config)
    const t = pythonOk ? prepared("py", {}, path.model) : null
    for (let i = 0; i < reps; i++) {
      restore(o.prep, o.run)
      addInput(path.input, o.input)
      const r = measure(node, [MAIN, "fullprocess", "--no-apicalls", "--json", "--config", o.config])
      const outcome = (JSON.parse(r.stdout) as { result: { outcome: string } }).result.outcome
      if (outcome !== path.outcome) throw new Error(`ours: expected ${path.outcome}, got ${outcome}`)
      ours.push(r)
      if (t) {
        restore(t.prep, t.run)
        addInput(path.input, t.input)
        const args = [NodePath.join(PY_BENCH, "fullprocess_ref.py"), t.config, ...(path.model !== "lr" ? ["--model", path.model] : [])]
        const q = measure(PY, args)
        const theirOutcome = (JSON.parse(q.stdout.trim().split("\n").at(-1)!) as { outcome: string }).outcome
        if (theirOutcome !== path.outcome) throw new Error(`fullprocess_ref.py: expected ${path.outcome}, got ${theirOutcome}`)
        theirs.push(q)
      }
    }
    const ow = median(ours.map((r) => r.wallMs))
    const om = median(ours.map((r) => r.peakMiB))
    const tw = t ? median(theirs.map((r) => r.wallMs)) : null
    const tm = t ? median(theirs.map((r) => r.peakMiB)) : null
    const target = rows >= 10_000_000 ? 0.3 : 0.35
    add(`fullprocess ${tag} new rows, ${path.name}: wall`, fmtMs(ow), tw === null ? "—" : fmtMs(tw), tw === null ? null : ow / tw, `≤ ${target}×`, tw === null ? null : ow / tw <= target)
    add(`fullprocess ${tag} new rows, ${path.name}: peak RSS`, `${om.toFixed(0)} MiB`, tm === null ? "—" : `${tm.toFixed(0)} MiB`, tm === null ? null : om / tm, "≤ 0.7×", tm === null ? null : om / tm <= 0.7)
    NodeFs.rmSync(o.run, { recursive: true, force: true })
    if (t) NodeFs.rmSync(t.run, { recursive: true, force: true })
  }
}

/** The end-to-end rows: 1M new rows (3 runs each), and 10M (1 run each) unless --quick. */
const endToEndBench = async () => {
  if (!args.has("--e2e-10m")) endToEnd(1_000_000, 3)
  if (!args.has("--quick")) {
    endToEnd(10_000_000, 1)
    NodeFs.rmSync(NodePath.join(work, "in-10000000"), { recursive: true, force: true })
    NodeFs.rmSync(NodePath.join(work, "in-10000000-flipped"), { recursive: true, force: true })
  } else say("--quick: the 10M-row fullprocess is skipped")
  for (const d of NodeFs.readdirSync(work)) if (d.endsWith("-prep")) NodeFs.rmSync(NodePath.join(work, d), { recursive: true, force: true })
}

/** A latency distribution as wrk measured it: p50 / p90 / p99 / p99.9 / max (with several rounds: the medians, and the p99s' range). */
const dist = (l: Load, rounds: ReadonlyArray<Load> = [l]) =>
  `${[l.p50Ms, l.p90Ms, l.p99Ms, l.p999Ms, l.maxMs].map((x) => x.toFixed(1)).join(" / ")} ms (wrk used ${l.wrkCpuPct.toFixed(0)}% of a core${rounds.length > 1 ? `; p99 of the rounds ${Math.min(...rounds.map((r) => r.p99Ms)).toFixed(0)}–${Math.max(...rounds.map((r) => r.p99Ms)).toFixed(0)} ms` : ""})`

/** Several measurements as one: the median of each figure. */
const medianLoad = (ls: ReadonlyArray<Load>): Load => ({
  requestsPerSecond: median(ls.map((l) => l.requestsPerSecond)),
  p50Ms: median(ls.map((l) => l.p50Ms)),
  p90Ms: median(ls.map((l) => l.p90Ms)),
  p99Ms: median(ls.map((l) => l.p99Ms)),
  p999Ms: median(ls.map((l) => l.p999Ms)),
  maxMs: median(ls.map((l) => l.maxMs)),
  errors: ls.reduce((n, l) => n + l.errors, 0),
  wrkCpuPct: median(ls.map((l) => l.wrkCpuPct))
})

/** The 1-minute load average: another process on the machine shows in it. */
const loadAverage = () => NodeOs.loadavg()[0]!

/** Start-up and HTTP. */
const serveBench = async (cpus: number) => {
  // the no-op fullprocess against node -e 0, alternating
  say("no-op fullprocess against node -e 0 (9 alternating runs)…")
  const sample = project("sample", NodePath.join(ROOT, "data", "sourcedata"))
  measure(node, [MAIN, "fullprocess", "--no-apicalls", "--config", sample.config])
  measure(node, [MAIN, "fullprocess", "--no-apicalls", "--config", sample.config])
  const noop: Array<number> = []
  const bare: Array<number> = []
  for (let i = 0; i < 9; i++) {
    bare.push(wall(node, ["-e", "0"]))
    noop.push(wall(node, [MAIN, "fullprocess", "--config", sample.config]))
  }
  const startRatio = median(noop) / median(bare)
  add("no-op fullprocess vs node -e 0", fmtMs(median(noop)), `${fmtMs(median(bare))} (node -e 0)`, startRatio, "≤ 5×", startRatio <= 5)

  // HTTP: our server with a worker per core against Flask under gunicorn -w 2, on 127.0.0.1,
  // the same wrk on the same cores for both; alternating rounds (the first side alternates too)
  const body = JSON.stringify({
    rows: Array.from({ length: 100 }, (_, i) => ({ lastmonth_activity: (i * 37) % 700, lastyear_activity: (i * 911) % 12000, number_of_employees: 1 + ((i * 13) % 600) }))
  })
  const seconds = 10
  const rounds = serveRounds
  const ourPort = 18_000 + (process.pid % 1000)
  const theirPort = ourPort + 1
  const finaldata = NodePath.join(sample.dir, "out", "finaldata.csv")
  const sides = {
    ours: { predict: [] as Array<Load>, health: [] as Array<Load> },
    theirs: { predict: [] as Array<Load>, health: [] as Array<Load> }
  }
  const loads: Array<number> = []
  const runSide = async (side: "ours" | "theirs") => {
    const base = `http://127.0.0.1:${side === "ours" ? ourPort : theirPort}`
    const server = side === "ours"
      ? await startServer(node, [MAIN, "serve", "--config", sample.config, "--port", String(ourPort), "--workers", String(cpus)], `${base}/health`)
      : await startServer("/usr/bin/gunicorn", ["-w", "2", "-b", `127.0.0.1:${theirPort}`, "--chdir", PY_BENCH, "flask_app:app"], `${base}/health`, { env: { ...process.env, DRS_FINALDATA: finaldata } })
    load(`${base}/prediction`, 16, 2, body)
    loads.push(loadAverage())
    sides[side].predict.push(load(`${base}/prediction`, 64, seconds, body))
    sides[side].health.push(load(`${base}/health`, 64, seconds))
    await server.stop()
  }
  say(`HTTP: serve --workers ${cpus} against gunicorn -w 2, ${rounds} alternating round(s) (${seconds} s per measurement, c=64; medians)…`)
  for (let r = 0; r < rounds; r++) {
    const order: Array<"ours" | "theirs"> = !gunicornOk ? ["ours"] : r % 2 === 0 ? ["ours", "theirs"] : ["theirs", "ours"]
    for (const side of order) await runSide(side)
  }
  const ours = { predict: medianLoad(sides.ours.predict), health: medianLoad(sides.ours.health) }
  const load1 = `load ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`
  const perRound = (o: ReadonlyArray<Load>, t: ReadonlyArray<Load>) => o.map((x, i) => x.requestsPerSecond / t[i]!.requestsPerSecond)
  const spread = (xs: ReadonlyArray<number>) => `rounds ${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}×`
  if (gunicornOk) {
    const theirs = { predict: medianLoad(sides.theirs.predict), health: medianLoad(sides.theirs.health) }
    const pr = ours.predict.requestsPerSecond / theirs.predict.requestsPerSecond
    add("POST /prediction (100 rows, c=64): requests/s", `${ours.predict.requestsPerSecond.toFixed(0)}/s`, `${theirs.predict.requestsPerSecond.toFixed(0)}/s (${spread(perRound(sides.ours.predict, sides.theirs.predict))}; ${load1})`, pr, "≥ 2×", pr >= 2)
    add("POST /prediction: latency p50 / p90 / p99 / p99.9 / max", dist(ours.predict, sides.ours.predict), dist(theirs.predict, sides.theirs.predict), null, "p99 < 100 ms", ours.predict.p99Ms < 100)
    const hr = ours.health.requestsPerSecond / theirs.health.requestsPerSecond
    add("GET /health (c=64): requests/s", `${ours.health.requestsPerSecond.toFixed(0)}/s`, `${theirs.health.requestsPerSecond.toFixed(0)}/s (${spread(perRound(sides.ours.health, sides.theirs.health))}; ${load1})`, hr, "≥ 2×", hr >= 2)
    add("GET /health: latency p50 / p90 / p99 / p99.9 / max", dist(ours.health, sides.ours.health), dist(theirs.health, sides.theirs.health), null, "—", null)
  } else {
    say("Flask and gunicorn are not installed: our HTTP side only")
    add("POST /prediction (100 rows, c=64): requests/s", `${ours.predict.requestsPerSecond.toFixed(0)}/s (${load1})`, "—", null, "≥ 2× Flask", null)
    add("POST /prediction: latency p50 / p90 / p99 / p99.9 / max", dist(ours.predict, sides.ours.predict), "—", null, "p99 < 100 ms", ours.predict.p99Ms < 100)
    add("GET /health (c=64): requests/s", `${ours.health.requestsPerSecond.toFixed(0)}/s (${load1})`, "—", null, "≥ 2× gunicorn", null)
    add("GET /health: latency p50 / p90 / p99 / p99.9 / max", dist(ours.health, sides.ours.health), "—", null, "—", null)
  }
  const failed = [...sides.ours.predict, ...sides.ours.health].reduce((n, l) => n + l.errors, 0)
  if (failed > 0) say(`warning: ${failed} failed requests on our server`)
  await healthUnderLoad(sample.config, ourPort + 2, seconds)
}

/**
 * /health on one server process while four maximal predictions (max_prediction_rows CSV rows,
 * the default 10,000) run back to back: large bodies must not stall other requests.
 */
const healthUnderLoad = async (config: string, port: number, seconds: number) => {
  const rows = 10_000
  const csv = "lastmonth_activity,lastyear_activity,number_of_employees\n" +
    Array.from({ length: rows }, (_, i) => `${(i * 37) % 700},${(i * 911) % 12000},${1 + ((i * 13) % 600)}`).join("\n") + "\n"
  const script = NodePath.join(work, "predict-max.lua")
  NodeFs.writeFileSync(script, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "text/csv"\nwrk.body = ${JSON.stringify(csv)}\n`)
  say(`HTTP: GET /health (c=4) on one server process while 4 predictions of ${rows} CSV rows run (${seconds} s)…`)
  const server = await startServer(node, [MAIN, "serve", "--config", config, "--port", String(port)], `http://127.0.0.1:${port}/health`)
  const base = `http://127.0.0.1:${port}`
  const probe = await fetch(`${base}/prediction`, { method: "POST", headers: { "content-type": "text/csv" }, body: csv })
  if (probe.status !== 200) say(`warning: a ${rows}-row prediction answered ${probe.status}: ${(await probe.text()).slice(0, 200)}`)
  const busy = spawn("wrk", ["-t", "1", "-c", "4", "-d", `${seconds + 4}s`, "--timeout", "10s", "--latency", "-s", script, `${base}/prediction`], { stdio: ["ignore", "pipe", "ignore"] })
  let busyOut = ""
  busy.stdout!.on("data", (d: Buffer) => { busyOut += d.toString() })
  const busyDone = new Promise<void>((resolve) => busy.once("close", () => resolve()))
  await new Promise((r) => setTimeout(r, 1500))
  const health = load(`${base}/health`, 4, seconds)
  await busyDone
  await server.stop()
  const predictions = Number(/Requests\/sec:\s+([\d.]+)/.exec(busyOut)?.[1] ?? "0")
  add(`GET /health p99 while 4 × ${rows}-row predictions run`, `${health.p99Ms.toFixed(1)} ms (p50 ${health.p50Ms.toFixed(1)} ms; ${predictions.toFixed(1)} predictions/s)`, "—", null, "< 100 ms", health.p99Ms < 100)
}

/** POST /prediction with a 100-tree model: ours against Flask serving scikit-learn's HistGradientBoostingClassifier. */
const serveTreesBench = async (cpus: number) => {
  // the sample data: 120 rows, so early stopping ("auto") is off and both fit 100 trees
  const sample = project("sample-trees", NodePath.join(ROOT, "data", "sourcedata"), { learner: "gradient-boosting" })
  measure(node, [MAIN, "fullprocess", "--no-apicalls", "--config", sample.config])
  const trees = (JSON.parse(NodeFs.readFileSync(NodePath.join(sample.dir, "models", "trainedmodel.json"), "utf8")) as { booster: { trees: Array<unknown> } }).booster.trees.length
  const body = JSON.stringify({
    rows: Array.from({ length: 100 }, (_, i) => ({ lastmonth_activity: (i * 37) % 700, lastyear_activity: (i * 911) % 12000, number_of_employees: 1 + ((i * 13) % 600) }))
  })
  const seconds = 10
  const port = 18_500 + (process.pid % 400)
  say(`HTTP with a ${trees}-tree model: serve --workers ${cpus} against gunicorn -w 2 with HistGradientBoostingClassifier (${seconds} s, c=64)…`)
  const ours = await startServer(node, [MAIN, "serve", "--config", sample.config, "--port", String(port), "--workers", String(cpus)], `http://127.0.0.1:${port}/health`)
  load(`http://127.0.0.1:${port}/prediction`, 16, 2, body)
  const ourPredict = load(`http://127.0.0.1:${port}/prediction`, 64, seconds, body)
  await ours.stop()
  const label = `POST /prediction, ${trees}-tree model (100 rows, c=64): requests/s`
  if (!gunicornOk) {
    add(label, `${ourPredict.requestsPerSecond.toFixed(0)}/s`, "—", null, "≥ 2× Flask", null)
    return
  }
  const flask = await startServer("/usr/bin/gunicorn", ["-w", "2", "-b", `127.0.0.1:${port + 1}`, "--chdir", PY_BENCH, "flask_app:app"], `http://127.0.0.1:${port + 1}/health`, {
    env: { ...process.env, DRS_FINALDATA: NodePath.join(sample.dir, "out", "finaldata.csv"), DRS_MODEL: "hgb" }
  })
  load(`http://127.0.0.1:${port + 1}/prediction`, 16, 2, body)
  const theirPredict = load(`http://127.0.0.1:${port + 1}/prediction`, 64, seconds, body)
  await flask.stop()
  if (!(theirPredict.requestsPerSecond > 0)) {
    say("warning: Flask answered no request in the measurement: no ratio")
    add(label, `${ourPredict.requestsPerSecond.toFixed(0)}/s`, "none answered", null, "≥ 2×", null)
    // our side's latency is measured all the same
    add(`POST /prediction, ${trees}-tree model: latency p50 / p90 / p99 / p99.9 / max`, dist(ourPredict), "—", null, "p99 < 100 ms", ourPredict.p99Ms < 100)
    return
  }
  const r = ourPredict.requestsPerSecond / theirPredict.requestsPerSecond
  add(label, `${ourPredict.requestsPerSecond.toFixed(0)}/s`, `${theirPredict.requestsPerSecond.toFixed(0)}/s`, r, "≥ 2×", r >= 2)
  add(`POST /prediction, ${trees}-tree model: latency p50 / p90 / p99 / p99.9 / max`, dist(ourPredict), dist(theirPredict), null, "p99 < 100 ms", ourPredict.p99Ms < 100)
}

const printTable = () => {
  const cpus = NodeOs.cpus().length
  const table = [
    "| what | this system | pandas / sklearn / Flask | ratio | target | met |",
    "|---|---|---|---|---|---|",
    ...rows.map((r) => `| ${r.what} | ${r.ours} | ${r.theirs} | ${r.ratio === null ? "—" : `${r.ratio.toFixed(2)}×`} | ${r.target} | ${r.pass === null ? "—" : r.pass ? "yes" : "no"} |`)
  ].join("\n")
  const results = NodePath.join(work, "bench-results.json")
  NodeFs.writeFileSync(results, JSON.stringify({ at: new Date().toISOString(), cpus, node: process.version, nice: NodeOs.getPriority(), loadavg: NodeOs.loadavg(), rows }, null, 2))
  process.stdout.write(`\n${table}\n\n(${cpus} cores, Node ${process.version}, nice ${NodeOs.getPriority()}, load average at the end ${NodeOs.loadavg().map((x) => x.toFixed(1)).join(" ")}; results in ${results})\n`)
  for (const d of NodeFs.readdirSync(work)) if (d.startsWith("in-")) NodeFs.rmSync(NodePath.join(work, d), { recursive: true, force: true })
}


/**
 * Real tables: 1M rows of 10 numeric and 5 categorical features (2 to 50 categories) with
 * text labels and missing values, in 4 files: ingestion against pandas, training against
 * scikit-learn's one-hot pipeline and HistGradientBoostingClassifier (read + fit, each reading
 * the same finaldata.csv or snapshot); and the trees on the plain 1M × 3 numeric data.
 */
const realBench = async () => {
  const numeric = Array.from({ length: 10 }, (_, j) => `n${j + 1}`)
  const base = { id_column: "corporation", feature_columns: numeric, target_column: "churn" }
  const seedConfig = NodePath.join(work, "real-seed.json")
  NodeFs.writeFileSync(seedConfig, JSON.stringify({ input_folder_path: "x", output_folder_path: "x", test_data_path: "x", output_model_path: "x", prod_deployment_path: "x", dataset: base }))
  const input = NodePath.join(work, "in-real-1m")
  say("generating 1M rows of 10 numeric and 5 categorical features with text labels, in 4 files…")
  measure(node, [MAIN, "generate-data", input, "--rows", "1000000", "--files", "4", "--seed", "3", "--categorical", "5", "--config", seedConfig])
  const dataset = (JSON.parse(NodeFs.readFileSync(NodePath.join(input, "dataset.json"), "utf8")) as { dataset: unknown }).dataset
  NodeFs.rmSync(NodePath.join(input, "dataset.json"))
  say("ingestion, 1M rows × 15 features, 5 categorical (3 alternating runs each)…")
  const ours: Array<{ wallMs: number; peakMiB: number }> = []
  const theirs: Array<{ wallMs: number; peakMiB: number }> = []
  let config = ""
  for (let i = 0; i < 3; i++) {
    const p = project(`real-${i}`, input, { dataset })
    config = p.config
    ours.push(measure(node, [MAIN, "run", "--steps", "ingestion", "--config", p.config]))
    if (pythonOk) theirs.push(measure(PY, [NodePath.join(PY_BENCH, "bench_steps.py"), "ingest", input, NodePath.join(work, `py-real-${i}`)]))
  }
  const o = { wallMs: median(ours.map((r) => r.wallMs)), peakMiB: median(ours.map((r) => r.peakMiB)) }
  const t = pythonOk ? { wallMs: median(theirs.map((r) => r.wallMs)), peakMiB: median(theirs.map((r) => r.peakMiB)) } : null
  add("ingestion 1M rows, 5 categorical, text labels: wall", fmtMs(o.wallMs), t ? fmtMs(t.wallMs) : "—", t ? o.wallMs / t.wallMs : null, "≤ 0.35×", t ? o.wallMs / t.wallMs <= 0.35 : null)
  add("ingestion 1M rows, 5 categorical, text labels: peak RSS", `${o.peakMiB.toFixed(0)} MiB`, t ? `${t.peakMiB.toFixed(0)} MiB` : "—", t ? o.peakMiB / t.peakMiB : null, "≤ 0.7×", t ? o.peakMiB / t.peakMiB <= 0.7 : null)
  // the peers read the config's dataset and the finaldata.csv our ingestion wrote
  const peerDir = NodePath.join(work, "real-0", "out")
  const fit = (learner: string, peer: string, label: string, target: number, conf = config, dir = peerDir) => {
    const a: Array<number> = []
    const b: Array<number> = []
    for (let i = 0; i < 2; i++) {
      a.push(measure(node, [MAIN, "run", "--steps", "training", "--config", conf, "--set", `learner=${learner}`]).wallMs)
      if (pythonOk) b.push(measure(PY, [NodePath.join(PY_BENCH, "bench_steps.py"), "fit", dir, conf, peer]).wallMs)
    }
    const r = pythonOk ? median(a) / median(b) : null
    add(label, fmtMs(median(a)), pythonOk ? fmtMs(median(b)) : "—", r, `≤ ${target}×`, r === null ? null : r <= target)
  }
  say("training on them: logistic regression with one-hot categories against scikit-learn's pipeline (2 alternating runs each)…")
  fit("logistic-regression", "lr-onehot", "training 1M × 15 (5 categorical), one-hot logistic regression (read + fit)", 0.3)
  say("gradient-boosted trees against HistGradientBoostingClassifier (2 alternating runs each)…")
  fit("gradient-boosting", "hgb", "training 1M × 15 (5 categorical), gradient-boosted trees (read + fit)", 1.0)
  // the plain 1M × 3 numeric data set of the ingestion rows above
  const plain = NodePath.join(work, "ingest-1m-0")
  if (!NodeFs.existsSync(plain)) {
    // --real alone: the plain data set ingested once, as the ingestion rows above would have
    say("ingesting the plain 1M × 3 rows for the trees' second row…")
    measure(node, [MAIN, "run", "--steps", "ingestion", "--config", project("ingest-1m-0", generate(1_000_000)).config])
  }
  fit("gradient-boosting", "hgb", "training 1M × 3, gradient-boosted trees (read + fit)", 0.6, NodePath.join(plain, "config.json"), NodePath.join(plain, "out"))
}

// last: main reads every bench function above (a `const` is not there before its line runs)
main().catch((e) => {
  process.stderr.write(`benchmark failed: ${e instanceof Error ? e.message : String(e)}\n`)
  process.exitCode = 1
})
