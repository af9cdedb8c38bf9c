/**
 * `npm run screenshot`: a seeded demo in a temporary folder (the sample data, a first
 * deployment, then a batch whose labels and employee counts moved), served on a free port on
 * 127.0.0.1, photographed at 1400 px into docs/dashboard.png.
 */
import { HttpServer } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Context, Effect, Layer } from "effect"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import { AppConfigSchema } from "../domain/Schemas.js"
import { HttpLive, limitsOf } from "../http/Server.js"
import { liveServices } from "../programs/AppLayer.js"
import { fullProcess } from "../programs/FullProcess.js"
import { generateCsv, writeSampleData } from "../programs/GenerateData.js"
import { DEFAULT_DATASET } from "../domain/Dataset.js"
import { Dependencies } from "../services/Dependencies.js"
import { DependencyReport } from "../domain/Schemas.js"
import { FileStore } from "../services/FileStore.js"
import { launchChromium } from "./Browser.js"

const ROOT = NodePath.resolve(NodePath.dirname(fileURLToPath(import.meta.url)), "..", "..")
const OUT = NodePath.join(ROOT, "docs", "dashboard.png")

const program = Effect.scoped(Effect.gen(function*() {
  const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "drs-demo-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true })))
  const config = AppConfigSchema.make({
    input_folder_path: NodePath.join(dir, "data", "sourcedata"),
    output_folder_path: NodePath.join(dir, "data", "ingesteddata"),
    test_data_path: NodePath.join(dir, "data", "testdata"),
    output_model_path: NodePath.join(dir, "data", "models"),
    prod_deployment_path: NodePath.join(dir, "production"),
    quarantine_folder_path: NodePath.join(dir, "data", "quarantine"),
    api_token: "demo"
  })
  const services = liveServices(config, () => Dependencies.layerFixed(DependencyReport.make({ checked: true, packages: [] })))
  const ctx = yield* Layer.build(HttpLive(0, "127.0.0.1", config.max_body_bytes, limitsOf(config)).pipe(Layer.provideMerge(services)))
  const store = Context.get(ctx, FileStore)
  yield* writeSampleData(NodePath.join(dir, "data")).pipe(Effect.provideService(FileStore, store))
  yield* fullProcess().pipe(Effect.provide(ctx))
  // later batches: the same world, then one where the hidden model moved and companies grew
  yield* store.writeAtomic(NodePath.join(config.input_folder_path, "dataset5.csv"), generateCsv(80, 6, DEFAULT_DATASET))
  yield* fullProcess().pipe(Effect.provide(ctx))
  yield* store.writeAtomic(NodePath.join(config.input_folder_path, "dataset6.csv"), generateCsv(120, 7, DEFAULT_DATASET, { shift: -3 }).replace(/,(\d+),([01])$/gm, (_m, e: string, y: string) => `,${Number(e) * 4},${y}`))
  yield* store.writeAtomic(NodePath.join(config.input_folder_path, "export-broken.csv"), "corporation;lastmonth_activity\nabc;12\n")
  yield* fullProcess().pipe(Effect.provide(ctx))
  const address = Context.get(ctx, HttpServer.HttpServer).address as HttpServer.TcpAddress
  const browser = yield* Effect.acquireRelease(Effect.promise(() => launchChromium()), (b) => Effect.promise(() => b.close()))
  yield* Effect.promise(async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
    await page.goto(`http://127.0.0.1:${address.port}/`)
    await page.waitForSelector("#score-chart canvas")
    NodeFs.mkdirSync(NodePath.dirname(OUT), { recursive: true })
    await page.screenshot({ path: OUT, fullPage: true })
  })
  yield* Effect.logInfo(`wrote ${OUT}`)
}))

program.pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
