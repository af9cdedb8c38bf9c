/** The HTTP server (`serve`) and the `apicalls` program. */
import { HttpApiBuilder, HttpApiSwagger, HttpMiddleware, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Layer } from "effect"
import cluster from "node:cluster"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import * as NodeNet from "node:net"
import * as NodePath from "node:path"
import { WORKER_CONNECTION, WORKER_READY } from "./Handoff.js"
import { answeringHealth, HealthAnswer } from "./Health.js"
import { SlicedScheduler } from "./SlicedScheduler.js"

/**
 * How long the server's fibers run before the event loop polls its sockets again. 1 ms
 * rather than 5: in five alternating pairs of 10 s runs (POST /prediction, 100 rows, c=64,
 * serve --workers 2 with the prediction log on) the p99 was lower in every pair (93 against
 * 107 ms, 104 against 146, 121 against 123, 140 against 168, 72 against 78 with the log
 * off), at the same CPU per request.
 */
const SLICE_MS = 1
import { csvFilesAt } from "../lib/Dataset.js"
import type { AppConfigSchema } from "../domain/Schemas.js"
import { AppConfig } from "../services/AppConfig.js"
import { Deployer } from "../services/Deployer.js"
import { FileStore } from "../services/FileStore.js"
import { makeApi } from "./Api.js"
import { apiFailures, guard } from "./Guard.js"
import { modelHandlers, releaseHandlers, systemHandlers } from "./Handlers.js"
import { monitoringHandlers } from "./MonitoringHandlers.js"

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

/** A node:http server with the limits applied (and plain GET /health answered by `health`, when given). */
export const limitedServer = (limits: ServerLimits, health?: HealthAnswer) => () => {
  const server = createServer({
    headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // how often the timeouts above are checked (Node's default is 30 s)
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4)))
  })
  server.maxConnections = limits.maxConnections
  return holdingEarlyRequests(health === undefined ? server : answeringHealth(server, health))
}

/** The API on a Node server. */
export const HttpLive = (port: number, host: string, maxBodyBytes: number, limits: ServerLimits, accessLog = false, health?: HealthAnswer) =>
  ApiServer(maxBodyBytes, accessLog).pipe(
    // no trace exporter is configured: the server's span of each request would be built and dropped
    HttpMiddleware.withTracerDisabledWhen(() => true),
    HttpServer.withLogAddress,
    Layer.provideMerge(NodeHttpServer.layer(limitedServer(limits, health), { port, host }))
  )

/**
 * A `serve --workers` worker's server takes the connections the primary hands over (see
 * cli/Workers.ts), up to `server_max_connections` at once.
 */
const servingHandedConnections = (server: Server) => {
  let open = 0
  process.on("message", (message: unknown, socket: unknown) => {
    if (message !== WORKER_CONNECTION || !(socket instanceof NodeNet.Socket)) return
    if (open >= server.maxConnections) {
      socket.destroy()
      return
    }
    open++
    socket.once("close", () => open--)
    server.emit("connection", socket)
  })
  return server
}

/**
 * The API in a `serve --workers` worker: its server listens only on a port of its own on the
 * loopback interface (the API needs a listening server) and serves what the primary hands
 * over; the primary hears once it serves.
 */
export const WorkerHttpLive = (maxBodyBytes: number, limits: ServerLimits, accessLog = false, health?: HealthAnswer) =>
  ApiServer(maxBodyBytes, accessLog).pipe(
    HttpMiddleware.withTracerDisabledWhen(() => true),
    Layer.provideMerge(NodeHttpServer.layer(() => servingHandedConnections(limitedServer(limits, health)()), { port: 0, host: "127.0.0.1", exclusive: true })),
    Layer.tap(() => Effect.sync(() => process.send?.(WORKER_READY)))
  )

export const serveProgram = (port?: number) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    // plain GET /health from memory (see Health.ts); with an access log, every request goes through the API
    const health = config.access_log ? undefined : new HealthAnswer()
    const live = cluster.isWorker
      ? WorkerHttpLive(config.max_body_bytes, limitsOf(config), config.access_log, health)
      : HttpLive(port ?? config.api_port, config.api_host, config.max_body_bytes, limitsOf(config), config.access_log, health)
    const refreshing = health === undefined ? Layer.empty : Layer.scopedDiscard(Effect.forkScoped(health.refresh))
    return yield* Layer.launch(Layer.merge(live, refreshing)).pipe(
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
