/** SQLite: the tracking database, with append-only numbered migrations. */
import { NodeContext } from "@effect/platform-node"
import { SqliteClient, SqliteMigrator } from "@effect/sql-sqlite-node"
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"

const m0001 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE ingested_files (
    sha256 TEXT PRIMARY KEY,
    file_name TEXT NOT NULL,
    rows INTEGER NOT NULL,
    ingested_at TEXT NOT NULL,
    run_id INTEGER
  )`
  yield* sql`CREATE TABLE rejected_files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL,
    file_name TEXT NOT NULL,
    moved_to TEXT,
    reason TEXT NOT NULL,
    rejected_at TEXT NOT NULL
  )`
  yield* sql`CREATE TABLE model_versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    path TEXT NOT NULL,
    data_hash TEXT NOT NULL,
    solver TEXT NOT NULL,
    coefficients TEXT NOT NULL,
    intercept REAL NOT NULL,
    config TEXT NOT NULL
  )`
  yield* sql`CREATE TABLE scores (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scored_at TEXT NOT NULL,
    model_hash TEXT NOT NULL,
    purpose TEXT NOT NULL,
    dataset TEXT NOT NULL,
    rows INTEGER NOT NULL,
    f1 REAL NOT NULL
  )`
  yield* sql`CREATE TABLE deployments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deployed_at TEXT NOT NULL,
    release_id TEXT NOT NULL,
    model_hash TEXT NOT NULL,
    f1 REAL
  )`
  yield* sql`CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    command TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    summary TEXT
  )`
  yield* sql`CREATE TABLE drift_decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER,
    decided_at TEXT NOT NULL,
    test TEXT NOT NULL,
    drifted INTEGER NOT NULL,
    new_score REAL NOT NULL,
    deployed_score REAL,
    threshold REAL,
    reason TEXT NOT NULL
  )`
  yield* sql`CREATE TABLE step_timings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER,
    step TEXT NOT NULL,
    ms REAL NOT NULL,
    measured_at TEXT NOT NULL
  )`
})

/** each model version carries its F1 on the test data once scored */
const m0002 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE model_versions ADD COLUMN f1 REAL`
  yield* sql`CREATE INDEX scores_purpose ON scores (purpose, id)`
})

/** the data snapshots (Parquet) and which rows each score was computed on */
const m0004 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hash TEXT NOT NULL,
    path TEXT NOT NULL,
    rows INTEGER NOT NULL,
    batch_path TEXT,
    batch_rows INTEGER NOT NULL,
    rows_read INTEGER NOT NULL,
    dataset_schema TEXT NOT NULL,
    created_at TEXT NOT NULL,
    run_id INTEGER
  )`
  yield* sql`ALTER TABLE ingested_files ADD COLUMN snapshot_hash TEXT`
  yield* sql`ALTER TABLE scores ADD COLUMN data_kind TEXT`
})

/** deployments say why (deploy, rollback, activate); model versions keep the gate's verdict */
const m0005 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE deployments ADD COLUMN kind TEXT NOT NULL DEFAULT 'deploy'`
  yield* sql`ALTER TABLE deployments ADD COLUMN reason TEXT`
  yield* sql`ALTER TABLE deployments ADD COLUMN run_id INTEGER`
  yield* sql`ALTER TABLE model_versions ADD COLUMN live_f1 REAL`
  yield* sql`ALTER TABLE model_versions ADD COLUMN gate TEXT`
  yield* sql`ALTER TABLE model_versions ADD COLUMN roc_auc REAL`
  yield* sql`ALTER TABLE model_versions ADD COLUMN log_loss REAL`
  yield* sql`ALTER TABLE model_versions ADD COLUMN classification_report TEXT`
})

/** per-feature data drift of each run, and which test fired a drift decision */
const m0006 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE data_drift (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER,
    created_at TEXT NOT NULL,
    reference_hash TEXT NOT NULL,
    current_hash TEXT NOT NULL,
    psi_threshold REAL NOT NULL,
    ks_alpha REAL NOT NULL,
    drifted INTEGER NOT NULL,
    features TEXT NOT NULL
  )`
  yield* sql`ALTER TABLE drift_decisions ADD COLUMN fired TEXT`
})

/** every alert delivery, delivered or not */
const m0007 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE alert_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL,
    run_id INTEGER,
    url TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    delivered INTEGER NOT NULL,
    http_status INTEGER,
    error TEXT,
    at TEXT NOT NULL
  )`
})

const Migrations = SqliteMigrator.layer({
  loader: SqliteMigrator.fromRecord({ "0001_init": m0001, "0002_model_score": m0002, "0004_snapshots": m0004, "0005_lifecycle": m0005, "0006_data_drift": m0006, "0007_alerts": m0007 })
})

const make = (filename: string) =>
  Migrations.pipe(
    Layer.provideMerge(SqliteClient.layer({ filename })),
    Layer.provide(NodeContext.layer),
    Layer.orDie
  )

/** The tracking database in a file; its folder is created when missing. */
export const DbLive = (filename: string): Layer.Layer<SqlClient.SqlClient | SqliteClient.SqliteClient> =>
  Layer.unwrapEffect(Effect.sync(() => {
    NodeFs.mkdirSync(NodePath.dirname(NodePath.resolve(filename)), { recursive: true })
    return make(filename)
  }))

/** A fresh in-memory SQLite database per build, migrated like the real one. */
export const DbTest: Layer.Layer<SqlClient.SqlClient | SqliteClient.SqliteClient> = Layer.suspend(() => make(":memory:"))
