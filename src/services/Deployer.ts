/**
 * Deployer: model, score and ingested-file list as a release, atomically.
 *
 * The tracking database (SQLite or PostgreSQL) holds every release whole and names the live
 * one (the newest deployment): API servers on any machine serve what it names, and see a
 * deploy or a rollback made anywhere within POINTER_TTL_MS. The production folder mirrors it:
 *          <prod>/releases/<id>/{trainedmodel.json, latestscore.txt, ingestedfiles.txt, manifest.json}
 *          <prod>/CURRENT   the id of the live release
 * A release is assembled in a staging folder and renamed into releases/ whole; then the release
 * and its deployment are written to the database in one transaction (the commit point); then
 * CURRENT is replaced atomically. A crash before the commit leaves the previous release live;
 * one after it leaves the new one live, and the next deploy or activation rewrites CURRENT.
 */
import { Cause, Effect, Layer, MutableRef, Option, Ref, Schema } from "effect"
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
import { ReleaseStore, type StoredRelease } from "./ReleaseStore.js"
import { Tracking } from "./Tracking.js"

export interface Release {
  readonly releaseId: string
  /** where the production folder mirrors it */
  readonly dir: string
  readonly model: ModelArtifact
  readonly modelHash: string
  readonly f1: number | null
  readonly ingestedFiles: ReadonlyArray<string>
}

/** A release as listed, and whether it is live. */
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

/** how long a process trusts its last read of the live release's id: a deploy or rollback made elsewhere is seen within this */
export const POINTER_TTL_MS = 1000

const DEPLOYED_FILES = ["trainedmodel.json", "latestscore.txt", "ingestedfiles.txt"] as const
const RELEASE_FILES = [...DEPLOYED_FILES, "manifest.json"] as const

const parseScore = (text: string) => {
  const f1 = Number(text.trim())
  return text.trim().length > 0 && Number.isFinite(f1) ? f1 : null
}
const parseList = (text: string) => text.split("\n").map((l) => l.trim()).filter((l) => l.length > 0)

export class Deployer extends Effect.Service<Deployer>()("drs/Deployer", {
  effect: Effect.gen(function*() {
    const store = yield* FileStore
    const config = yield* AppConfig
    const model = yield* Model
    const tracking = yield* Tracking
    const alerts = yield* Alerts
    const db = yield* ReleaseStore
    const prod = config.prod_deployment_path
    const releasesDir = NodePath.join(prod, "releases")
    const pointer = NodePath.join(prod, "CURRENT")

    /**
     * A database from before releases were kept in it: record the releases of the production
     * folder, and the one CURRENT names as live. Once per process, and only while the database
     * holds no release.
     */
    const importFolder = Effect.gen(function*() {
      if ((yield* db.list()).length > 0) return
      const dirs = (yield* store.exists(releasesDir).pipe(Effect.orDie))
        ? (yield* store.list(releasesDir).pipe(Effect.orDie)).filter((e) => e.isDirectory).map((e) => e.name)
        : []
      const found = new Map<string, StoredRelease>()
      for (const id of dirs) {
        const texts: Record<string, string> = {}
        for (const name of RELEASE_FILES) {
          const t = yield* store.readText(NodePath.join(releasesDir, id, name)).pipe(Effect.option)
          if (Option.isSome(t)) texts[name] = t.value
        }
        if (texts["trainedmodel.json"] === undefined) continue
        const manifest = decodeManifest(texts["manifest.json"] ?? "")
        const release: StoredRelease = {
          releaseId: id,
          createdAt: Option.match(manifest, { onNone: () => new Date().toISOString(), onSome: (m) => m.deployedAt }),
          modelHash: Option.match(manifest, { onNone: () => sha256(texts["trainedmodel.json"]!), onSome: (m) => m.modelHash }),
          f1: parseScore(texts["latestscore.txt"] ?? ""),
          dataHash: Option.getOrNull(Option.flatMap(manifest, (m) => Option.fromNullable(m.dataHash))),
          files: {
            "trainedmodel.json": texts["trainedmodel.json"]!, "latestscore.txt": texts["latestscore.txt"] ?? "",
            "ingestedfiles.txt": texts["ingestedfiles.txt"] ?? "", "manifest.json": texts["manifest.json"] ?? ""
          }
        }
        yield* db.add(release)
        found.set(id, release)
      }
      if (yield* db.hasDeployments()) return
      const current = (yield* store.readText(pointer).pipe(Effect.orElseSucceed(() => ""))).trim()
      if (current.length === 0) return
      const r = found.get(current)
      yield* db.activate(current, r?.modelHash ?? "unknown", r?.f1 ?? null, { kind: "activate", reason: "imported from the production folder's CURRENT", runId: null })
      if (found.size > 0) yield* Effect.logInfo(`recorded ${found.size} release(s) of ${releasesDir} in the tracking database; ${current} is live`)
    })
    // once per process, once it has succeeded: a database that was down at the first call is
    // tried again at the next, so a server recovers without a restart
    const importedDone = yield* Ref.make(false)
    const importLock = yield* Effect.makeSemaphore(1)
    const imported = Effect.flatMap(Ref.get(importedDone), (done) =>
      done ? Effect.void : importLock.withPermits(1)(Effect.flatMap(Ref.get(importedDone), (again) =>
        again ? Effect.void : Effect.zipRight(importFolder, Ref.set(importedDone, true)))))

    // the live id is read at most every POINTER_TTL_MS per process (a busy server asks on every
    // request); this process's own deploys and activations refresh it at once
    const lastReadOk = yield* Ref.make(true)
    // read synchronously too (see peek)
    const pointerCache = MutableRef.make<{ readonly at: number; readonly id: Option.Option<string> } | null>(null)
    // untraced: a server calls these on every request, and a traced call captures a stack
    const currentId = Effect.fnUntraced(function*() {
      const cached = MutableRef.get(pointerCache)
      const now = Date.now()
      if (cached !== null && now - cached.at < POINTER_TTL_MS) return cached.id
      const read = yield* Effect.exit(Effect.zipRight(imported, db.liveId()))
      yield* Ref.set(lastReadOk, read._tag === "Success")
      if (read._tag === "Failure") {
        // the database is unreachable: keep serving the release this process last knew to be live
        // (asked again in a second, not on every request)
        if (cached !== null && !Cause.isInterruptedOnly(read.cause)) {
          MutableRef.set(pointerCache, { at: now, id: cached.id })
          return cached.id
        }
        return yield* Effect.failCause(read.cause)
      }
      MutableRef.set(pointerCache, { at: now, id: read.value })
      return read.value
    })
    /** Whether the tracking database answered the last read of the live id (read at most once a second): what /health reports. */
    const databaseReachable = Effect.fnUntraced(function*() {
      yield* Effect.exit(currentId())
      return yield* Ref.get(lastReadOk)
    })
    const remember = (releaseId: string) =>
      Effect.sync(() => {
        MutableRef.set(pointerCache, { at: Date.now(), id: Option.some(releaseId) })
      })

    /** The production folder's copy: the release's files, and CURRENT naming it. */
    /** A release's folder in the production folder: assembled in staging, renamed in whole. */
    const writeFolder = (release: StoredRelease) =>
      Effect.gen(function*() {
        const staging = NodePath.join(prod, `.staging-${release.releaseId}`)
        yield* store.remove(staging).pipe(Effect.ignore)
        yield* store.makeDirectory(staging).pipe(Effect.orDie)
        // each file is fsynced, renamed into staging and staging fsynced (writeAtomic)
        for (const name of RELEASE_FILES) yield* store.writeAtomic(NodePath.join(staging, name), release.files[name]).pipe(Effect.orDie)
        yield* store.makeDirectory(releasesDir).pipe(Effect.orDie)
        // a new releases folder is itself an entry of the production folder
        yield* store.sync(prod).pipe(Effect.orDie)
        // the rename fsyncs the releases folder: the release is durable before the database names it
        yield* store.rename(staging, NodePath.join(releasesDir, release.releaseId)).pipe(Effect.orDie)
      })

    /** The production folder's copy: the release's files (when this machine lacks them), and CURRENT naming it. */
    const mirror = (release: StoredRelease) =>
      Effect.gen(function*() {
        if (!(yield* store.exists(NodePath.join(releasesDir, release.releaseId, "trainedmodel.json")).pipe(Effect.orDie))) yield* writeFolder(release)
        yield* store.writeAtomic(pointer, `${release.releaseId}\n`).pipe(Effect.orDie)
      })

    // a release never changes once written: keep the loaded live one until another is live
    const cache = MutableRef.make(Option.none<Release>())

    /** The live release, or NotDeployed. */
    const current = Effect.fnUntraced(function*() {
      const id = yield* currentId()
      if (Option.isNone(id)) return yield* new NotDeployed({ message: `nothing is deployed in ${prod} yet; run the deployment step` })
      const cached = MutableRef.get(cache)
      if (Option.isSome(cached) && cached.value.releaseId === id.value) return cached.value
      const stored = yield* db.get(id.value)
      if (Option.isNone(stored)) {
        return yield* new NotDeployed({ message: `release ${id.value} is live but unusable: the tracking database holds no copy of it`, brokenRelease: id.value })
      }
      const files = stored.value.files
      const m = yield* model.decode(files["trainedmodel.json"], `release ${id.value}`).pipe(
        Effect.mapError((e) => new NotDeployed({ message: `release ${id.value} is live but unusable: ${e.message}`, brokenRelease: id.value }))
      )
      const release: Release = {
        releaseId: id.value, dir: NodePath.join(releasesDir, id.value), model: m, modelHash: modelHash(m),
        f1: parseScore(files["latestscore.txt"]), ingestedFiles: parseList(files["ingestedfiles.txt"])
      }
      MutableRef.set(cache, Option.some(release))
      return release
    })

    /**
     * The release `current` would return without asking the database or loading anything:
     * the live id read less than POINTER_TTL_MS ago, and the release loaded for it; null
     * otherwise, and then `current` asks. Synchronous: the server's fast path answers with it
     * (PredictionFastPath).
     */
    const peek = (): Release | null => {
      const pointer = MutableRef.get(pointerCache)
      const loaded = MutableRef.get(cache)
      return pointer !== null && Date.now() - pointer.at < POINTER_TTL_MS && Option.isSome(pointer.id) && Option.isSome(loaded) &&
          loaded.value.releaseId === pointer.id.value
        ? loaded.value
        : null
    }

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
      // each file is read once: what is checked is what is deployed
      const texts = {} as Record<(typeof DEPLOYED_FILES)[number], string>
      for (const name of DEPLOYED_FILES) texts[name] = yield* store.readText(sources[name]).pipe(Effect.orDie)
      const m = yield* model.decode(texts["trainedmodel.json"], sources["trainedmodel.json"]).pipe(Effect.mapError((e) => new DeployError({ message: `cannot deploy: ${e.message}` })))
      const scoreText = texts["latestscore.txt"].trim()
      const f1 = Number(scoreText)
      if (scoreText.length === 0 || !Number.isFinite(f1)) {
        return yield* new DeployError({ message: `cannot deploy: ${sources["latestscore.txt"]} holds "${scoreText}", not a score` })
      }
      yield* imported
      const hash = modelHash(m)
      const known = new Set((yield* db.list()).map((r) => r.releaseId))
      const stem = `${new Date().toISOString().replace(/[:.]/g, "-")}-${hash.slice(0, 8)}`
      let releaseId = stem
      for (let n = 2; known.has(releaseId) || (yield* store.exists(NodePath.join(releasesDir, releaseId)).pipe(Effect.orDie)); n++) releaseId = `${stem}-${n}`
      // leftovers of an interrupted deployment are never live; clear them
      if (yield* store.exists(prod).pipe(Effect.orDie)) {
        for (const e of yield* store.list(prod).pipe(Effect.orDie)) {
          if (e.name.startsWith(".staging-")) yield* store.remove(NodePath.join(prod, e.name)).pipe(Effect.orDie)
        }
      }
      const deployedAt = new Date().toISOString()
      const digests = Object.fromEntries(DEPLOYED_FILES.map((name) => [name, sha256(texts[name])]))
      const manifest = JSON.stringify({ releaseId, modelHash: hash, f1, deployedAt, dataHash: m.dataHash, sha256: digests }, null, 2) + "\n"
      const release: StoredRelease = { releaseId, createdAt: deployedAt, modelHash: hash, f1, dataHash: m.dataHash, files: { ...texts, "manifest.json": manifest } }
      const dir = NodePath.join(releasesDir, releaseId)
      yield* writeFolder(release)
      // the commit point: from here on the new release is live, on every server
      yield* db.commit(release, { kind: "deploy", reason: null, runId })
      yield* remember(releaseId)
      yield* mirror(release)
      const scored = (yield* tracking.scores("training")).filter((s) => s.modelHash === hash)
      yield* tracking.recordScore({ modelHash: hash, purpose: "deployed", dataset: config.test_data_path, rows: scored.at(-1)?.rows ?? 0, f1, dataKind: "test" })
      yield* prune(releaseId)
      yield* Effect.logInfo(`deployed release ${releaseId} (F1 ${f1})`)
      return { releaseId, dir, modelHash: hash, f1 }
    })

    /** Release ids, oldest first (ids start with their deployment time). */
    const ids = Effect.fn("Deployer.ids")(function*() {
      yield* imported
      return (yield* db.list()).map((r) => r.releaseId)
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
      for (const r of old) {
        yield* db.remove(r)
        yield* store.remove(NodePath.join(releasesDir, r)).pipe(Effect.orDie)
      }
    })

    /** Every release, oldest first, the live one marked. */
    const list = Effect.fn("Deployer.list")(function*() {
      yield* imported
      const live = Option.getOrNull(yield* currentId())
      return (yield* db.list()).map((r): ReleaseInfo => ({
        releaseId: r.releaseId, deployedAt: r.createdAt, f1: r.f1, modelHash: r.modelHash, dataHash: r.dataHash, live: r.releaseId === live
      }))
    })

    /**
     * Make an existing release live, once its model loads: one deployment row in the database,
     * recorded with its kind and reason; then the production folder's mirror.
     */
    const activate = Effect.fn("Deployer.activate")(function*(releaseId: string, kind: "rollback" | "activate", reason: string) {
      yield* imported
      const stored = yield* db.get(releaseId)
      if (Option.isNone(stored)) {
        return yield* new ReleaseNotFound({ releaseId, message: `no release ${releaseId} in the tracking database; see the releases command` })
      }
      const m = yield* model.decode(stored.value.files["trainedmodel.json"], `release ${releaseId}`).pipe(
        Effect.mapError((e) => new DeployError({ message: `release ${releaseId} cannot be made live: ${e.message}` }))
      )
      const previous = Option.getOrNull(yield* db.liveId())
      const f1 = stored.value.f1
      yield* db.activate(releaseId, modelHash(m), f1, { kind, reason, runId: null })
      yield* remember(releaseId)
      // the database is what servers read; a production folder this machine cannot write is a warning
      yield* mirror(stored.value).pipe(
        Effect.catchAllCause((cause) => Effect.logWarning(`release ${releaseId} is live, but ${prod} could not be updated: ${Cause.pretty(cause).split("\n")[0]}`))
      )
      yield* alerts.notify({ event: "rolled-back", runId: null, details: { releaseId, previous, kind, reason, f1 } })
      yield* Effect.logInfo(`release ${releaseId} is live (${kind}: ${reason}); it was ${previous ?? "nothing"}`)
      return { releaseId, previous, f1 }
    })

    /** Roll back to `releaseId`, or to the release before the live one. */
    const rollback = Effect.fn("Deployer.rollback")(function*(releaseId?: string, reason = "rollback requested") {
      const target = releaseId ?? (yield* rollbackTarget())
      if (target === null) return yield* new ReleaseNotFound({ releaseId: "", message: "there is no release before the live one to roll back to" })
      return yield* activate(target, "rollback", reason)
    })

    return { current, peek, deploy, list, activate, rollback, rollbackTarget, databaseReachable } as const
  })
}) {
  static readonly layerTest = Deployer.Default.pipe(
    Layer.provideMerge(Layer.mergeAll(Model.Default, Alerts.Default)),
    Layer.provideMerge(Layer.mergeAll(FileStore.layerMemory(), Tracking.layerTest, AppConfig.layerTest(), Progress.layerTest))
  )
}
