/**
 * Degrade, don't fail: a server whose PostgreSQL is stopped keeps predicting with the live
 * model it holds, says on /health (503, JSON) that the database is down, answers the endpoints
 * that need the database with a 503 and a JSON message, logs every 5xx with its cause, and
 * recovers by itself when PostgreSQL is started again. A real PostgreSQL, stopped and started.
 */
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Context, Effect, HashMap, Layer, Logger } from "effect"
import { createServer } from "node:http"
import { ApiServer } from "../src/http/Server.js"
import { fullProcess } from "../src/programs/FullProcess.js"
import { DbLive } from "../src/services/Db.js"
import { Tracking } from "../src/services/Tracking.js"
import { referenceFiles, TestLayer } from "./layers.js"
import { startPostgres, type TempPostgres } from "./support/Postgres.js"

let pg: TempPostgres | undefined

beforeAll(async () => {
  pg = await startPostgres()
  pg.createDatabase("drs_down")
}, 120_000)

afterAll(() => pg?.stop())

const call = async (port: number, path: string, body?: unknown) => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, body === undefined
    ? {}
    : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
  const text = await res.text()
  return { status: res.status, type: res.headers.get("content-type") ?? "", text, json: () => JSON.parse(text) }
}

const ROW = { lastmonth_activity: 234, lastyear_activity: 3, number_of_employees: 10 }

describe("the tracking database goes down and comes back", () => {
  it.live("prediction keeps serving the live model; health and the database's endpoints answer 503 JSON; every 5xx is logged; recovery needs no restart", () => {
    const lines: Array<string> = []
    const logger = Logger.make(({ logLevel, message, cause, annotations }) => {
      lines.push(`${logLevel.label} ${String(message)} ${cause._tag === "Empty" ? "" : String(cause)} ${JSON.stringify(Object.fromEntries(HashMap.toEntries(annotations)))}`)
    })
    return Effect.scoped(Effect.gen(function*() {
      const ctx = yield* Layer.build(ApiServer(1 << 20).pipe(
        Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
        Layer.provideMerge(TestLayer(referenceFiles(), {}, Tracking.layerOn(DbLive(pg!.url("drs_down")))))
      ))
      const first = yield* fullProcess().pipe(Effect.provide(ctx))
      assert.strictEqual(first.outcome, "redeployed")
      const port = (Context.get(ctx, HttpServer.HttpServer).address as HttpServer.TcpAddress).port

      return yield* Effect.promise(async () => {
        const up = await call(port, "/prediction", { rows: [ROW] })
        assert.strictEqual(up.status, 200)
        const releaseId = up.json().releaseId
        assert.strictEqual((await call(port, "/health")).status, 200)

        pg!.halt()
        lines.length = 0
        // past the one-second trust in the last read of the live id
        await new Promise((r) => setTimeout(r, 1200))
        const t0 = Date.now()
        const predicted = await call(port, "/prediction", { rows: [ROW] })
        assert.strictEqual(predicted.status, 200, predicted.text)
        assert.strictEqual(predicted.json().releaseId, releaseId)
        assert.deepStrictEqual(predicted.json().predictions, up.json().predictions)
        const health = await call(port, "/health")
        assert.strictEqual(health.status, 503, health.text)
        assert.include(health.type, "application/json")
        assert.deepStrictEqual(health.json().down, ["database"], health.text)
        assert.strictEqual(health.json().releaseId, releaseId)
        for (const path of ["/releases", "/drift", "/metrics", "/diagnostics"]) {
          const r = await call(port, path)
          assert.strictEqual(r.status, 503, `${path}: ${r.status} ${r.text}`)
          assert.include(r.type, "application/json", path)
          assert.include(r.json().message, "tracking database is unreachable", path)
        }
        assert.isBelow(Date.now() - t0, 15_000, "the failures are quick, not timeouts")
        // each 5xx is logged at error level, with its cause for the failed ones
        const errors = lines.filter((l) => l.startsWith("ERROR"))
        for (const path of ["/health", "/releases", "/drift", "/metrics", "/diagnostics"]) {
          assert.isTrue(errors.some((l) => l.includes(` ${path} `)), `${path} not logged: ${errors.join("\n")}`)
        }
        assert.isTrue(errors.some((l) => l.includes("/releases failed") && /ECONNREFUSED|SqlError|connect/i.test(l)), errors.join("\n"))

        pg!.start()
        let healthy = 0
        for (let i = 0; i < 40 && healthy !== 200; i++) {
          await new Promise((r) => setTimeout(r, 250))
          healthy = (await call(port, "/health")).status
        }
        assert.strictEqual(healthy, 200, "the server recovers without a restart")
        assert.strictEqual((await call(port, "/releases")).status, 200)
        assert.strictEqual((await call(port, "/prediction", { rows: [ROW] })).status, 200)
      })
    })).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
  }, 120_000)
})
