/**
 * Benchmarks (not tests): ingestion and training throughput on generated data (1M rows by
 * default), and HTTP prediction throughput under a local, bounded load generator.
 *   npm run bench -- [--rows N] [--files K] [--seconds S] [--concurrency C] [--batch B]
 */
import { Context, Effect, Layer, Logger, LogLevel } from "effect"
import { HttpServer } from "@effect/platform"
import * as NodeFs from "node:fs"
import * as NodeHttp from "node:http"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { parseArgs } from "node:util"
import { AppConfigSchema, DependencyReport } from "../domain/Schemas.js"
import { HttpLive, limitsOf } from "../http/Server.js"
import { liveServices } from "../programs/AppLayer.js"
import { writeBulkData, generateCsv } from "../programs/GenerateData.js"
import { deploymentStep, ingestionStep, scoringStep, trainingStep } from "../programs/Steps.js"
import { Dependencies } from "../services/Dependencies.js"

const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "1000000" },
    files: { type: "string", default: "4" },
    seconds: { type: "string", default: "5" },
    concurrency: { type: "string", default: "16" },
    batch: { type: "string", default: "100" }
  }
})
const ROWS = Number(values.rows)
const FILES = Number(values.files)
const SECONDS = Number(values.seconds)
const CONCURRENCY = Number(values.concurrency)
const BATCH = Number(values.batch)

// node:http with keep-alive: fetch (undici) would be the bottleneck, not the server
const agent = new NodeHttp.Agent({ keepAlive: true, maxSockets: 256 })
const post = (url: string, body: string) =>
  new Promise<number>((resolve, reject) => {
    const req = NodeHttp.request(url, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      res.resume()
      res.on("end", () => resolve(res.statusCode ?? 0))
    })
    req.on("error", reject)
    req.end(body)
  })

let peakRss = 0
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss)
}, 20)
const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MiB`
const rate = (n: number, ms: number) => `${Math.round((n / ms) * 1000).toLocaleString("en-US")}/s`

const measure = async <A>(label: string, rows: number, f: () => Promise<A>) => {
  peakRss = process.memoryUsage().rss
  const t0 = performance.now()
  const a = await f()
  const ms = performance.now() - t0
  console.log(`${label.padEnd(22)} ${rows.toLocaleString("en-US").padStart(10)} rows  ${(ms / 1000).toFixed(2).padStart(7)} s  ${rate(rows, ms).padStart(12)} rows  peak RSS ${mb(Math.max(peakRss, process.memoryUsage().rss))}`)
  return a
}

const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "drs-bench-"))
const config = AppConfigSchema.make({
  input_folder_path: NodePath.join(dir, "in"),
  output_folder_path: NodePath.join(dir, "out"),
  test_data_path: NodePath.join(dir, "test"),
  output_model_path: NodePath.join(dir, "models"),
  prod_deployment_path: NodePath.join(dir, "prod"),
  db_path: NodePath.join(dir, "out", "drs.sqlite"),
  quarantine_folder_path: NodePath.join(dir, "quarantine")
})
const layer = liveServices(config, () =>
  Dependencies.layerFixed(DependencyReport.make({ checked: false, error: "not checked in benchmarks", packages: [] })))

const program = Effect.gen(function*() {
  const ctx = yield* Layer.build(layer)
  const run = <A, E>(e: Effect.Effect<A, E, Layer.Layer.Success<typeof layer>>) =>
    Effect.runPromise(Effect.provide(e, ctx).pipe(Logger.withMinimumLogLevel(LogLevel.Warning)))
  console.log(`node ${process.version}, ${NodeOs.cpus().length} cores; data in ${dir}`)
  yield* Effect.promise(() => measure("generate CSV", ROWS, () => run(writeBulkData(config.input_folder_path, ROWS, FILES, 7))))
  NodeFs.mkdirSync(config.test_data_path, { recursive: true })
  yield* Effect.promise(() => run(writeBulkData(config.test_data_path, 1000, 1, 99)))
  const ingested = yield* Effect.promise(() => measure("ingestion", ROWS, () => run(ingestionStep(null))))
  yield* Effect.promise(() => measure("training (liblinear)", ingested.totalRows, () => run(trainingStep(null))))
  yield* Effect.promise(() => run(scoringStep(null).pipe(Effect.zipRight(deploymentStep(null)))))

  // HTTP: a real server on a free port, a bounded local load generator
  const server = yield* Layer.build(HttpLive(0, "127.0.0.1", 16 * 1024 * 1024, limitsOf(config)).pipe(Layer.provide(Layer.succeedContext(ctx))))
  const address = Context.get(server, HttpServer.HttpServer).address
  const base = address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : ""
  const body = JSON.stringify({ csv: generateCsv(BATCH, 5) })
  const latencies: Array<number> = []
  let errors = 0
  const deadline = Date.now() + SECONDS * 1000
  const maxRequests = 1_000_000
  peakRss = process.memoryUsage().rss
  const t0 = performance.now()
  yield* Effect.promise(() => Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (Date.now() < deadline && latencies.length + errors < maxRequests) {
      const s = performance.now()
      const status = await post(`${base}/prediction`, body)
      if (status === 200) latencies.push(performance.now() - s)
      else errors++
    }
  })))
  const ms = performance.now() - t0
  latencies.sort((a, b) => a - b)
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]?.toFixed(1) ?? "n/a"
  console.log(`HTTP POST /prediction   ${latencies.length} requests of ${BATCH} rows in ${(ms / 1000).toFixed(2)} s, concurrency ${CONCURRENCY}: ${rate(latencies.length, ms)} requests, ${rate(latencies.length * BATCH, ms)} rows; p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms; ${errors} errors; peak RSS ${mb(peakRss)}`)
})

// request logs would measure the terminal, not the server
Effect.runPromise(Effect.scoped(program).pipe(Logger.withMinimumLogLevel(LogLevel.Warning), Effect.orDie))
  .catch((e) => {
    console.error(e)
    process.exitCode = 1
  })
  .finally(() => {
    clearInterval(sampler)
    agent.destroy()
    NodeFs.rmSync(dir, { recursive: true, force: true })
  })
