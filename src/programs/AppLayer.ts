/** The only production wiring: live services over the real filesystem and SQLite. */
import * as NodeContext from "@effect/platform-node/NodeContext"
import type { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import type { AppConfigSchema } from "../domain/Schemas.js"
import { DuckDb } from "../data/DuckDb.js"
import { PredictionLog } from "../data/PredictionLog.js"
import { Snapshots } from "../data/Snapshots.js"
import { AppConfig, loadConfig, trackingDbPath } from "../services/AppConfig.js"
import { DbLive } from "../services/Db.js"
import { Dependencies } from "../services/Dependencies.js"
import { Alerts } from "../services/Alerts.js"
import { Deployer } from "../services/Deployer.js"
import { Diagnostics } from "../services/Diagnostics.js"
import { FileStore } from "../services/FileStore.js"
import { Ingestion } from "../services/Ingestion.js"
import { Model } from "../services/Model.js"
import { Monitor } from "../services/Monitor.js"
import { Progress } from "../services/Progress.js"
import { Reporter } from "../services/Reporter.js"
import { Scorer } from "../services/Scorer.js"
import { ReleaseStore } from "../services/ReleaseStore.js"
import { Tracking } from "../services/Tracking.js"

export const FileStoreLive = FileStore.Default.pipe(Layer.provide(NodeContext.layer))

/** Every service, given a decoded config, a FileStore, the tracking database and the dependency checker. */
export const servicesLayer = <E, R>(base: Layer.Layer<AppConfig | FileStore | Tracking | ReleaseStore | Dependencies | Progress, E, R>) =>
  Monitor.Default.pipe(
    Layer.provideMerge(Layer.mergeAll(Diagnostics.Default, Deployer.Default, Reporter.Default)),
    Layer.provideMerge(Layer.mergeAll(Scorer.Default, Ingestion.Default, Alerts.Default)),
    Layer.provideMerge(Layer.mergeAll(Model.Default, Snapshots.Default, PredictionLog.Default)),
    Layer.provideMerge(DuckDb.Default),
    Layer.provideMerge(base)
  )

/** Every service on the real filesystem and SQLite, for a decoded config; the dependency checker can be swapped (the benchmark does). */
export const liveServices = (
  config: AppConfigSchema,
  dependencies: (config: Layer.Layer<AppConfig>) => Layer.Layer<Dependencies> = (c) => Dependencies.Default.pipe(Layer.provide(c)),
  progress = false,
  db: Layer.Layer<SqlClient.SqlClient> = DbLive(trackingDbPath(config))
) => {
  const configLayer = Layer.succeed(AppConfig, config)
  return servicesLayer(
    Layer.mergeAll(
      configLayer,
      FileStoreLive,
      Tracking.layerOn(db),
      dependencies(configLayer),
      Progress.layer(progress)
    )
  )
}

/** The live services for a config file; `progress`: show progress lines (an interactive terminal, not --json). */
export const AppLayer = (configPath: string, overrides: ReadonlyArray<string>, progress = false) =>
  Layer.unwrapEffect(
    loadConfig(configPath, overrides).pipe(
      Effect.provide(FileStoreLive),
      Effect.map((config) => liveServices(config, undefined, progress))
    )
  )
