import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, HashMap, Layer, Logger, Stream } from "effect"
import { fullProcess } from "../src/programs/FullProcess.js"
import { Tracking } from "../src/services/Tracking.js"
import { ApiServer } from "../src/http/Server.js"
import { csv, referenceFiles, TestLayer } from "./layers.js"

const TOKEN = "s3cret-token"

const serverWith = (files: Record<string, string>, maxBody = 64 * 1024) =>
  ApiServer(maxBody).pipe(
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provideMerge(TestLayer(files, { api_token: TOKEN, max_body_bytes: maxBody }))
  )

const json = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  HttpClientRequest.post(path).pipe(HttpClientRequest.bodyUnsafeJson(body), HttpClientRequest.setHeaders(headers))

const send = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const res = yield* client.execute(request)
    const text = yield* res.text
    return { status: res.status, type: res.headers["content-type"] ?? "", text, body: () => JSON.parse(text) }
  })

const get = (path: string) => send(HttpClientRequest.get(path))

describe("HTTP API before anything is deployed", () => {
  it.effect("health says so, prediction is 503, download is 404", () =>
    Effect.gen(function*() {
      const health = yield* get("/health")
      assert.strictEqual(health.status, 200)
      const { instance, ...rest } = health.body()
      assert.deepStrictEqual(rest, { status: "ok", releaseId: null, f1: null })
      assert.match(instance, /^[0-9a-f]{8}$/)
      assert.notInclude(health.text, String(process.pid))
      const p = yield* send(json("/prediction", { rows: [{ lastmonth_activity: 1, lastyear_activity: 2, number_of_employees: 3 }] }))
      assert.strictEqual(p.status, 503)
      assert.include(p.body().message, "nothing is deployed")
      assert.strictEqual((yield* get("/download")).status, 404)
      const page = yield* get("/")
      assert.strictEqual(page.status, 200)
      assert.include(page.text, "Nothing deployed yet.")
    }).pipe(Effect.provide(serverWith(referenceFiles()))))
})

describe("HTTP API with a deployed model", () => {
  const deployed = <A, E, R>(self: Effect.Effect<A, E, R>) =>
    fullProcess().pipe(Effect.zipRight(self), Effect.provide(serverWith(referenceFiles(), 4096)))

  it.effect("predicts from JSON rows and from CSV, like the reference model", () =>
    deployed(Effect.gen(function*() {
      const files = referenceFiles()
      const fromCsv = yield* send(json("/prediction", { csv: files["/t/data/testdata/testdata.csv"] }))
      assert.strictEqual(fromCsv.status, 200)
      assert.deepStrictEqual(fromCsv.body().predictions, [0, 1, 1, 1, 1])
      const rawCsv = yield* send(HttpClientRequest.post("/prediction").pipe(HttpClientRequest.bodyText(files["/t/data/testdata/testdata.csv"]!, "text/csv")))
      assert.strictEqual(rawCsv.status, 200, rawCsv.text)
      assert.deepStrictEqual(rawCsv.body().predictions, [0, 1, 1, 1, 1])
      const fromJson = yield* send(json("/prediction", {
        rows: [
          { corporation: "werf", lastmonth_activity: 234, lastyear_activity: 3, number_of_employees: 10 },
          { lastmonth_activity: 14, lastyear_activity: 2145, number_of_employees: 99 }
        ]
      }))
      assert.strictEqual(fromJson.status, 200)
      assert.deepStrictEqual(fromJson.body().predictions, [0, 1])
      assert.lengthOf(fromJson.body().probabilities, 2)
    })))

  it.effect("bad input is a 400 that says what is wrong; a large body is a 413", () =>
    deployed(Effect.gen(function*() {
      const neither = yield* send(json("/prediction", {}))
      assert.strictEqual(neither.status, 400)
      assert.include(neither.body().message, "exactly one of")
      const badCsv = yield* send(json("/prediction", { csv: "lastmonth_activity,lastyear_activity,number_of_employees\n1,2,3\n4,five,6\n" }))
      assert.strictEqual(badCsv.status, 400)
      assert.include(badCsv.body().message, `line 3, column "lastyear_activity": "five" is not a number`)
      const missingColumn = yield* send(json("/prediction", { csv: "lastmonth_activity,lastyear_activity\n1,2\n" }))
      assert.include(missingColumn.body().message, "missing column(s) number_of_employees")
      const badJson = yield* send(json("/prediction", { rows: [{ lastmonth_activity: "x", lastyear_activity: 2, number_of_employees: 3 }] }))
      assert.strictEqual(badJson.status, 400)
      assert.include(badJson.text, "lastmonth_activity")
      const notJson = yield* send(HttpClientRequest.post("/prediction").pipe(HttpClientRequest.bodyText("{oops", "application/json")))
      assert.strictEqual(notJson.status, 400)
      const big = yield* send(json("/prediction", { csv: "x".repeat(5000) }))
      assert.strictEqual(big.status, 413)
      assert.include(big.body().message, "over the limit of 4096 bytes")
      // a streamed body declares no length: the server keeps nothing past the limit and answers 413
      const chunked = yield* send(HttpClientRequest.post("/prediction").pipe(
        HttpClientRequest.bodyStream(Stream.make(new TextEncoder().encode("x".repeat(3000)), new TextEncoder().encode("y".repeat(3000))), { contentType: "text/csv" })
      ))
      assert.strictEqual(chunked.status, 413)
      assert.include(chunked.body().message, "over the limit of 4096 bytes")
    })))

  it.effect("scoring is read-only and matches the deployed score", () =>
    deployed(Effect.gen(function*() {
      const tracking = yield* Tracking
      const before = (yield* tracking.scores()).length
      const s = yield* get("/scoring")
      assert.strictEqual(s.status, 200)
      assert.strictEqual(s.body().f1, 0.5714285714285715)
      assert.deepStrictEqual(s.body().confusionMatrix, [[0, 2], [1, 2]])
      // scikit-learn's classification_report of the reference model, class keys the target's labels
      const report = s.body().classificationReport
      assert.deepStrictEqual(Object.keys(report.perClass), ["0", "1"])
      assert.deepStrictEqual(report.perClass["0"], { precision: 0, recall: 0, f1: 0, support: 2 })
      assert.deepStrictEqual(report.perClass["1"], { precision: 0.5, recall: 2 / 3, f1: 0.5714285714285715, support: 3 })
      assert.strictEqual(report.accuracy, 0.4)
      assert.strictEqual(report.weightedAvg.f1.toFixed(4), "0.3429")
      assert.isNumber(s.body().rocAuc)
      assert.isNumber(s.body().logLoss)
      assert.strictEqual((yield* tracking.scores()).length, before)
    })))

  it.effect("summary stats, diagnostics, download, metrics, monitoring page and OpenAPI", () =>
    deployed(Effect.gen(function*() {
      const stats = yield* get("/summarystats")
      assert.deepStrictEqual(stats.body().map((c: { column: string }) => c.column), ["lastmonth_activity", "lastyear_activity", "number_of_employees"])
      assert.strictEqual(stats.body()[0].count, 26)
      const diag = yield* get("/diagnostics")
      assert.strictEqual(diag.status, 200)
      assert.lengthOf(diag.body().missing, 5)
      assert.strictEqual(diag.body().dependencies.packages[0].name, "left-pad")
      assert.isTrue(diag.body().timings.some((t: { step: string }) => t.step === "training"))
      const pdf = yield* get("/download")
      assert.strictEqual(pdf.status, 200)
      assert.strictEqual(pdf.type, "application/pdf")
      assert.isTrue(pdf.text.startsWith("%PDF-"))
      const metrics = yield* get("/metrics")
      assert.include(metrics.type, "text/plain")
      assert.include(metrics.text, "drs_deployed 1\n")
      assert.include(metrics.text, "drs_deployed_f1 0.5714285714285715\n")
      assert.include(metrics.text, "drs_ingested_files 2\n")
      const page = yield* get("/")
      assert.include(page.type, "text/html")
      assert.include(page.text, `id="score-chart"`)
      assert.include(page.text, "no model is deployed yet")
      assert.include(page.text, "dataset1.csv")
      const openapi = yield* get("/openapi.json")
      assert.containsAllKeys(openapi.body().paths, ["/prediction", "/scoring", "/summarystats", "/diagnostics", "/download", "/health", "/metrics"])
      assert.strictEqual((yield* get("/docs")).status, 200)
    })))

  it.effect("the mutating endpoint needs the bearer token", () =>
    deployed(Effect.gen(function*() {
      assert.strictEqual((yield* send(HttpClientRequest.post("/fullprocess"))).status, 401)
      assert.strictEqual((yield* send(HttpClientRequest.post("/fullprocess").pipe(HttpClientRequest.bearerToken("wrong")))).status, 401)
      const ok = yield* send(HttpClientRequest.post("/fullprocess").pipe(HttpClientRequest.bearerToken(TOKEN)))
      assert.strictEqual(ok.status, 200)
      assert.strictEqual(ok.body().outcome, "no-new-data")
    })))

  it.effect("test data rows are accepted back as CSV", () =>
    deployed(Effect.gen(function*() {
      const r = yield* send(json("/prediction", { csv: csv([{ corporation: "q", lastmonth_activity: 1, lastyear_activity: 2, number_of_employees: null, exited: 0 }]) }))
      assert.strictEqual(r.status, 200)
      assert.lengthOf(r.body().predictions, 1)
    })))
})

describe("the access log", () => {
  const logged = (accessLog: boolean) =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const logger = Logger.make(({ annotations, message }) => {
        lines.push(`${String(message)} ${JSON.stringify(Object.fromEntries(HashMap.toEntries(annotations)))}`)
      })
      yield* get("/health").pipe(
        Effect.provide(ApiServer(1 << 16, accessLog).pipe(Layer.provideMerge(NodeHttpServer.layerTest), Layer.provideMerge(TestLayer(referenceFiles())))),
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
      return lines.filter((l) => l.includes("/health"))
    })

  it.effect("logs each request when access_log is on, and nothing when it is off (the default)", () =>
    Effect.gen(function*() {
      const on = yield* logged(true)
      assert.isAtLeast(on.length, 1)
      assert.include(on[0]!, `"http.status":200`)
      assert.deepStrictEqual(yield* logged(false), [])
    }))
})
