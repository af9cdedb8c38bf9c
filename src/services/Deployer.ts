/**
 * Deployer: model, score and ingested-file list into the production folder, atomically.
 *
 * Layout:  <prod>/releases/<id>/{trainedmodel.json, latestscore.txt, ingestedfiles.txt, manifest.json}
 *          <prod>/CURRENT   the id of the live release
 * A release is assembled in a staging folder, renamed into releases/ whole, and only then
 * made live by atomically replacing CURRENT: readers see the old release or the new one,
 * never a mix; a crash mid-way leaves the previous release live.
 */
import { Effect, Layer, Option, Ref } from "effect"
import * as NodePath from "node:path"
import { DeployError, NotDeployed } from "../domain/Errors.js"
import type { ModelArtifact } from "../domain/Schemas.js"
import { sha256 } from "../lib/Dataset.js"
import { AppConfig } from "./AppConfig.js"
import { FileStore } from "./FileStore.js"
import { ingestedListPath } from "./Ingestion.js"
import { Model, modelHash, modelPath } from "./Model.js"
import { latestScorePath } from "./Scorer.js"
import { Tracking } from "./Tracking.js"

export interface Release {
  readonly releaseId: string
  readonly dir: string
  readonly model: ModelArtifact
  readonly modelHash: string
  readonly f1: number | null
  readonly ingestedFiles: ReadonlyArray<string>
}

const DEPLOYED_FILES = ["trainedmodel.json", "latestscore.txt", "ingestedfiles.txt"] as const

export class Deployer extends Effect.Service<Deployer>()("drs/Deployer", {
  effect: Effect.gen(function*() {
    const store = yield* FileStore
    const config = yield* AppConfig
    const model = yield* Model
    const tracking = yield* Tracking
    const prod = config.prod_deployment_path
    const releasesDir = NodePath.join(prod, "releases")
    const pointer = NodePath.join(prod, "CURRENT")

    const currentId = Effect.fn("Deployer.currentId")(function*() {
      if (!(yield* store.exists(pointer).pipe(Effect.orDie))) return Option.none<string>()
      const id = (yield* store.readText(pointer).pipe(Effect.orDie)).trim()
      return id.length > 0 ? Option.some(id) : Option.none<string>()
    })

    // a release never changes once written: keep the loaded live one until CURRENT names another
    const cache = yield* Ref.make(Option.none<Release>())

    /** The live release, or NotDeployed. */
    const current = Effect.fn("Deployer.current")(function*() {
      const id = yield* currentId()
      if (Option.isNone(id)) return yield* new NotDeployed({ message: `nothing is deployed in ${prod} yet; run the deployment step` })
      const cached = yield* Ref.get(cache)
      if (Option.isSome(cached) && cached.value.releaseId === id.value) return cached.value
      const dir = NodePath.join(releasesDir, id.value)
      const m = yield* model.load(NodePath.join(dir, "trainedmodel.json")).pipe(
        Effect.mapError((e) => new NotDeployed({ message: `release ${id.value} is live but unusable: ${e.message}`, brokenRelease: id.value }))
      )
      const scoreText = yield* store.readText(NodePath.join(dir, "latestscore.txt")).pipe(Effect.option)
      const parsed = Option.map(scoreText, (t) => Number(t.trim()))
      const f1 = Option.getOrNull(Option.filter(parsed, Number.isFinite))
      const ingested = yield* store.readText(NodePath.join(dir, "ingestedfiles.txt")).pipe(
        Effect.map((t) => t.split("\n").map((l) => l.trim()).filter((l) => l.length > 0)),
        Effect.orElseSucceed(() => [] as Array<string>)
      )
      const release: Release = { releaseId: id.value, dir, model: m, modelHash: modelHash(m), f1, ingestedFiles: ingested }
      yield* Ref.set(cache, Option.some(release))
      return release
    })

    const deploy = Effect.fn("Deployer.deploy")(function*() {
      const sources = {
        "trainedmodel.json": modelPath(config.output_model_path),
        "latestscore.txt": latestScorePath(config.output_model_path),
        "ingestedfiles.txt": ingestedListPath(config.output_folder_path)
      }
      for (const [name, path] of Object.entries(sources)) {
        if (!(yield* store.exists(path).pipe(Effect.orDie))) {
          return yield* new DeployError({ message: `cannot deploy: ${path} is missing (${name}); run ingestion, training and scoring first` })
        }
      }
      const m = yield* model.load(sources["trainedmodel.json"]).pipe(Effect.mapError((e) => new DeployError({ message: `cannot deploy: ${e.message}` })))
      const scoreText = (yield* store.readText(sources["latestscore.txt"]).pipe(Effect.orDie)).trim()
      const f1 = Number(scoreText)
      if (scoreText.length === 0 || !Number.isFinite(f1)) {
        return yield* new DeployError({ message: `cannot deploy: ${sources["latestscore.txt"]} holds "${scoreText}", not a score` })
      }
      const hash = modelHash(m)
      const stem = `${new Date().toISOString().replace(/[:.]/g, "-")}-${hash.slice(0, 8)}`
      let releaseId = stem
      for (let n = 2; yield* store.exists(NodePath.join(releasesDir, releaseId)).pipe(Effect.orDie); n++) releaseId = `${stem}-${n}`
      // leftovers of an interrupted deployment are never live; clear them
      for (const e of yield* store.list(prod).pipe(Effect.orDie)) {
        if (e.name.startsWith(".staging-")) yield* store.remove(NodePath.join(prod, e.name)).pipe(Effect.orDie)
      }
      const staging = NodePath.join(prod, `.staging-${releaseId}`)
      yield* store.makeDirectory(staging).pipe(Effect.orDie)
      const manifest: Record<string, string> = {}
      for (const name of DEPLOYED_FILES) {
        yield* store.copyFile(sources[name], NodePath.join(staging, name)).pipe(Effect.orDie)
        manifest[name] = sha256(yield* store.readFile(NodePath.join(staging, name)).pipe(Effect.orDie))
      }
      yield* store.writeAtomic(
        NodePath.join(staging, "manifest.json"),
        JSON.stringify({ releaseId, modelHash: hash, f1, deployedAt: new Date().toISOString(), sha256: manifest }, null, 2) + "\n"
      ).pipe(Effect.orDie)
      const dir = NodePath.join(releasesDir, releaseId)
      yield* store.makeDirectory(releasesDir).pipe(Effect.orDie)
      yield* store.rename(staging, dir).pipe(Effect.orDie)
      yield* store.writeAtomic(pointer, `${releaseId}\n`).pipe(Effect.orDie)
      yield* tracking.recordDeployment(releaseId, hash, f1)
      const scored = (yield* tracking.scores("training")).filter((s) => s.modelHash === hash)
      yield* tracking.recordScore({ modelHash: hash, purpose: "deployed", dataset: config.test_data_path, rows: scored.at(-1)?.rows ?? 0, f1, dataKind: "test" })
      yield* prune(releaseId)
      yield* Effect.logInfo(`deployed release ${releaseId} (F1 ${f1})`)
      return { releaseId, dir, modelHash: hash, f1 }
    })

    /** Keep the newest `releases_to_keep` releases; the live one always stays. */
    const prune = Effect.fn("Deployer.prune")(function*(live: string) {
      const releases = (yield* store.list(releasesDir).pipe(Effect.orDie)).filter((e) => e.isDirectory).map((e) => e.name)
      const old = releases.slice(0, Math.max(0, releases.length - config.releases_to_keep)).filter((r) => r !== live)
      for (const r of old) yield* store.remove(NodePath.join(releasesDir, r)).pipe(Effect.orDie)
    })

    return { current, deploy } as const
  })
}) {
  static readonly layerTest = Deployer.Default.pipe(
    Layer.provideMerge(Model.Default),
    Layer.provideMerge(Layer.mergeAll(FileStore.layerMemory(), Tracking.layerTest, AppConfig.layerTest()))
  )
}
