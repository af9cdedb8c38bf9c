/** The monitoring page in a real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core). */
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { createServer } from "node:http"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { chromium } from "playwright-core"
import { fullProcess } from "../src/programs/FullProcess.js"
import { ApiServer } from "../src/http/Server.js"
import { referenceFiles, TestLayer } from "./layers.js"

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"

const launch = () => {
  if (!NodeFs.existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (.ci/run does) or set CHROMIUM_PATH`)
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
  })
}

describe("monitoring page in Chromium", () => {
  it.live("shows the score history chart, drift status, summary stats, ingested files and the report link", () =>
    Effect.scoped(Effect.gen(function*() {
      const ctx = yield* Layer.build(ApiServer(1 << 20).pipe(
        Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
        Layer.provideMerge(TestLayer(referenceFiles()))
      ))
      yield* fullProcess().pipe(Effect.provide(ctx))
      const address = Context.get(ctx, HttpServer.HttpServer).address
      assert.strictEqual(address._tag, "TcpAddress")
      const base = `http://127.0.0.1:${(address as HttpServer.TcpAddress).port}`
      const browser = yield* Effect.acquireRelease(Effect.promise(launch), (b) => Effect.promise(() => b.close()))
      const result = yield* Effect.promise(async () => {
        const page = await browser.newPage()
        const response = await page.goto(`${base}/`)
        const shot = NodePath.join(NodeOs.tmpdir(), "drs-monitor.png")
        await page.screenshot({ path: shot, fullPage: true })
        const pdf = await page.request.get(`${base}${await page.getAttribute("#report-link", "href")}`)
        return {
          status: response?.status(),
          title: await page.title(),
          points: await page.locator("#score-chart circle.point").count(),
          chartVisible: await page.locator("#score-chart").isVisible(),
          drift: await page.locator("#drift-status").innerText(),
          reason: await page.locator("#drift-reason").innerText(),
          release: await page.locator("#release").innerText(),
          summaryRows: await page.locator("#summary tbody tr").count(),
          ingested: await page.locator("#ingested li").allInnerTexts(),
          pdfType: pdf.headers()["content-type"],
          pdfStart: (await pdf.body()).subarray(0, 5).toString("latin1"),
          shotBytes: NodeFs.statSync(shot).size
        }
      })
      assert.strictEqual(result.status, 200)
      assert.strictEqual(result.title, "DRS monitor")
      assert.isTrue(result.chartVisible)
      assert.isAtLeast(result.points, 2)
      assert.strictEqual(result.drift, "drifted")
      assert.strictEqual(result.reason, "no model is deployed yet")
      assert.match(result.release, /^\d{4}-\d\d-\d\dT/)
      assert.strictEqual(result.summaryRows, 3)
      assert.strictEqual(result.ingested.length, 2)
      assert.include(result.ingested[0]!, "dataset1.csv — 17 rows")
      assert.strictEqual(result.pdfType, "application/pdf")
      assert.strictEqual(result.pdfStart, "%PDF-")
      assert.isAbove(result.shotBytes, 10_000)
    })))
})
