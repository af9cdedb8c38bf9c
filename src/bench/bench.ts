/**
 * `npm run bench`: this system against the original Python one (pandas, scikit-learn, Flask
 * under gunicorn), side by side in one run on the same machine, printed as ratios with the
 * targets. The machine is shared and noisy: short measurements alternate and take medians.
 *
 *   node dist/bench/bench.js [--quick]     --quick skips the 10M-row ingestion
 *                            [--serve]     only start-up and HTTP
 *                            [--rows50m]   also ingest and train 50M rows (peak RSS against 4 GiB)
 */
import { spawn, spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import { load, measure, median, startServer, wall } from "./Measure.js"

const ROOT = NodePath.resolve(NodePath.dirname(fileURLToPath(import.meta.url)), "..", "..")
const MAIN = NodePath.join(ROOT, "dist", "main.js")
const PY_BENCH = process.env.DRS_SHARED_BENCH ?? NodePath.resolve(ROOT, "..", "shared", "bench")
const PY = "/usr/bin/python3"
const args = new Set(process.argv.slice(2))
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
  if (!args.has("--serve")) await dataBench()
  await serveBench(cpus)
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
    NodeFs.rmSync(in10m, { recursive: true, force: true })
  } else say("--quick: the 10M-row ingestion is skipped")

  if (args.has("--rows50m")) {
    const in50m = generate(50_000_000)
    const p = project("rows50m", in50m)
    const ing = measure(node, [MAIN, "run", "--steps", "ingestion", "--config", p.config])
    const trn = measure(node, [MAIN, "run", "--steps", "training", "--config", p.config])
    add("50M rows: ingestion peak RSS", `${ing.peakMiB.toFixed(0)} MiB (${fmtMs(ing.wallMs)})`, "—", null, "≤ 4096 MiB", ing.peakMiB <= 4096)
    add("50M rows: training peak RSS", `${trn.peakMiB.toFixed(0)} MiB (${fmtMs(trn.wallMs)})`, "—", null, "≤ 4096 MiB", trn.peakMiB <= 4096)
    NodeFs.rmSync(in50m, { recursive: true, force: true })
  }

}

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

  // HTTP: our server with a worker per core against Flask under gunicorn -w 2, on 127.0.0.1
  const body = JSON.stringify({
    rows: Array.from({ length: 100 }, (_, i) => ({ lastmonth_activity: (i * 37) % 700, lastyear_activity: (i * 911) % 12000, number_of_employees: 1 + ((i * 13) % 600) }))
  })
  const seconds = 10
  const ourPort = 18_000 + (process.pid % 1000)
  say(`HTTP: serve --workers ${cpus} against gunicorn -w 2 (${seconds} s per measurement, c=64)…`)
  const ours = await startServer(node, [MAIN, "serve", "--config", sample.config, "--port", String(ourPort), "--workers", String(cpus)], `http://127.0.0.1:${ourPort}/health`)
  load(`http://127.0.0.1:${ourPort}/prediction`, 16, 2, body)
  const ourPredict = load(`http://127.0.0.1:${ourPort}/prediction`, 64, seconds, body)
  const ourHealth = load(`http://127.0.0.1:${ourPort}/health`, 64, seconds)
  await ours.stop()
  if (gunicornOk) {
    const theirPort = ourPort + 1
    const finaldata = NodePath.join(sample.dir, "out", "finaldata.csv")
    const flask = await startServer("/usr/bin/gunicorn", ["-w", "2", "-b", `127.0.0.1:${theirPort}`, "--chdir", PY_BENCH, "flask_app:app"], `http://127.0.0.1:${theirPort}/health`, {
      env: { ...process.env, DRS_FINALDATA: finaldata }
    })
    load(`http://127.0.0.1:${theirPort}/prediction`, 16, 2, body)
    const theirPredict = load(`http://127.0.0.1:${theirPort}/prediction`, 64, seconds, body)
    const theirHealth = load(`http://127.0.0.1:${theirPort}/health`, 64, seconds)
    await flask.stop()
    const pr = ourPredict.requestsPerSecond / theirPredict.requestsPerSecond
    add("POST /prediction (100 rows, c=64): requests/s", `${ourPredict.requestsPerSecond.toFixed(0)}/s`, `${theirPredict.requestsPerSecond.toFixed(0)}/s`, pr, "≥ 2×", pr >= 2)
    add("POST /prediction: p99 latency", `${ourPredict.p99Ms.toFixed(1)} ms`, `${theirPredict.p99Ms.toFixed(1)} ms`, null, "< 100 ms", ourPredict.p99Ms < 100)
    const hr = ourHealth.requestsPerSecond / theirHealth.requestsPerSecond
    add("GET /health (c=64): requests/s", `${ourHealth.requestsPerSecond.toFixed(0)}/s`, `${theirHealth.requestsPerSecond.toFixed(0)}/s`, hr, "≥ 1.5×", hr >= 1.5)
  } else {
    say("Flask and gunicorn are not installed: our HTTP side only")
    add("POST /prediction (100 rows, c=64): requests/s", `${ourPredict.requestsPerSecond.toFixed(0)}/s`, "—", null, "≥ 2× Flask", null)
    add("POST /prediction: p99 latency", `${ourPredict.p99Ms.toFixed(1)} ms`, "—", null, "< 100 ms", ourPredict.p99Ms < 100)
    add("GET /health (c=64): requests/s", `${ourHealth.requestsPerSecond.toFixed(0)}/s`, "—", null, "≥ 1.5× gunicorn", null)
  }
  if (ourPredict.errors + ourHealth.errors > 0) say(`warning: ${ourPredict.errors + ourHealth.errors} failed requests on our server`)
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

const printTable = () => {
  const cpus = NodeOs.cpus().length
  const table = [
    "| what | this system | pandas / sklearn / Flask | ratio | target | met |",
    "|---|---|---|---|---|---|",
    ...rows.map((r) => `| ${r.what} | ${r.ours} | ${r.theirs} | ${r.ratio === null ? "—" : `${r.ratio.toFixed(2)}×`} | ${r.target} | ${r.pass === null ? "—" : r.pass ? "yes" : "no"} |`)
  ].join("\n")
  const results = NodePath.join(work, "bench-results.json")
  NodeFs.writeFileSync(results, JSON.stringify({ at: new Date().toISOString(), cpus, node: process.version, rows }, null, 2))
  process.stdout.write(`\n${table}\n\n(${cpus} cores, Node ${process.version}; results in ${results})\n`)
  for (const d of NodeFs.readdirSync(work)) if (d.startsWith("in-")) NodeFs.rmSync(NodePath.join(work, d), { recursive: true, force: true })
}

main().catch((e) => {
  process.stderr.write(`benchmark failed: ${e instanceof Error ? e.message : String(e)}\n`)
  process.exitCode = 1
})
