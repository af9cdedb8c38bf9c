/**
 * ReleaseStore: the releases in the tracking database (SQLite or PostgreSQL). A release's
 * files (model, score, ingested list, manifest) are stored whole, so an API server on any
 * machine can serve it; the live release is the one the newest `deployments` row names.
 * A release and the deployment that makes it live are written in one transaction.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option } from "effect"
import { DbTest } from "./Db.js"
import type { DeploymentKind } from "./Tracking.js"

/** A release as the database holds it: what it is, and its files' text. */
export interface StoredRelease {
  readonly releaseId: string
  readonly createdAt: string
  readonly modelHash: string
  readonly f1: number | null
  readonly dataHash: string | null
  readonly files: {
    readonly "trainedmodel.json": string
    readonly "latestscore.txt": string
    readonly "ingestedfiles.txt": string
    readonly "manifest.json": string
  }
}

export type StoredReleaseInfo = Omit<StoredRelease, "files">

export interface DeploymentRecord {
  readonly kind: DeploymentKind
  readonly reason: string | null
  readonly runId: number | null
}

type InfoSql = { release_id: string; created_at: string; model_hash: string; f1: number | null; data_hash: string | null }
type RowSql = InfoSql & { model: string; score: string; ingested: string; manifest: string }

const toInfo = (r: InfoSql): StoredReleaseInfo => ({
  releaseId: r.release_id, createdAt: r.created_at, modelHash: r.model_hash, f1: r.f1, dataHash: r.data_hash
})

export class ReleaseStore extends Effect.Service<ReleaseStore>()("drs/ReleaseStore", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const insertDeployment = (releaseId: string, modelHash: string, f1: number | null, how: DeploymentRecord) =>
      sql`INSERT INTO deployments ${sql.insert({
        deployed_at: new Date().toISOString(), release_id: releaseId, model_hash: modelHash, f1, kind: how.kind, reason: how.reason, run_id: how.runId
      })}`

    const releaseRow = (release: StoredRelease) => {
      const f = release.files
      return sql.insert({
        release_id: release.releaseId, created_at: release.createdAt, model_hash: release.modelHash, f1: release.f1, data_hash: release.dataHash,
        model: f["trainedmodel.json"], score: f["latestscore.txt"], ingested: f["ingestedfiles.txt"], manifest: f["manifest.json"]
      })
    }

    /** The id of the live release: the newest deployment's. */
    const liveId = Effect.fn("ReleaseStore.liveId")(function*() {
      const rows = yield* sql<{ release_id: string }>`SELECT release_id FROM deployments ORDER BY id DESC LIMIT 1`
      return Option.fromNullable(rows[0]?.release_id)
    }, Effect.orDie)

    const get = Effect.fn("ReleaseStore.get")(function*(releaseId: string) {
      const rows = yield* sql<RowSql>`SELECT * FROM releases WHERE release_id = ${releaseId}`
      const r = rows[0]
      if (r === undefined) return Option.none<StoredRelease>()
      return Option.some<StoredRelease>({
        ...toInfo(r),
        files: { "trainedmodel.json": r.model, "latestscore.txt": r.score, "ingestedfiles.txt": r.ingested, "manifest.json": r.manifest }
      })
    }, Effect.orDie)

    /** Every release, oldest first (ids start with their deployment time). */
    const list = Effect.fn("ReleaseStore.list")(function*() {
      const rows = yield* sql<InfoSql>`SELECT release_id, created_at, model_hash, f1, data_hash FROM releases ORDER BY release_id`
      return rows.map(toInfo)
    }, Effect.orDie)

    /** Record a release and make it live, in one transaction. */
    const commit = Effect.fn("ReleaseStore.commit")(function*(release: StoredRelease, how: DeploymentRecord) {
      yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO releases ${releaseRow(release)}`
        yield* insertDeployment(release.releaseId, release.modelHash, release.f1, how)
      }))
    }, Effect.orDie)

    /** Record a release without making it live (one found in the production folder, say). */
    const add = Effect.fn("ReleaseStore.add")(function*(release: StoredRelease) {
      yield* sql`INSERT INTO releases ${releaseRow(release)} ON CONFLICT DO NOTHING`
    }, Effect.orDie)

    /** Make a recorded release live. */
    const activate = Effect.fn("ReleaseStore.activate")(function*(releaseId: string, modelHash: string, f1: number | null, how: DeploymentRecord) {
      yield* insertDeployment(releaseId, modelHash, f1, how)
    }, Effect.orDie)

    const remove = Effect.fn("ReleaseStore.remove")(function*(releaseId: string) {
      yield* sql`DELETE FROM releases WHERE release_id = ${releaseId}`
    }, Effect.orDie)

    const hasDeployments = Effect.fn("ReleaseStore.hasDeployments")(function*() {
      const rows = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM deployments`
      return Number(rows[0]?.n ?? 0) > 0
    }, Effect.orDie)

    return { liveId, get, list, commit, add, activate, remove, hasDeployments } as const
  })
}) {
  /** In-memory SQLite, fresh per build. */
  static readonly layerTest: Layer.Layer<ReleaseStore> = ReleaseStore.Default.pipe(Layer.provide(DbTest))
}
