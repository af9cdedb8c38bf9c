/**
 * POST /prediction answered by the Node server itself (http/PredictionFastPath.ts), on a real
 * server on 127.0.0.1: the same bytes and headers as the API's answer, the same prediction
 * log rows and metrics; every other request reaches the API, those whose body was read here
 * with it replayed, so that the API's errors come back word for word; a release made live
 * in this process is answered with at once.
 */
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Metric } from "effect"
import * as NodeHttp from "node:http"
import { DuckDb, lit } from "../src/data/DuckDb.js"
import { PredictionLog, predictionLogGlob } from "../src/data/PredictionLog.js"
import { predictionRequests } from "../src/http/Prediction.js"
import { PredictionFastPath } from "../src/http/PredictionFastPath.js"
import { ApiServer, connectPredictions, limitedServer, limitsOf } from "../src/http/Server.js"
import { fullProcess } from "../src/programs/FullProcess.js"
import { AppConfig } from "../src/services/AppConfig.js"
import { Deployer } from "../src/services/Deployer.js"
import { FileStore } from "../src/services/FileStore.js"
import { referenceFiles, TestLayer } from "./layers.js"

/** counts what it took, and what it handed back to the API after reading the body */
class CountingFastPath extends PredictionFastPath {
  taken = 0
  handedBack = 0
  get answered() {
    return this.taken - this.handedBack
  }
  override take(req: NodeHttp.IncomingMessage, res: NodeHttp.ServerResponse, toApi: (req: NodeHttp.IncomingMessage, res: NodeHttp.ServerResponse) => void) {
    const taken = super.take(req, res, (q, r) => {
      this.handedBack++
      toApi(q, r)
    })
    if (taken) this.taken++
    return taken
  }
}

const post = (port: number, path: string, body: string, headers: Record<string, string> = { "content-type": "application/json" }) =>
  new Promise<{ status: number; headers: NodeHttp.IncomingHttpHeaders; text: string }>((resolve, reject) => {
    const req = NodeHttp.request({ host: "127.0.0.1", port, path, method: "POST", headers, agent: false }, (res) => {
      let text = ""
      res.on("data", (c: Buffer) => (text += c.toString()))
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text }))
    })
    req.on("error", reject)
    req.end(body)
  })

const rows = (n: number) =>
  JSON.stringify({ rows: Array.from({ length: n }, (_, i) => ({ lastmonth_activity: (i * 37) % 700, lastyear_activity: i === 2 ? null : (i * 911) % 12000, number_of_employees: 1 + i })) })

const SAME_HEADERS = ["content-type", "content-length", "x-content-type-options"]

describe("POST /prediction answered by the server", () => {
  it.live("answers as the API does, logs and counts the same, and hands everything else to the API", () => {
    const fast = new CountingFastPath()
    return Effect.scoped(Effect.gen(function*() {
      const base = TestLayer(referenceFiles(), { prediction_log_max_seconds: 3600 })
      const config = yield* AppConfig.pipe(Effect.provide(base))
      const ctx = yield* Layer.build(ApiServer(1 << 20).pipe(
        Layer.provideMerge(NodeHttpServer.layer(limitedServer(limitsOf(config), { prediction: fast }), { port: 0, host: "127.0.0.1" })),
        Layer.provideMerge(base)
      ))
      const first = yield* fullProcess().pipe(Effect.provide(ctx))
      assert.strictEqual(first.outcome, "redeployed")
      const port = (Context.get(ctx, HttpServer.HttpServer).address as HttpServer.TcpAddress).port
      const requestsBefore = (yield* Metric.value(predictionRequests)).count
      const deployer = yield* Deployer.pipe(Effect.provide(ctx))
      // the live id read afresh (its last read older than POINTER_TTL_MS): the server answers for the next second
      const readAfresh = Effect.zipRight(Effect.sleep("1100 millis"), deployer.current())

      // not connected yet: the API answers
      const early = yield* Effect.promise(() => post(port, "/prediction", rows(5)))
      assert.strictEqual(early.status, 200)
      assert.strictEqual(fast.taken, 0)
      yield* connectPredictions(fast).pipe(Effect.provide(ctx))

      // the live release as the API last read it (Deployer.peek): the server answers
      yield* readAfresh
      const answer = yield* Effect.promise(() => post(port, "/prediction", rows(5)))
      assert.strictEqual(fast.answered, 1, "answered by the server")
      const api = yield* Effect.promise(() => post(port, "/prediction?explain=false", rows(5)))
      assert.strictEqual(fast.answered, 1, "a query goes to the API")
      assert.strictEqual(answer.status, 200)
      assert.strictEqual(answer.text, api.text)
      assert.strictEqual(answer.text, early.text)
      for (const h of SAME_HEADERS) assert.strictEqual(answer.headers[h], api.headers[h], h)
      assert.strictEqual(JSON.parse(answer.text).releaseId, first.releaseId)

      // bodies the server reads and hands to the API, which answers as it does on its own path
      const handed = [
        JSON.stringify({ rows: [{ lastmonth_activity: "x", lastyear_activity: 1, number_of_employees: 2 }] }),
        "{\"rows\": [",
        JSON.stringify({ rows: [] }),
        JSON.stringify({ csv: "lastmonth_activity,lastyear_activity,number_of_employees\n1,2,3\n" }),
        JSON.stringify({ rows: [{ lastmonth_activity: 1, lastyear_activity: 1, number_of_employees: 2, extra: 1 }] })
      ]
      const statuses: Array<number> = []
      yield* readAfresh
      const answeredBefore = fast.answered
      for (const body of handed) {
        const viaServer = yield* Effect.promise(() => post(port, "/prediction", body))
        const viaApi = yield* Effect.promise(() => post(port, "/prediction?explain=false", body))
        statuses.push(viaServer.status)
        // read by the server (while the live release it holds is fresh: the first ones, at least) and handed back, or never taken
        assert.strictEqual(fast.answered, answeredBefore, body)
        assert.strictEqual(viaServer.status, viaApi.status, body)
        assert.strictEqual(viaServer.text, viaApi.text, body)
        for (const h of SAME_HEADERS) assert.strictEqual(viaServer.headers[h], viaApi.headers[h], `${body}: ${h}`)
      }
      assert.isAtLeast(fast.handedBack, 1)
      // refused: a text for a number, malformed JSON, no rows; scored: the CSV document, and a row with a key the API ignores
      assert.deepStrictEqual(statuses, [400, 400, 400, 200, 200])

      // not taken at all: credentials, another media type, a query
      const takenBefore = fast.taken
      const csv = yield* Effect.promise(() => post(port, "/prediction", "lastmonth_activity,lastyear_activity,number_of_employees\n1,2,3\n", { "content-type": "text/csv" }))
      assert.strictEqual(csv.status, 200)
      yield* Effect.promise(() => post(port, "/prediction", rows(2), { "content-type": "application/json", authorization: "Bearer x" }))
      assert.strictEqual(fast.taken, takenBefore)

      // logged and counted as the API's: every scored request, each row once
      // early, answer, api (5 rows each); the CSV document and the row with another key, each
      // twice (1 row each); the text/csv document (1 row); with credentials (2 rows)
      const scored = 9
      assert.strictEqual((yield* Metric.value(predictionRequests)).count - requestsBefore, scored)
      const log = yield* PredictionLog.pipe(Effect.provide(ctx))
      yield* log.flush
      const store = yield* FileStore.pipe(Effect.provide(ctx))
      const duck = yield* DuckDb.pipe(Effect.provide(ctx))
      const logged = yield* duck.rows(`SELECT request_id, count(*) AS n, min(release_id) AS release FROM read_parquet(${lit(store.localPath(predictionLogGlob(log.dir)))}) GROUP BY 1`)
      assert.strictEqual(logged.length, scored)
      assert.deepStrictEqual(logged.map((r) => Number(r.n)).sort(), [1, 1, 1, 1, 1, 2, 5, 5, 5])
      assert.isTrue(logged.every((r) => r.release === first.releaseId))

      // a release made live in this process: the next answer is the new release's
      yield* readAfresh
      const answeredThen = fast.answered
      yield* Effect.promise(() => post(port, "/prediction", rows(5)))
      assert.strictEqual(fast.answered, answeredThen + 1)
      const again = yield* deployer.deploy()
      assert.notStrictEqual(again.releaseId, first.releaseId)
      const after = yield* Effect.promise(() => post(port, "/prediction", rows(5)))
      assert.strictEqual(JSON.parse(after.text).releaseId, again.releaseId)
      const next = yield* Effect.promise(() => post(port, "/prediction", rows(5)))
      assert.strictEqual(JSON.parse(next.text).releaseId, again.releaseId)
    }))
  })
})
