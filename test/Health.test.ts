/**
 * GET /health answered from memory (http/Health.ts) on a real Node server on 127.0.0.1: the
 * same bytes and headers as the API's answer, the API's 503 when something is down, and
 * every other request (a query, credentials) through the API.
 */
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Fiber, Layer } from "effect"
import * as NodeHttp from "node:http"
import { HealthDown } from "../src/http/Api.js"
import { HealthAnswer } from "../src/http/Health.js"
import { ApiServer, limitedServer, limitsOf } from "../src/http/Server.js"
import { fullProcess } from "../src/programs/FullProcess.js"
import { AppConfig } from "../src/services/AppConfig.js"
import { referenceFiles, TestLayer } from "./layers.js"

/** counts the requests it answered itself */
class CountingHealth extends HealthAnswer {
  answered = 0
  override answer(req: NodeHttp.IncomingMessage, res: NodeHttp.ServerResponse) {
    const done = super.answer(req, res)
    if (done) this.answered++
    return done
  }
}

const call = (port: number, path: string, headers: Record<string, string> = {}) =>
  new Promise<{ status: number; headers: NodeHttp.IncomingHttpHeaders; text: string }>((resolve, reject) => {
    NodeHttp.get({ host: "127.0.0.1", port, path, headers, agent: false }, (res) => {
      let text = ""
      res.on("data", (c: Buffer) => (text += c.toString()))
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text }))
    }).on("error", reject)
  })

describe("GET /health from memory", () => {
  it.live("answers as the API does, steps aside for a degraded server and for any other request", () => {
    const health = new CountingHealth()
    return Effect.scoped(Effect.gen(function*() {
      const base = TestLayer(referenceFiles())
      const config = yield* AppConfig.pipe(Effect.provide(base))
      const ctx = yield* Layer.build(ApiServer(1 << 20).pipe(
        Layer.provideMerge(NodeHttpServer.layer(limitedServer(limitsOf(config), { health }), { port: 0, host: "127.0.0.1" })),
        Layer.provideMerge(base)
      ))
      const first = yield* fullProcess().pipe(Effect.provide(ctx))
      assert.strictEqual(first.outcome, "redeployed")
      const port = (Context.get(ctx, HttpServer.HttpServer).address as HttpServer.TcpAddress).port

      // before the first refresh the API answers
      const early = yield* Effect.promise(() => call(port, "/health"))
      assert.strictEqual(early.status, 200)
      assert.strictEqual(health.answered, 0)

      const refresh = yield* Effect.fork(health.refresh.pipe(Effect.provide(ctx)))
      yield* Effect.sleep("400 millis")
      const fast = yield* Effect.promise(() => call(port, "/health"))
      assert.strictEqual(health.answered, 1, "answered from memory")
      const api = yield* Effect.promise(() => call(port, "/health?from=api"))
      assert.strictEqual(health.answered, 1, "a query goes to the API")
      assert.strictEqual(fast.status, 200)
      assert.strictEqual(fast.text, api.text)
      assert.deepStrictEqual(JSON.parse(fast.text), { status: "ok", releaseId: first.releaseId, f1: first.score, instance: JSON.parse(early.text).instance })
      for (const h of ["content-type", "content-length", "x-content-type-options"]) assert.strictEqual(fast.headers[h], api.headers[h], h)
      // credentials go to the API (which refuses two Authorization headers, say)
      yield* Effect.promise(() => call(port, "/health", { authorization: "Bearer x" }))
      assert.strictEqual(health.answered, 1)

      // a degraded answer is the API's 503, not a stale 200
      yield* Fiber.interrupt(refresh)
      health.set(new HealthDown({ status: "degraded", down: ["database"], releaseId: null, message: "down" }))
      yield* Effect.promise(() => call(port, "/health"))
      assert.strictEqual(health.answered, 1)
    }))
  })
})
