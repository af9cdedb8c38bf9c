/**
 * `npm run bench:monitor`: what production monitoring costs.
 *
 * 1. The prediction log's overhead: POST /prediction (100 rows with ids, c=64) requests/s
 *    with `prediction_log` on against off, alternating, medians (target ≥ 0.9×).
 * 2. `monitor` over 10M logged rows (100 Parquet files as 100 server processes would write
 *    them, 30 days, 1M labels): its wall time and peak RSS.
 *
 *   node dist/bench/MonitorBench.js [--rows N] [--rounds K] [--seconds S] [--skip-http]
 */
import { DuckDBInstance } from "@duckdb/node-api"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import { load, measure, median, startServer } from "./Measure.js"

const ROOT = NodePath.resolve(NodePath.dirname(fileURLToPath(import.meta.url)), "..", "..")
const MAIN = NodePath.join(ROOT, "dist", "main.js")
const argv = process.argv.slice(2)
const opt = (name: string, d: number) => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? Number(argv[i + 1]) : d
}
const ROWS = opt("rows", 10_000_000)
const ROUNDS = opt("rounds", 3)
const SECONDS = opt("seconds", 8)
const work = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "drs-monbench-"))
const node = process.execPath
const say = (s: string) => process.stderr.write(`${s}\n`)

const dir = NodePath.join(work, "p")
NodeFs.mkdirSync(dir, { recursive: true })
NodeFs.cpSync(NodePath.join(ROOT, "data", "testdata"), NodePath.join(dir, "test"), { recursive: true })
const config = NodePath.join(dir, "config.json")
NodeFs.writeFileSync(config, JSON.stringify({
  input_folder_path: NodePath.join(ROOT, "data", "sourcedata"), output_folder_path: NodePath.join(dir, "out"), test_data_path: NodePath.join(dir, "test"),
  output_model_path: NodePath.join(dir, "models"), prod_deployment_path: NodePath.join(dir, "production"),
  quarantine_folder_path: NodePath.join(dir, "quarantine"), labels_folder_path: NodePath.join(dir, "labels")
}))

const main = async () => {
  say("deploying the sample model…")
  measure(node, [MAIN, "fullprocess", "--no-apicalls", "--config", config])
  const releaseId = JSON.parse(measure(node, [MAIN, "status", "--json", "--config", config]).stdout).result.deployed.releaseId as string
  const out: Array<string> = []

  if (!argv.includes("--skip-http")) {
    const body = JSON.stringify({
      rows: Array.from({ length: 100 }, (_, i) => ({ corporation: `c${i}`, lastmonth_activity: (i * 37) % 700, lastyear_activity: (i * 911) % 12000, number_of_employees: 1 + ((i * 13) % 600) }))
    })
    const port = 19_000 + (process.pid % 1000)
    // the server process's CPU time (user + system, clock ticks of 10 ms): on a shared machine,
    // CPU per request says more than requests/s, which also follow what else is running
    const cpuMs = (pid: number) => {
      const f = NodeFs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
      return (Number(f[11]) + Number(f[12])) * 10
    }
    const rate = async (logging: boolean) => {
      const server = await startServer(node, [MAIN, "serve", "--config", config, "--port", String(port), "--set", `prediction_log=${logging}`], `http://127.0.0.1:${port}/health`)
      load(`http://127.0.0.1:${port}/prediction`, 16, 2, body)
      const c0 = cpuMs(server.pid)
      const r = load(`http://127.0.0.1:${port}/prediction`, 64, SECONDS, body)
      // the batches written in the background are part of the cost: wait for the last one
      await new Promise((res) => setTimeout(res, 1500))
      const cpu = cpuMs(server.pid) - c0
      await server.stop()
      if (r.errors > 0) say(`warning: ${r.errors} failed requests`)
      return { rps: r.requestsPerSecond, cpuPerRequest: cpu / (r.requestsPerSecond * SECONDS) }
    }
    const on: Array<{ rps: number; cpuPerRequest: number }> = []
    const off: Array<{ rps: number; cpuPerRequest: number }> = []
    for (let k = 0; k < ROUNDS; k++) {
      off.push(await rate(false))
      on.push(await rate(true))
      say(`round ${k + 1}: off ${off.at(-1)!.rps.toFixed(0)}/s ${off.at(-1)!.cpuPerRequest.toFixed(3)} ms CPU/request, on ${on.at(-1)!.rps.toFixed(0)}/s ${on.at(-1)!.cpuPerRequest.toFixed(3)} ms CPU/request`)
    }
    const ratio = median(on.map((x) => x.rps)) / median(off.map((x) => x.rps))
    const cpuRatio = median(off.map((x) => x.cpuPerRequest)) / median(on.map((x) => x.cpuPerRequest))
    const logged = NodeFs.readdirSync(NodePath.join(dir, "out", "predictions")).filter((f) => f.endsWith(".parquet")).length
    out.push(`POST /prediction (100 rows, c=64, one process): logging on ${median(on.map((x) => x.rps)).toFixed(0)}/s, off ${median(off.map((x) => x.rps)).toFixed(0)}/s: ${ratio.toFixed(3)}× (target ≥ 0.9×: ${ratio >= 0.9 ? "met" : "NOT met"})`)
    out.push(`  server CPU per request: off ${median(off.map((x) => x.cpuPerRequest)).toFixed(3)} ms, on ${median(on.map((x) => x.cpuPerRequest)).toFixed(3)} ms: the requests/s one CPU allows, on/off = ${cpuRatio.toFixed(3)}×; ${logged} log file(s) written`)
    NodeFs.rmSync(NodePath.join(dir, "out", "predictions"), { recursive: true, force: true })
  }

  if (argv.includes("--skip-rows")) {
    process.stdout.write(out.join("\n") + "\n")
    return
  }
  say(`writing ${ROWS.toLocaleString("en-US")} logged rows in 100 files and 1M labels…`)
  const logDir = NodePath.join(dir, "out", "predictions")
  const labelsDir = NodePath.join(dir, "labels")
  NodeFs.mkdirSync(logDir, { recursive: true })
  NodeFs.mkdirSync(labelsDir, { recursive: true })
  const db = await DuckDBInstance.create(":memory:")
  const c = await db.connect()
  const per = Math.ceil(ROWS / 100)
  const t0 = Date.UTC(2026, 10, 1)
  for (let f = 0; f < 100; f++) {
    // as the server writes them: request id, time over 30 days, release, row, id, probability, prediction, features
    await c.run(`COPY (
      SELECT 'r' || (i // 100) AS request_id, make_timestamp(CAST((${t0} + (i * 30 * 86400000) // ${ROWS}) * 1000 AS BIGINT)) AS ts,
        '${releaseId}' AS release_id, CAST(i % 100 AS INTEGER) AS "row", 'c' || i AS id, p AS probability, CAST(p > 0.5 AS UTINYINT) AS prediction,
        a AS "f:lastmonth_activity", b AS "f:lastyear_activity", e AS "f:number_of_employees"
      FROM (SELECT i, random() * 700 AS a, random() * 12000 AS b, 1 + random() * 600 AS e, 1 / (1 + exp(-(random() * 6 - 3))) AS p
            FROM range(${f * per}, ${Math.min(ROWS, (f + 1) * per)}) t(i))
    ) TO '${NodePath.join(logDir, `bench-${f}.parquet`)}' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)`)
  }
  await c.run(`COPY (SELECT 'c' || (i * 10) AS corporation, CAST(random() < 0.4 AS INTEGER) AS exited FROM range(0, ${Math.floor(ROWS / 10)}) t(i)) TO '${NodePath.join(labelsDir, "labels.csv")}' (HEADER, DELIMITER ',')`)
  c.closeSync()
  db.closeSync()

  for (const [label, window] of [["first run (takes in the 1M labels)", "1d"], ["again", "1d"], ["again, 30d window", "30d"]] as const) {
    const r = measure(node, [MAIN, "monitor", "--json", "--config", config, "--set", `monitor_window=${window}`])
    const res = JSON.parse(r.stdout).result
    out.push(`monitor over ${res.loggedRows.toLocaleString("en-US")} logged rows, ${res.windows} window(s) of ${window}, ${label}: ${(r.wallMs / 1000).toFixed(2)} s wall (${(res.ms / 1000).toFixed(2)} s in the step), peak RSS ${r.peakMiB.toFixed(0)} MiB`)
  }
  if (!argv.includes("--keep")) NodeFs.rmSync(work, { recursive: true, force: true })
  else say(`kept ${work}`)
  process.stdout.write(out.join("\n") + "\n")
}

main().catch((e) => {
  say(String(e))
  if (!argv.includes("--keep")) NodeFs.rmSync(work, { recursive: true, force: true })
  else say(`kept ${work}`)
  process.exitCode = 1
})
