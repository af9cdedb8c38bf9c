/** The HTTP server (`serve`) and the `apicalls` program. */
import { HttpApiBuilder, HttpApiSwagger, HttpMiddleware, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Layer, Runtime } from "effect"
import cluster from "node:cluster"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import * as NodePath from "node:path"
import { HealthAnswer } from "./Health.js"
import { workerReady } from "./WorkerReady.js"
import { countPrediction } from "./Prediction.js"
import { PredictionFastPath } from "./PredictionFastPath.js"
import { SlicedScheduler } from "./SlicedScheduler.js"
import { csvFilesAt } from "../lib/Dataset.js"
import type { AppConfigSchema } from "../domain/Schemas.js"
import { AppConfig } from "../services/AppConfig.js"
import { PredictionLog } from "../data/PredictionLog.js"
import { Deployer } from "../services/Deployer.js"
import { FileStore } from "../services/FileStore.js"
import { decodesUnchanged, makeApi } from "./Api.js"
import { apiFailures, guard } from "./Guard.js"
import { modelHandlers, releaseHandlers, systemHandlers } from "./Handlers.js"
import { monitoringHandlers } from "./MonitoringHandlers.js"

/**
 * How long the server's fibers run before the event loop polls its sockets again. 1 ms
 * rather than 5: in five alternating pairs of 10 s runs (POST /prediction, 100 rows, c=64,
 * serve --workers 2 with the prediction log on) the p99 was lower in every pair (93 against
 * 107 ms, 104 against 146, 121 against 123, 140 against 168, 72 against 78 with the log
 * off), at the same CPU per request.
 */
const SLICE_MS = 1

/**
 * The API of the configured dataset, with its handlers. The OpenAPI document lists the
 * categories the model live at start-up knows as examples of each categorical feature.
 */
export const ApiLive = Layer.unwrapEffect(Effect.gen(function*() {
  const config = yield* AppConfig
  const live = config.dataset.categorical_columns.length === 0
    ? undefined
    : yield* Effect.flatMap(Deployer, (d) => d.current()).pipe(Effect.map((l) => l.model), Effect.catchAllCause(() => Effect.succeed(undefined)))
  const categories = new Map((live?.encoding ?? []).flatMap((e) => (e.kind === "categorical" ? [[e.name, e.categories] as const] : [])))
  const api = makeApi(config.dataset, categories)
  return HttpApiBuilder.api(api).pipe(Layer.provide([modelHandlers(api), releaseHandlers(api), systemHandlers(api), monitoringHandlers(api)]))
}))

/** The API with its docs page and OpenAPI document, served by whichever HttpServer is provided. */
export const ApiServer = (maxBodyBytes: number, accessLog = false) =>
  HttpApiBuilder.serve((app) => {
    const guarded = guard({ maxBodyBytes })(app)
    return accessLog ? HttpMiddleware.logger(guarded) : guarded
  }).pipe(
    Layer.provide(apiFailures),
    Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
    Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
    Layer.provide(ApiLive)
  )

/** How long a client may take and how many may connect: slow or idle clients never hold sockets for long. */
export interface ServerLimits {
  readonly headersTimeoutMs: number
  readonly requestTimeoutMs: number
  readonly keepAliveTimeoutMs: number
  readonly maxConnections: number
}

export const limitsOf = (config: AppConfigSchema): ServerLimits => ({
  headersTimeoutMs: config.server_headers_timeout_ms,
  requestTimeoutMs: config.server_request_timeout_ms,
  keepAliveTimeoutMs: config.server_keepalive_timeout_ms,
  maxConnections: config.server_max_connections
})

/**
 * The port opens before the API's handler is attached (NodeHttpServer listens, then the app
 * is served), and a request that arrived in between went to no handler and was never
 * answered (a client that connected as the server started waited until it gave up). Such
 * requests wait for the handler and go to it once it is attached.
 */
const holdingEarlyRequests = (server: Server) => {
  const early: Array<readonly [IncomingMessage, ServerResponse]> = []
  const hold = (req: IncomingMessage, res: ServerResponse) => {
    early.push([req, res])
  }
  server.on("request", hold)
  const attached = (event: string | symbol, handler: (req: IncomingMessage, res: ServerResponse) => void) => {
    if (event !== "request" || handler === hold) return
    server.off("request", hold)
    server.off("newListener", attached)
    // once the handler is attached (this event comes just before)
    process.nextTick(() => {
      for (const [req, res] of early.splice(0)) handler.call(server, req, res)
    })
  }
  server.on("newListener", attached)
  return server
}

/** What the Node server answers itself, ahead of the API (none with an access log: every request goes through the API). */
export interface FastPaths {
  readonly health?: HealthAnswer | undefined
  readonly prediction?: PredictionFastPath | undefined
}

/** A Node server whose fast paths take the requests they answer; the rest (and those they hand back) reach its request listeners. */
const answeringFirst = (server: Server, fast: FastPaths): Server => {
  const emit = server.emit.bind(server) as (event: string | symbol, ...args: Array<unknown>) => boolean
  const toApi = (req: IncomingMessage, res: ServerResponse) => {
    emit("request", req, res)
  }
  server.emit = ((event: string | symbol, ...args: Array<unknown>) => {
    if (event === "request") {
      const req = args[0] as IncomingMessage
      const res = args[1] as ServerResponse
      if (fast.health?.answer(req, res) || fast.prediction?.take(req, res, toApi)) return true
    }
    return emit(event, ...args)
  }) as typeof server.emit
  return server
}

/** A node:http server with the limits applied, answering what `fast` takes (see Health.ts, PredictionFastPath.ts). */
export const limitedServer = (limits: ServerLimits, fast: FastPaths = {}) => () => {
  const server = createServer({
    headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // how often the timeouts above are checked (Node's default is 30 s)
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4)))
  })
  server.maxConnections = limits.maxConnections
  return holdingEarlyRequests(answeringFirst(server, fast))
}

/** The API on a Node server listening on `port` (the workers of `serve --workers` share it, see cli/Workers.ts). */
const apiListening = (port: number, host: string, maxBodyBytes: number, limits: ServerLimits, accessLog: boolean, fast: FastPaths) =>
  ApiServer(maxBodyBytes, accessLog).pipe(
    // no trace exporter is configured: the server's span of each request would be built and dropped
    HttpMiddleware.withTracerDisabledWhen(() => true),
    Layer.provideMerge(NodeHttpServer.layer(limitedServer(limits, fast), { port, host }))
  )

/** The API on a Node server, which logs its address. */
export const HttpLive = (port: number, host: string, maxBodyBytes: number, limits: ServerLimits, accessLog = false, fast: FastPaths = {}) =>
  HttpServer.withLogAddress(apiListening(port, host, maxBodyBytes, limits, accessLog, fast))

/**
 * The API in a `serve --workers` worker: it listens on the port with the other workers (the
 * primary opens the socket) and tells the primary, which logs the address once, when it serves.
 */
export const WorkerHttpLive = (port: number, host: string, maxBodyBytes: number, limits: ServerLimits, accessLog = false, fast: FastPaths = {}) =>
  apiListening(port, host, maxBodyBytes, limits, accessLog, fast).pipe(
    Layer.tap((ctx) =>
      Effect.sync(() => {
        const address = Context.get(ctx, HttpServer.HttpServer).address
        process.send?.(workerReady(address._tag === "TcpAddress" ? address.port : port))
      })
    )
  )

/** The fast path's services: the live release as Deployer last read it, the API's request check, the prediction log and metrics. */
export const connectPredictions = (prediction: PredictionFastPath) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const deployer = yield* Deployer
    const log = yield* PredictionLog
    const run = Runtime.runSync(yield* Effect.runtime<never>())
    prediction.connect({
      dataset: config.dataset,
      maxBodyBytes: config.max_body_bytes,
      maxRows: config.max_prediction_rows,
      live: deployer.peek,
      unchanged: decodesUnchanged(config.dataset),
      record: (logged) => run(Effect.zipRight(log.record(logged), countPrediction(logged.rows)))
    })
  })

export const serveProgram = (port?: number) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    // plain GET /health from memory (see Health.ts) and plain JSON predictions (see
    // PredictionFastPath.ts); with an access log, every request goes through the API
    const fast = config.access_log ? {} : { health: new HealthAnswer(), prediction: new PredictionFastPath() }
    const live = cluster.isWorker
      ? WorkerHttpLive(port ?? config.api_port, config.api_host, config.max_body_bytes, limitsOf(config), config.access_log, fast)
      : HttpLive(port ?? config.api_port, config.api_host, config.max_body_bytes, limitsOf(config), config.access_log, fast)
    const refreshing = fast.health === undefined ? Layer.empty : Layer.scopedDiscard(Effect.forkScoped(fast.health.refresh))
    const predicting = fast.prediction === undefined ? Layer.empty : Layer.effectDiscard(connectPredictions(fast.prediction))
    return yield* Layer.launch(Layer.mergeAll(live, refreshing, predicting)).pipe(
      // nor the spans of the service calls each request makes
      Effect.withTracerEnabled(false),
      // the requests' fibers in slices: the event loop takes in new connections and requests every few ms
      Effect.withScheduler(new SlicedScheduler(SLICE_MS))
    )
  })

interface Call {
  readonly method: "GET" | "POST"
  readonly path: string
  readonly body?: unknown
}

/**
 * Call every endpoint and save the responses to apireturns.txt (and apireturns.json) in the
 * output folder. Without `baseUrl`, an in-process server on a free port answers.
 */
export const apiCallsProgram = (baseUrl?: string) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const store = yield* FileStore
    // the test data as it is on disk: the prediction endpoint reads the declared columns
    const testCsv = yield* csvFilesAt(config.test_data_path).pipe(
      Effect.flatMap((files) => files.length > 0 ? store.readText(files[0]!) : Effect.succeed("")),
      Effect.provideService(FileStore, store),
      Effect.orElseSucceed(() => "")
    )
    const calls: ReadonlyArray<Call> = [
      { method: "GET", path: "/health" },
      { method: "POST", path: "/prediction", body: { csv: testCsv } },
      { method: "GET", path: "/scoring" },
      { method: "GET", path: "/summarystats" },
      { method: "GET", path: "/diagnostics" },
      { method: "GET", path: "/drift" },
      { method: "GET", path: "/releases" },
      { method: "GET", path: "/download" },
      { method: "GET", path: "/metrics" }
    ]
    const run = (base: string) =>
      Effect.forEach(calls, (c) =>
        Effect.tryPromise(async () => {
          const init: RequestInit = c.body === undefined
            ? { method: c.method }
            : { method: c.method, body: JSON.stringify(c.body), headers: { "content-type": "application/json" } }
          const res = await fetch(new URL(c.path, base), { ...init, signal: AbortSignal.timeout(config.dependency_check_timeout_ms + 10_000) })
          const type = res.headers.get("content-type") ?? ""
          const bytes = new Uint8Array(await res.arrayBuffer())
          const body = type.startsWith("application/pdf")
            ? `<PDF, ${bytes.length} bytes>`
            : new TextDecoder().decode(bytes)
          return { method: c.method, path: c.path, status: res.status, contentType: type, body }
        }).pipe(Effect.catchAll((e) => Effect.succeed({ method: c.method, path: c.path, status: 0, contentType: "", body: `request failed: ${String(e.error)}` }))))
    const results = baseUrl !== undefined
      ? yield* run(baseUrl)
      : yield* Effect.scoped(Effect.gen(function*() {
        const ctx = yield* Layer.build(HttpLive(0, "127.0.0.1", config.max_body_bytes, limitsOf(config))).pipe(Effect.orDie)
        const address = Context.get(ctx, HttpServer.HttpServer).address
        const base = address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : "http://127.0.0.1:8000"
        return yield* run(base)
      }))
    const text = results.map((r) => `### ${r.method} ${r.path} -> ${r.status} ${r.contentType}\n${r.body.trimEnd()}\n`).join("\n")
    const path = NodePath.join(config.output_folder_path, "apireturns.txt")
    const jsonPath = NodePath.join(config.output_folder_path, "apireturns.json")
    yield* store.writeAtomic(path, text).pipe(Effect.orDie)
    yield* store.writeAtomic(jsonPath, JSON.stringify({ calledAt: new Date().toISOString(), results }, null, 2) + "\n").pipe(Effect.orDie)
    const failed = results.filter((r) => r.status === 0 || r.status >= 500)
    if (failed.length > 0) yield* Effect.logWarning(`${failed.length} API call(s) failed: ${failed.map((f) => f.path).join(", ")}`)
    return { path, jsonPath, calls: results.length, statuses: results.map((r) => `${r.path} ${r.status}`) }
  })
