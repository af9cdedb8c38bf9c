/**
 * Deployer: model, score and ingested-file list into the production folder, atomically.
 *
 * Layout:  <prod>/releases/<id>/{trainedmodel.json, latestscore.txt, ingestedfiles.txt, manifest.json}
 *          <prod>/CURRENT   the id of the live release
 * A release is assembled in a staging folder, renamed into releases/ whole, and only then
 * made live by atomically replacing CURRENT: readers see the old release or the new one,
 * never a mix; a crash mid-way leaves the previous release live.
 */
import { Effect, Layer, Option, Ref, Schema } from "effect"
import * as NodePath from "node:path"
import { DeployError, NotDeployed, ReleaseNotFound } from "../domain/Errors.js"
import type { ModelArtifact } from "../domain/Schemas.js"
import { sha256 } from "../lib/Dataset.js"
import { Alerts } from "./Alerts.js"
import { AppConfig } from "./AppConfig.js"
import { FileStore } from "./FileStore.js"
import { ingestedListPath } from "./Ingestion.js"
import { Model, modelHash, modelPath } from "./Model.js"
import { latestScorePath } from "./Scorer.js"
import { Progress } from "./Progress.js"
import { Tracking } from "./Tracking.js"

export interface Release {
  readonly releaseId: string
  readonly dir: string
  readonly model: ModelArtifact
  readonly modelHash: string
  readonly f1: number | null
  readonly ingestedFiles: ReadonlyArray<string>
}

/** A release as listed: what its manifest says, and whether it is live. */
export interface ReleaseInfo {
  readonly releaseId: string
  readonly deployedAt: string | null
  readonly f1: number | null
  readonly modelHash: string | null
  readonly dataHash: string | null
  readonly live: boolean
}

const ReleaseManifest = Schema.Struct({
  releaseId: Schema.String,
  modelHash: Schema.String,
  f1: Schema.NullOr(Schema.Number),
  deployedAt: Schema.String,
  dataHash: Schema.optional(Schema.String)
})
const decodeManifest = Schema.decodeUnknownOption(Schema.parseJson(ReleaseManifest))

/** how long a process trusts its last read of CURRENT: another process's deploy is seen within this */
export const POINTER_TTL_MS = 1000

const DEPLOYED_FILES = ["trainedmodel.json", "latestscore.txt", "ingestedfiles.txt"] as const

export class Deployer extends Effect.Service<Deployer>()("drs/Deployer", {
  effect: Effect.gen(function*() {
    const store = yield* FileStore
    const config = yield* AppConfig
    const model = yield* Model
    const tracking = yield* Tracking
    const alerts = yield* Alerts
    const prod = config.prod_deployment_path
    const releasesDir = NodePath.join(prod, "releases")
    const pointer = NodePath.join(prod, "CURRENT")

    // CURRENT is read at most every POINTER_TTL_MS per process (a busy server asks on every
    // request); this process's own deploys and activations refresh it at once
    const pointerCache = yield* Ref.make<{ readonly at: number; readonly id: Option.Option<string> } | null>(null)
    const readPointer = Effect.gen(function*() {
      if (!(yield* store.exists(pointer).pipe(Effect.orDie))) return Option.none<string>()
      const id = (yield* store.readText(pointer).pipe(Effect.orDie)).trim()
      return id.length > 0 ? Option.some(id) : Option.none<string>()
    })
    const currentId = Effect.fn("Deployer.currentId")(function*() {
      const cached = yield* Ref.get(pointerCache)
      const now = Date.now()
      if (cached !== null && now - cached.at < POINTER_TTL_MS) return cached.id
      const id = yield* readPointer
      yield* Ref.set(pointerCache, { at: now, id })
      return id
    })
    const setPointer = (releaseId: string) =>
      store.writeAtomic(pointer, `${releaseId}\n`).pipe(
        Effect.orDie,
        Effect.zipRight(Ref.set(pointerCache, { at: Date.now(), id: Option.some(releaseId) }))
      )

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

    const deploy = Effect.fn("Deployer.deploy")(function*(runId: number | null = null) {
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
        JSON.stringify({ releaseId, modelHash: hash, f1, deployedAt: new Date().toISOString(), dataHash: m.dataHash, sha256: manifest }, null, 2) + "\n"
      ).pipe(Effect.orDie)
      const dir = NodePath.join(releasesDir, releaseId)
      yield* store.makeDirectory(releasesDir).pipe(Effect.orDie)
      yield* store.rename(staging, dir).pipe(Effect.orDie)
      yield* setPointer(releaseId)
      yield* tracking.recordDeployment(releaseId, hash, f1, { kind: "deploy", reason: null, runId })
      const scored = (yield* tracking.scores("training")).filter((s) => s.modelHash === hash)
      yield* tracking.recordScore({ modelHash: hash, purpose: "deployed", dataset: config.test_data_path, rows: scored.at(-1)?.rows ?? 0, f1, dataKind: "test" })
      yield* prune(releaseId)
      yield* Effect.logInfo(`deployed release ${releaseId} (F1 ${f1})`)
      return { releaseId, dir, modelHash: hash, f1 }
    })

    /** Release ids, oldest first (ids start with their deployment time). */
    const ids = Effect.fn("Deployer.ids")(function*() {
      return (yield* store.list(releasesDir).pipe(Effect.orDie)).filter((e) => e.isDirectory).map((e) => e.name)
    })

    /** The release a rollback with no id goes to: the one deployed before the live one. */
    const rollbackTarget = Effect.fn("Deployer.rollbackTarget")(function*() {
      const all = yield* ids()
      const live = Option.getOrNull(yield* currentId())
      const at = live === null ? -1 : all.indexOf(live)
      return at > 0 ? all[at - 1]! : null
    })

    /** Keep the newest `releases_to_keep` releases; the live one and the one a rollback would go to always stay. */
    const prune = Effect.fn("Deployer.prune")(function*(live: string) {
      const releases = yield* ids()
      const keep = new Set([live, (yield* rollbackTarget()) ?? live])
      const old = releases.slice(0, Math.max(0, releases.length - config.releases_to_keep)).filter((r) => !keep.has(r))
      for (const r of old) yield* store.remove(NodePath.join(releasesDir, r)).pipe(Effect.orDie)
    })

    /** Every release, oldest first, from its manifest, the live one marked. */
    const list = Effect.fn("Deployer.list")(function*() {
      const live = Option.getOrNull(yield* currentId())
      const out: Array<ReleaseInfo> = []
      for (const id of yield* ids()) {
        const text = yield* store.readText(NodePath.join(releasesDir, id, "manifest.json")).pipe(Effect.option)
        const manifest = Option.flatMap(text, decodeManifest)
        out.push({
          releaseId: id,
          deployedAt: Option.getOrNull(Option.map(manifest, (m) => m.deployedAt)),
          f1: Option.getOrNull(Option.flatMap(manifest, (m) => Option.fromNullable(m.f1))),
          modelHash: Option.getOrNull(Option.map(manifest, (m) => m.modelHash)),
          dataHash: Option.getOrNull(Option.flatMap(manifest, (m) => Option.fromNullable(m.dataHash))),
          live: id === live
        })
      }
      return out
    })

    /**
     * Make an existing release live by replacing CURRENT atomically, once its model loads.
     * Recorded as a deployment of the given kind, with its reason.
     */
    const activate = Effect.fn("Deployer.activate")(function*(releaseId: string, kind: "rollback" | "activate", reason: string) {
      if (!(yield* ids()).includes(releaseId)) {
        return yield* new ReleaseNotFound({ releaseId, message: `no release ${releaseId} in ${releasesDir}; see the releases command` })
      }
      const dir = NodePath.join(releasesDir, releaseId)
      const m = yield* model.load(NodePath.join(dir, "trainedmodel.json")).pipe(
        Effect.mapError((e) => new DeployError({ message: `release ${releaseId} cannot be made live: ${e.message}` }))
      )
      const previous = Option.getOrNull(yield* currentId())
      yield* setPointer(releaseId)
      const info = (yield* list()).find((r) => r.releaseId === releaseId)!
      yield* tracking.recordDeployment(releaseId, modelHash(m), info.f1, { kind, reason, runId: null })
      yield* alerts.notify({ event: "rolled-back", runId: null, details: { releaseId, previous, kind, reason, f1: info.f1 } })
      yield* Effect.logInfo(`release ${releaseId} is live (${kind}: ${reason}); it was ${previous ?? "nothing"}`)
      return { releaseId, previous, f1: info.f1 }
    })

    /** Roll back to `releaseId`, or to the release before the live one. */
    const rollback = Effect.fn("Deployer.rollback")(function*(releaseId?: string, reason = "rollback requested") {
      const target = releaseId ?? (yield* rollbackTarget())
      if (target === null) return yield* new ReleaseNotFound({ releaseId: "", message: "there is no release before the live one to roll back to" })
      return yield* activate(target, "rollback", reason)
    })

    return { current, deploy, list, activate, rollback, rollbackTarget } as const
  })
}) {
  static readonly layerTest = Deployer.Default.pipe(
    Layer.provideMerge(Layer.mergeAll(Model.Default, Alerts.Default)),
    Layer.provideMerge(Layer.mergeAll(FileStore.layerMemory(), Tracking.layerTest, AppConfig.layerTest(), Progress.layerTest))
  )
}
