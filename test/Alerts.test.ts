/** Webhook alerts against a real HTTP receiver on 127.0.0.1: body, signature, retries with backoff, timeouts, and the events fullprocess raises. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as NodeCrypto from "node:crypto"
import * as NodeHttp from "node:http"
import type * as NodeNet from "node:net"
import { fullProcess } from "../src/programs/FullProcess.js"
import { deploymentStep, scoringStep, trainingStep } from "../src/programs/Steps.js"
import { Alerts } from "../src/services/Alerts.js"
import { Deployer } from "../src/services/Deployer.js"
import { FileStore } from "../src/services/FileStore.js"
import { Tracking } from "../src/services/Tracking.js"
import { csv, row, ruled, TestLayer } from "./layers.js"

interface Received {
  readonly body: string
  readonly headers: NodeHttp.IncomingHttpHeaders
}

/** A webhook receiver answering each request with the next planned behaviour (a status, or "hang"). */
const receiver = (plan: ReadonlyArray<number | "hang"> = []) =>
  Effect.acquireRelease(
    Effect.promise(() => new Promise<{ url: string; received: Array<Received>; server: NodeHttp.Server }>((resolve) => {
      const received: Array<Received> = []
      const server = NodeHttp.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
          const step = plan[received.length] ?? 200
          received.push({ body: Buffer.concat(chunks).toString("utf8"), headers: req.headers })
          if (step === "hang") return
          res.writeHead(step).end()
        })
      })
      server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${(server.address() as NodeNet.AddressInfo).port}/hook`, received, server }))
    })),
    ({ server }) => Effect.sync(() => server.closeAllConnections()).pipe(Effect.zipRight(Effect.promise(() => new Promise((r) => server.close(r)))))
  )

const hmac = (secret: string, body: string) => `sha256=${NodeCrypto.createHmac("sha256", secret).update(body).digest("hex")}`

describe("Alerts", () => {
  it.live("posts the event as JSON, signed with the HMAC of the body, and records the delivery", () =>
    Effect.scoped(Effect.gen(function*() {
      const r = yield* receiver()
      yield* Effect.gen(function*() {
        yield* (yield* Alerts).notify({ event: "deployed", runId: 7, details: { releaseId: "r1", f1: 0.9 } })
        const got = r.received[0]!
        const body = JSON.parse(got.body)
        assert.strictEqual(body.event, "deployed")
        assert.strictEqual(body.runId, 7)
        assert.strictEqual(body.releaseId, "r1")
        assert.match(body.at, /^\d{4}-\d\d-\d\dT/)
        assert.strictEqual(got.headers["content-type"], "application/json")
        assert.strictEqual(got.headers["x-drs-signature"], hmac("s3cret", got.body))
        const recorded = yield* Effect.flatMap(Tracking, (t) => t.alertDeliveries())
        assert.deepStrictEqual(recorded.map((d) => [d.event, d.delivered, d.attempts, d.httpStatus]), [["deployed", true, 1, 200]])
      }).pipe(Effect.provide(Alerts.layerTest({ alert_webhook_url: r.url, alert_webhook_secret: "s3cret" })))
    })))

  it.live("sends no signature without a secret, and nothing at all without a URL", () =>
    Effect.scoped(Effect.gen(function*() {
      const r = yield* receiver()
      yield* Effect.flatMap(Alerts, (a) => a.notify({ event: "drift", runId: null, details: {} })).pipe(Effect.provide(Alerts.layerTest({ alert_webhook_url: r.url })))
      assert.isUndefined(r.received[0]!.headers["x-drs-signature"])
      yield* Effect.gen(function*() {
        yield* (yield* Alerts).notify({ event: "drift", runId: null, details: {} })
        assert.deepStrictEqual(yield* Effect.flatMap(Tracking, (t) => t.alertDeliveries()), [])
      }).pipe(Effect.provide(Alerts.layerTest()))
      assert.lengthOf(r.received, 1)
    })))

  it.live("retries a 500 with backoff and then delivers; does not retry a 400", () =>
    Effect.scoped(Effect.gen(function*() {
      const r = yield* receiver([500, 503, 200])
      yield* Effect.gen(function*() {
        const t0 = Date.now()
        yield* (yield* Alerts).notify({ event: "run-failed", runId: 1, details: { error: "x" } })
        assert.lengthOf(r.received, 3)
        // backoff 50 ms, then 100 ms
        assert.isAtLeast(Date.now() - t0, 140)
        const d = (yield* Effect.flatMap(Tracking, (t) => t.alertDeliveries()))[0]!
        assert.deepStrictEqual([d.delivered, d.attempts, d.httpStatus], [true, 3, 200])
      }).pipe(Effect.provide(Alerts.layerTest({ alert_webhook_url: r.url, alert_backoff_ms: 50 })))
      const bad = yield* receiver([400])
      yield* Effect.gen(function*() {
        yield* (yield* Alerts).notify({ event: "drift", runId: 2, details: {} })
        assert.lengthOf(bad.received, 1)
        const d = (yield* Effect.flatMap(Tracking, (t) => t.alertDeliveries()))[0]!
        assert.deepStrictEqual([d.delivered, d.attempts, d.httpStatus, d.error], [false, 1, 400, "HTTP 400"])
      }).pipe(Effect.provide(Alerts.layerTest({ alert_webhook_url: bad.url, alert_backoff_ms: 50 })))
    })))

  it.live("a receiver that never answers: each attempt times out, the failure is recorded, and notify still succeeds", () =>
    Effect.scoped(Effect.gen(function*() {
      const r = yield* receiver(["hang", "hang", "hang"])
      yield* Effect.gen(function*() {
        yield* (yield* Alerts).notify({ event: "drift", runId: 3, details: {} })
        assert.lengthOf(r.received, 3)
        const d = (yield* Effect.flatMap(Tracking, (t) => t.alertDeliveries()))[0]!
        assert.deepStrictEqual([d.delivered, d.attempts, d.httpStatus], [false, 3, null])
        assert.include(d.error!, "no answer within 200 ms")
      }).pipe(Effect.provide(Alerts.layerTest({ alert_webhook_url: r.url, alert_timeout_ms: 200, alert_retries: 2, alert_backoff_ms: 20 })))
    })))
})

const IN = "/t/data/sourcedata"

describe("the events of the lifecycle", () => {
  it.live("fullprocess and rollback raise deployed, file-rejected, drift, gate-refused and rolled-back", () =>
    Effect.scoped(Effect.gen(function*() {
      const r = yield* receiver()
      yield* Effect.gen(function*() {
        const store = yield* FileStore
        yield* fullProcess()
        yield* store.writeAtomic(`${IN}/flipped.csv`, csv(ruled(400, 9, true)))
        yield* store.writeAtomic(`${IN}/broken.csv`, "not,a,header\n1,2,3\n")
        const s = yield* fullProcess()
        assert.strictEqual(s.outcome, "gate-refused")
        // a second release (the steps of run --steps), then a rollback to the first
        yield* Effect.all([trainingStep(null), scoringStep(null), deploymentStep(null)])
        const back = yield* Effect.flatMap(Deployer, (d) => d.rollback(undefined, "test rollback"))
        const events = r.received.map((x) => JSON.parse(x.body).event)
        assert.deepStrictEqual(events, ["deployed", "file-rejected", "drift", "gate-refused", "rolled-back"])
        assert.include(JSON.parse(r.received[1]!.body).file, "broken.csv")
        const rolled = JSON.parse(r.received[4]!.body)
        assert.strictEqual(rolled.releaseId, back.releaseId)
        assert.strictEqual(rolled.reason, "test rollback")
      }).pipe(Effect.provide(TestLayer({ [`${IN}/one.csv`]: csv(ruled(80, 1)), "/t/data/testdata/testdata.csv": csv(ruled(40, 2)) }, { regularization_C: 100, alert_webhook_url: r.url })))
    })))

  it.live("a failed run raises run-failed with the reason", () =>
    Effect.scoped(Effect.gen(function*() {
      const r = yield* receiver()
      const failure = yield* Effect.flip(fullProcess()).pipe(
        Effect.provide(TestLayer({ [`${IN}/one.csv`]: csv(ruled(80, 1)) }, { alert_webhook_url: r.url }))
      )
      assert.strictEqual(failure._tag, "NoDataError")
      const last = JSON.parse(r.received.at(-1)!.body)
      assert.strictEqual(last.event, "run-failed")
      assert.include(last.error, "NoDataError")
    })))
})
