/**
 * `worker`: a cluster runner (@effect/cluster) whose message and runner storage live in the
 * tracking database. It runs fullprocess as a durable workflow, started once per tick of
 * `schedule` across all workers by ClusterCron. Loaded only by the worker command.
 */
import * as ClusterWorkflowEngine from "@effect/cluster/ClusterWorkflowEngine"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as Snowflake from "@effect/cluster/Snowflake"
import * as SqlMessageStorage from "@effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "@effect/cluster/SqlRunnerStorage"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import { Duration, Effect, Layer, Option } from "effect"
import type { AppConfigSchema } from "../domain/Schemas.js"
import { liveServices } from "../programs/AppLayer.js"
import { FullProcessCron, FullProcessWorkflowLive } from "../programs/FullProcessWorkflow.js"
import { checkSharedStorage } from "../programs/SharedStorage.js"
import { trackingDbPath } from "../services/AppConfig.js"
import { DbLive, isPostgresUrl, migrationRetry } from "../services/Db.js"

/** Cluster timings from one knob: how soon a dead worker's runs move elsewhere. */
const shardingConfig = (config: AppConfigSchema, host: string, port: number) => {
  const failover = config.worker_failover_seconds
  return {
    runnerAddress: Option.some(RunnerAddress.make(host, port)),
    shardLockExpiration: Duration.seconds(failover),
    shardLockRefreshInterval: Duration.seconds(Math.max(1, failover / 3)),
    runnerHealthCheckInterval: Duration.seconds(Math.max(1, failover / 3)),
    refreshAssignmentsInterval: Duration.seconds(Math.min(3, Math.max(1, failover / 10))),
    entityMessagePollInterval: Duration.seconds(Math.min(10, Math.max(1, failover / 5)))
  }
}

/**
 * The cluster's own tables, created (migrated) before the runner starts: two workers starting
 * on a new database at once race to create them, and the loser tries again.
 */
const prepareClusterTables = (sharding: Partial<ShardingConfig.ShardingConfig["Type"]>) =>
  Effect.gen(function*() {
    yield* Effect.scoped(SqlMessageStorage.make()).pipe(Effect.provide(Snowflake.layerGenerator))
    yield* Effect.scoped(SqlRunnerStorage.make({})).pipe(Effect.provide(ShardingConfig.layer(sharding)))
  }).pipe(
    Effect.sandbox,
    Effect.retry(migrationRetry),
    Effect.unsandbox
  )

export const workerProgram = (config: AppConfigSchema, address: { readonly host?: string | undefined; readonly port?: number | undefined } = {}) => {
  const host = address.host ?? config.worker_host
  const port = address.port ?? config.worker_port
  const name = `${host}:${port}`
  const database = trackingDbPath(config)
  // one database connection for the tracking services and the cluster's storage
  const db = DbLive(database)
  const services = liveServices(config, undefined, false, db)
  const sharding = shardingConfig(config, host, port)
  const cluster = ClusterWorkflowEngine.layer.pipe(
    Layer.provideMerge(NodeClusterSocket.layer({ storage: "sql", shardingConfig: sharding }))
  )
  const worker = Layer.mergeAll(FullProcessWorkflowLive(name), FullProcessCron(config.schedule)).pipe(Layer.provide(cluster))
  return Effect.gen(function*() {
    yield* checkSharedStorage
    if (!isPostgresUrl(database)) {
      yield* Effect.logWarning(`the tracking database is SQLite (${database}): workers can only share it on this machine; use a postgres:// database_url for several machines`)
    }
    yield* prepareClusterTables(sharding)
    yield* Effect.logInfo(`worker ${name} started: fullprocess on schedule "${config.schedule}"`)
    return yield* Layer.launch(worker)
  }).pipe(
    Effect.annotateLogs({ worker: name }),
    Effect.provide(Layer.merge(services, db))
  )
}
