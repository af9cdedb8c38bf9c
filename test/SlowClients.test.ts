/** Slow and idle clients are cut off by the server's timeouts, while normal requests keep being answered. Real sockets on 127.0.0.1. */
import { HttpServer } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as NodeNet from "node:net"
import { HttpLive } from "../src/http/Server.js"
import { referenceFiles, TestLayer } from "./layers.js"

const LIMITS = { headersTimeoutMs: 1500, requestTimeoutMs: 2500, keepAliveTimeoutMs: 1000, maxConnections: 1024 }

interface Slow {
  readonly socket: NodeNet.Socket
  closedAt: number | null
}

/** A client that sends its request one byte every 300 ms: the body (after full headers) or the headers themselves. */
const slowClient = (port: number, part: "body" | "headers"): Slow => {
  const socket = NodeNet.connect(port, "127.0.0.1")
  const slow: Slow = { socket, closedAt: null }
  const head = "POST /prediction HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
  socket.on("connect", () => {
    socket.write(part === "body" ? `${head}Content-Length: 100000\r\n\r\n` : head)
  })
  const drip = setInterval(() => {
    if (!socket.destroyed) socket.write(part === "body" ? "1" : "X")
  }, 300)
  socket.on("error", () => undefined)
  socket.on("close", () => {
    clearInterval(drip)
    slow.closedAt = Date.now()
  })
  return slow
}

describe("server timeouts", () => {
  it.live("closes 200 slow connections within the request timeout and keeps answering /health", () =>
    Effect.scoped(Effect.gen(function*() {
      const ctx = yield* Layer.build(HttpLive(0, "127.0.0.1", 1 << 20, LIMITS).pipe(Layer.provide(TestLayer(referenceFiles()))))
      const address = Context.get(ctx, HttpServer.HttpServer).address as HttpServer.TcpAddress
      const started = Date.now()
      const clients = [
        ...Array.from({ length: 100 }, () => slowClient(address.port, "body")),
        ...Array.from({ length: 100 }, () => slowClient(address.port, "headers"))
      ]
      yield* Effect.addFinalizer(() => Effect.sync(() => clients.forEach((c) => c.socket.destroy())))
      const health: Array<{ status: number; ms: number }> = []
      // bounded: at most 8 s, a request every 150 ms
      while (Date.now() - started < 8000 && clients.some((c) => c.closedAt === null)) {
        const t0 = Date.now()
        const res = yield* Effect.promise(() => fetch(`http://127.0.0.1:${address.port}/health`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status, () => 0))
        health.push({ status: res, ms: Date.now() - t0 })
        yield* Effect.sleep("150 millis")
      }
      const open = clients.filter((c) => c.closedAt === null).length
      assert.strictEqual(open, 0, `${open} slow connections still open after ${Date.now() - started} ms`)
      const latest = Math.max(...clients.map((c) => c.closedAt! - started))
      assert.isAtMost(latest, LIMITS.requestTimeoutMs + 2000)
      assert.isAtLeast(health.length, 5)
      assert.isTrue(health.every((h) => h.status === 200), JSON.stringify(health))
    })))

  it.live("closes an idle keep-alive connection after the keep-alive timeout", () =>
    Effect.scoped(Effect.gen(function*() {
      const ctx = yield* Layer.build(HttpLive(0, "127.0.0.1", 1 << 20, LIMITS).pipe(Layer.provide(TestLayer(referenceFiles()))))
      const address = Context.get(ctx, HttpServer.HttpServer).address as HttpServer.TcpAddress
      const closedAfter = yield* Effect.promise(() => new Promise<number>((resolve) => {
        const socket = NodeNet.connect(address.port, "127.0.0.1", () => socket.write("GET /health HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"))
        let answeredAt = 0
        socket.on("data", () => { answeredAt ||= Date.now() })
        socket.on("close", () => resolve(Date.now() - answeredAt))
        socket.on("error", () => undefined)
        setTimeout(() => socket.destroy(), 6000)
      }))
      assert.isAtMost(closedAfter, LIMITS.keepAliveTimeoutMs + 1500)
      assert.isAtLeast(closedAfter, LIMITS.keepAliveTimeoutMs - 200)
    })))
})
