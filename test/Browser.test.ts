/// <reference lib="dom" />
/**
 * The dashboard in a real headless Chromium (playwright-core): every section's content, the
 * chart drawn, readable at 1400 and 400 px, and a rollback done from the page. The browser
 * is Debian's when installed, else the one @sparticuz/chromium ships (tested on its own too).
 */
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { createServer } from "node:http"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { ApiServer } from "../src/http/Server.js"
import { fullProcess } from "../src/programs/FullProcess.js"
import { Deployer } from "../src/services/Deployer.js"
import { FileStore } from "../src/services/FileStore.js"
import { launchChromium, missingLibraries, resolvedLibrary, sparticuzSetup } from "../src/tools/Browser.js"
import { csv, row, ruled, TestLayer } from "./layers.js"

const TOKEN = "dash-token"
const IN = "/t/data/sourcedata"

describe("the Chromium that @sparticuz/chromium ships", () => {
  it("has every library it needs from the package itself, and renders a page", async () => {
    const setup = await sparticuzSetup()
    assert.strictEqual(setup.source, "sparticuz")
    assert.deepStrictEqual(missingLibraries(setup), [])
    for (const lib of ["libnss3.so", "libnspr4.so"]) {
      const at = resolvedLibrary(setup, lib)
      assert.isNotNull(at, lib)
      assert.isTrue(at!.startsWith(setup.libDir!), `${lib} resolves to ${at}, not the packaged copy`)
    }
    const browser = await launchChromium(setup)
    try {
      const page = await browser.newPage()
      await page.setContent("<main><h1>Ærø — 東京</h1></main>")
      assert.strictEqual(await page.innerText("h1"), "Ærø — 東京")
    } finally {
      await browser.close()
    }
  })
})

describe("the dashboard in Chromium", () => {
  it.live("shows every section, draws the chart, fits 1400 and 400 px, and rolls back from the page", () =>
    Effect.scoped(Effect.gen(function*() {
      const ctx = yield* Layer.build(ApiServer(1 << 20).pipe(
        Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
        Layer.provideMerge(TestLayer(
          { [`${IN}/one.csv`]: csv(ruled(200, 1)), "/t/data/testdata/testdata.csv": csv(ruled(60, 2)) },
          { api_token: TOKEN, deploy_gate: "always", regularization_C: 100 }
        ))
      ))
      const store = Context.get(ctx, FileStore)
      const run = <A, E>(e: Effect.Effect<A, E, never>) => e
      yield* run(fullProcess().pipe(Effect.provide(ctx)))
      const first = (yield* Deployer.pipe(Effect.flatMap((d) => d.current()), Effect.provide(ctx))).releaseId
      // new data whose labels flipped and whose employee counts moved: performance and data drift
      yield* store.writeAtomic(`${IN}/two.csv`, csv(ruled(120, 3, true, 300)))
      yield* store.writeAtomic(`${IN}/broken.csv`, "corporation,lastmonth_activity\nx,1\n")
      const second = yield* run(fullProcess().pipe(Effect.provide(ctx)))
      assert.strictEqual(second.outcome, "redeployed")
      const address = Context.get(ctx, HttpServer.HttpServer).address as HttpServer.TcpAddress
      const base = `http://127.0.0.1:${address.port}`

      const browser = yield* Effect.acquireRelease(Effect.promise(() => launchChromium()), (b) => Effect.promise(() => b.close()))
      const result = yield* Effect.promise(async () => {
        const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
        // the page's Content-Security-Policy blocks nothing the dashboard needs
        const violations: Array<string> = []
        page.on("console", (m) => {
          if (/Content.Security.Policy/i.test(m.text())) violations.push(m.text())
        })
        const response = await page.goto(`${base}/`)
        await page.waitForSelector("#score-chart canvas")
        const text = async (sel: string) => (await page.locator(sel).innerText()).trim()
        const rows = async (sel: string) => page.locator(`${sel} tbody tr`).count()
        const inkedPixels = await page.evaluate(() => {
          const c = document.querySelector("#score-chart canvas") as HTMLCanvasElement
          const data = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data
          let n = 0
          for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) n++
          return n
        })
        const overflow = async () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
        const shot = NodePath.join(NodeOs.tmpdir(), "drs-dashboard-1400.png")
        await page.screenshot({ path: shot, fullPage: true })
        const wide = await overflow()
        const facts = {
          status: response?.status(),
          title: await page.title(),
          live: await text("#live-release"),
          liveF1: await text("#live-f1"),
          lastRun: await text("#last-run-outcome"),
          driftState: await text("#drift-state"),
          driftClass: await page.getAttribute("#drift-state", "class"),
          inkedPixels,
          events: await page.locator("#events tbody tr").allInnerTexts(),
          threshold: await text("#threshold-label"),
          dataDrift: await page.locator("#data-drift-table tbody tr").allInnerTexts(),
          releases: await rows("#releases-table"),
          buttons: await page.locator("button.activate").count(),
          runs: await page.locator("#runs-table tbody tr").allInnerTexts(),
          rejected: await page.locator("#rejected-table tbody tr").allInnerTexts(),
          ingested: await page.locator("#ingested-table tbody tr").allInnerTexts(),
          summary: await rows("#summary-table"),
          missing: await rows("#missing-table"),
          classification: await page.locator("#classification-table tbody tr").allInnerTexts(),
          importance: await page.locator("#importance-chart .bar-row").allInnerTexts(),
          importanceBars: await page.locator("#importance-chart meter").evaluateAll((ms) => ms.map((m) => (m as HTMLMeterElement).getBoundingClientRect().width)),
          links: await page.locator("header a").evaluateAll((as) => as.map((a) => a.getAttribute("href"))),
          wide,
          shotBytes: NodeFs.statSync(shot).size
        }
        await page.setViewportSize({ width: 400, height: 900 })
        await page.waitForTimeout(300)
        const narrow = await overflow()
        await page.screenshot({ path: NodePath.join(NodeOs.tmpdir(), "drs-dashboard-400.png"), fullPage: true })
        // roll back from the page: the button asks for the token, then the page shows the new live release
        await page.setViewportSize({ width: 1400, height: 900 })
        let asked = ""
        page.once("dialog", (dialog) => {
          asked = dialog.message()
          void dialog.accept(TOKEN)
        })
        await page.locator("button.activate").first().click()
        await page.waitForFunction(() => /is live/.test(document.getElementById("activate-result")?.textContent ?? ""))
        const activated = await text("#activate-result")
        await page.waitForFunction((id) => document.getElementById("live-release")?.textContent === id, await page.locator("button.activate").first().getAttribute("data-release").catch(() => null) ?? "")
          .catch(() => undefined)
        return { ...facts, narrow, asked, activated, liveAfter: await text("#live-release"), violations, csp: response?.headers()["content-security-policy"] ?? "" }
      })
      assert.strictEqual(result.status, 200)
      assert.include(result.csp, "frame-ancestors 'none'")
      assert.deepStrictEqual(result.violations, [])
      // the live model's global importance: one drawn bar per feature, named
      assert.strictEqual(result.importance.length, 3)
      assert.isTrue(["lastmonth_activity", "lastyear_activity", "number_of_employees"].every((f) => result.importance.some((r) => r.includes(f))))
      assert.isTrue(result.importanceBars.every((w) => w > 20))
      assert.strictEqual(result.title, "DRS monitor")
      assert.notStrictEqual(result.live, first)
      assert.match(result.liveF1, /^0(\.\d+)?$|^1$/)
      assert.strictEqual(result.lastRun, "redeployed")
      // colour and a word: never colour alone
      assert.strictEqual(result.driftState, "▲ drifted")
      assert.include(result.driftClass!, "drifted")
      assert.isAbove(result.inkedPixels, 500)
      assert.isTrue(result.events.some((e) => e.includes("deployed")))
      assert.include(result.threshold, "threshold")
      assert.strictEqual(result.dataDrift.length, 3)
      assert.isTrue(result.dataDrift.some((r) => r.startsWith("number_of_employees") && r.includes("flagged")))
      assert.strictEqual(result.releases, 2)
      assert.strictEqual(result.buttons, 1)
      assert.isAtLeast(result.runs.length, 2)
      assert.isTrue(result.runs[0]!.includes("redeployed"))
      assert.strictEqual(result.rejected.length, 1)
      assert.include(result.rejected[0]!, "broken.csv")
      assert.include(result.rejected[0]!, "wrong header")
      assert.deepStrictEqual(result.ingested.map((r) => r.split("\t")[0]), ["two.csv", "one.csv"])
      assert.strictEqual(result.summary, 3)
      assert.strictEqual(result.missing, 5)
      assert.strictEqual(result.classification.length, 5)
      assert.isTrue(result.classification[0]!.startsWith("class 0"))
      assert.deepStrictEqual(result.links, ["/download", "/docs", "/metrics"])
      assert.isAtMost(result.wide, 0)
      assert.isAtMost(result.narrow, 0)
      assert.isAbove(result.shotBytes, 20_000)
      assert.include(result.asked, "Bearer token")
      assert.include(result.activated, `Release ${first} is live`)
      const live = yield* Deployer.pipe(Effect.flatMap((d) => d.current()), Effect.provide(ctx))
      assert.strictEqual(live.releaseId, first)
      assert.strictEqual(result.liveAfter, first)
    })))
})

describe("the dashboard after the first deployment", () => {
  it.live("shows the live state in the drift card, not red, and draws the single score", () =>
    Effect.scoped(Effect.gen(function*() {
      const ctx = yield* Layer.build(ApiServer(1 << 20).pipe(
        Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
        Layer.provideMerge(TestLayer({ [`${IN}/one.csv`]: csv(ruled(200, 1)), "/t/data/testdata/testdata.csv": csv(ruled(60, 2)) }, { api_token: TOKEN }))
      ))
      const first = yield* fullProcess().pipe(Effect.provide(ctx))
      assert.strictEqual(first.outcome, "redeployed")
      const address = Context.get(ctx, HttpServer.HttpServer).address as HttpServer.TcpAddress
      const browser = yield* Effect.acquireRelease(Effect.promise(() => launchChromium()), (b) => Effect.promise(() => b.close()))
      const r = yield* Effect.promise(async () => {
        const page = await browser.newPage({ viewport: { width: 1000, height: 800 } })
        await page.goto(`http://127.0.0.1:${address.port}/`)
        await page.waitForSelector("#score-chart canvas")
        // pixels of the deployed series' colour (#1f4e99): the one point is drawn
        const pointPixels = await page.evaluate(() => {
          const c = document.querySelector("#score-chart canvas") as HTMLCanvasElement
          const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data
          let n = 0
          let minX = c.width
          let maxX = 0
          // the series' blue, antialiased: clearly more blue than red, and opaque
          for (let i = 0; i < d.length; i += 4) {
            if (d[i + 2]! - d[i]! > 60 && d[i + 2]! > 100 && d[i + 3]! > 100) {
              n++
              const x = (i / 4) % c.width
              minX = Math.min(minX, x)
              maxX = Math.max(maxX, x)
            }
          }
          return { n, minX: minX / c.width, maxX: maxX / c.width }
        })
        return {
          pointPixels,
          drift: (await page.locator("#drift-state").innerText()).trim(),
          driftClass: await page.getAttribute("#drift-state", "class"),
          reason: (await page.locator("#drift-reason").innerText()).trim()
        }
      })
      assert.strictEqual(r.drift, "○ not checked yet")
      assert.notInclude(r.driftClass!, "drifted")
      assert.include(r.reason, "is live and has not been checked for drift yet")
      // drawn whole, inside the plot, not clipped at its edge
      assert.isAbove(r.pointPixels.n, 10, JSON.stringify(r))
      assert.isAbove(r.pointPixels.minX, 0.15, JSON.stringify(r))
      assert.isBelow(r.pointPixels.maxX, 0.95, JSON.stringify(r))
    })))
})
