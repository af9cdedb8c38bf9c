/**
 * The tracking database, with append-only numbered migrations: a SQLite file (the default)
 * or PostgreSQL (`postgres://…`, for several machines). One set of migrations and queries
 * serves both; the DDL below is SQLite's, adapted for PostgreSQL where the two differ.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { SqliteClient, SqliteMigrator } from "@effect/sql-sqlite-node"
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Redacted, Schedule } from "effect"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"

/** SQLite's DDL for PostgreSQL: serial ids, and 8-byte floats (PostgreSQL's REAL has 4 bytes). */
export const toPostgresDdl = (ddl: string) =>
  ddl.replace(/INTEGER PRIMARY KEY AUTOINCREMENT/g, "SERIAL PRIMARY KEY").replace(/\bREAL\b/g, "DOUBLE PRECISION")

const ddl = (sql: SqlClient.SqlClient, text: string) =>
  sql.onDialectOrElse({ pg: () => sql.unsafe(toPostgresDdl(text)), orElse: () => sql.unsafe(text) })

const m0001 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* ddl(sql, `CREATE TABLE ingested_files (
    sha256 TEXT PRIMARY KEY,
    file_name TEXT NOT NULL,
    rows INTEGER NOT NULL,
    ingested_at TEXT NOT NULL,
    run_id INTEGER
  )`)
  yield* ddl(sql, `CREATE TABLE rejected_files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL,
    file_name TEXT NOT NULL,
    moved_to TEXT,
    reason TEXT NOT NULL,
    rejected_at TEXT NOT NULL
  )`)
  yield* ddl(sql, `CREATE TABLE model_versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    path TEXT NOT NULL,
    data_hash TEXT NOT NULL,
    solver TEXT NOT NULL,
    coefficients TEXT NOT NULL,
    intercept REAL NOT NULL,
    config TEXT NOT NULL
  )`)
  yield* ddl(sql, `CREATE TABLE scores (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scored_at TEXT NOT NULL,
    model_hash TEXT NOT NULL,
    purpose TEXT NOT NULL,
    dataset TEXT NOT NULL,
    rows INTEGER NOT NULL,
    f1 REAL NOT NULL
  )`)
  yield* ddl(sql, `CREATE TABLE deployments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deployed_at TEXT NOT NULL,
    release_id TEXT NOT NULL,
    model_hash TEXT NOT NULL,
    f1 REAL
  )`)
  yield* ddl(sql, `CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    command TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    summary TEXT
  )`)
  yield* ddl(sql, `CREATE TABLE drift_decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER,
    decided_at TEXT NOT NULL,
    test TEXT NOT NULL,
    drifted INTEGER NOT NULL,
    new_score REAL NOT NULL,
    deployed_score REAL,
    threshold REAL,
    reason TEXT NOT NULL
  )`)
  yield* ddl(sql, `CREATE TABLE step_timings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER,
    step TEXT NOT NULL,
    ms REAL NOT NULL,
    measured_at TEXT NOT NULL
  )`)
})

/** each model version carries its F1 on the test data once scored */
const m0002 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* ddl(sql, `ALTER TABLE model_versions ADD COLUMN f1 REAL`)
  yield* ddl(sql, `CREATE INDEX scores_purpose ON scores (purpose, id)`)
})

/** the data snapshots (Parquet) and which rows each score was computed on */
const m0004 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* ddl(sql, `CREATE TABLE snapshots (
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
  )`)
  yield* ddl(sql, `ALTER TABLE ingested_files ADD COLUMN snapshot_hash TEXT`)
  yield* ddl(sql, `ALTER TABLE scores ADD COLUMN data_kind TEXT`)
})

/** deployments say why (deploy, rollback, activate); model versions keep the gate's verdict */
const m0005 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* ddl(sql, `ALTER TABLE deployments ADD COLUMN kind TEXT NOT NULL DEFAULT 'deploy'`)
  yield* ddl(sql, `ALTER TABLE deployments ADD COLUMN reason TEXT`)
  yield* ddl(sql, `ALTER TABLE deployments ADD COLUMN run_id INTEGER`)
  yield* ddl(sql, `ALTER TABLE model_versions ADD COLUMN live_f1 REAL`)
  yield* ddl(sql, `ALTER TABLE model_versions ADD COLUMN gate TEXT`)
  yield* ddl(sql, `ALTER TABLE model_versions ADD COLUMN roc_auc REAL`)
  yield* ddl(sql, `ALTER TABLE model_versions ADD COLUMN log_loss REAL`)
  yield* ddl(sql, `ALTER TABLE model_versions ADD COLUMN classification_report TEXT`)
})

/** per-feature data drift of each run, and which test fired a drift decision */
const m0006 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* ddl(sql, `CREATE TABLE data_drift (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER,
    created_at TEXT NOT NULL,
    reference_hash TEXT NOT NULL,
    current_hash TEXT NOT NULL,
    psi_threshold REAL NOT NULL,
    ks_alpha REAL NOT NULL,
    drifted INTEGER NOT NULL,
    features TEXT NOT NULL
  )`)
  yield* ddl(sql, `ALTER TABLE drift_decisions ADD COLUMN fired TEXT`)
})

/** every alert delivery, delivered or not */
const m0007 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* ddl(sql, `CREATE TABLE alert_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL,
    run_id INTEGER,
    url TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    delivered INTEGER NOT NULL,
    http_status INTEGER,
    error TEXT,
    at TEXT NOT NULL
  )`)
})

/**
 * releases live in the database as well as in prod_deployment_path, so API servers on any
 * machine serve the one the database names live (the last deployments row); runs scheduled
 * on cluster workers are recorded per tick
 */
const m0008 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* ddl(sql, `CREATE TABLE releases (
    release_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    model_hash TEXT NOT NULL,
    f1 REAL,
    data_hash TEXT,
    model TEXT NOT NULL,
    score TEXT NOT NULL,
    ingested TEXT NOT NULL,
    manifest TEXT NOT NULL
  )`)
  yield* ddl(sql, `CREATE TABLE scheduled_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tick TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    worker TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    outcome TEXT,
    run_id INTEGER
  )`)
  yield* ddl(sql, `CREATE TABLE workflow_activities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id TEXT NOT NULL,
    activity TEXT NOT NULL,
    worker TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL
  )`)
})

/** a scheduled run names the worker that finished it; a skipped tick, the run it found going */
const m0009 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* ddl(sql, `ALTER TABLE scheduled_runs ADD COLUMN finished_by TEXT`)
  yield* ddl(sql, `ALTER TABLE scheduled_runs ADD COLUMN found_tick TEXT`)
  yield* ddl(sql, `ALTER TABLE scheduled_runs ADD COLUMN found_run_id INTEGER`)
})

/** a snapshot is a list of Parquet files (JSON: path, hash, rows of each), not one merged file */
const m0010 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* ddl(sql, `ALTER TABLE snapshots ADD COLUMN parts TEXT`)
})

const migrations = {
  "0001_init": m0001, "0002_model_score": m0002, "0004_snapshots": m0004, "0005_lifecycle": m0005, "0006_data_drift": m0006, "0007_alerts": m0007,
  "0008_shared_releases": m0008, "0009_schedule_workers": m0009,
  "0010_snapshot_parts": m0010
}

/**
 * Two processes starting on a new database at once (two workers, a server and a cron run) both
 * try to migrate it; the one that loses finds the migrations "already running". It tries again
 * shortly, and then finds them done. (The cluster's own tables are created the same way.)
 */
export const migrationRetry = Schedule.spaced("250 millis").pipe(Schedule.intersect(Schedule.recurs(20)))

const make = (filename: string): Layer.Layer<SqlClient.SqlClient> =>
  SqliteMigrator.layer({ loader: SqliteMigrator.fromRecord(migrations) }).pipe(
    Layer.retry(migrationRetry),
    Layer.provideMerge(SqliteClient.layer({ filename })),
    Layer.provide(NodeContext.layer),
    Layer.orDie
  )

// the PostgreSQL client (and the copy of Effect it brings) loads only for a postgres:// URL
const makePostgres = (url: string): Layer.Layer<SqlClient.SqlClient> =>
  Layer.unwrapEffect(Effect.map(Effect.promise(() => import("@effect/sql-pg")), ({ PgClient, PgMigrator }) =>
    PgMigrator.layer({ loader: PgMigrator.fromRecord(migrations) }).pipe(
      Layer.retry(migrationRetry),
      Layer.provideMerge(PgClient.layer({ url: Redacted.make(url) })),
      Layer.provide(NodeContext.layer),
      Layer.orDie
    )))

export const isPostgresUrl = (url: string) => /^postgres(ql)?:\/\//.test(url)

/** The tracking database: PostgreSQL for a postgres:// URL, else a SQLite file (its folder is created when missing). */
export const DbLive = (database: string): Layer.Layer<SqlClient.SqlClient> =>
  isPostgresUrl(database)
    ? makePostgres(database)
    : Layer.unwrapEffect(Effect.sync(() => {
      NodeFs.mkdirSync(NodePath.dirname(NodePath.resolve(database)), { recursive: true })
      return make(database)
    }))

/** A fresh in-memory SQLite database per build, migrated like the real one. */
export const DbTest: Layer.Layer<SqlClient.SqlClient> = Layer.suspend(() => make(":memory:"))
