/** Test wiring: every service over in-memory layers (Map filesystem, in-memory SQLite). */
import { Effect, Layer } from "effect"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { servicesLayer } from "../src/programs/AppLayer.js"
import { AppConfig } from "../src/services/AppConfig.js"
import { Dependencies } from "../src/services/Dependencies.js"
import { FileStore } from "../src/services/FileStore.js"
import { Progress } from "../src/services/Progress.js"
import type { ReleaseStore } from "../src/services/ReleaseStore.js"
import { Tracking } from "../src/services/Tracking.js"
import { DependencyReport, OutdatedDependency } from "../src/domain/Schemas.js"
import { columnsOf, DEFAULT_DATASET, type DatasetSchema } from "../src/domain/Dataset.js"
import type { Frame } from "../src/lib/Frame.js"
import { prng } from "../src/programs/GenerateData.js"

export const fixedDependencies = DependencyReport.make({
  checked: true,
  packages: [OutdatedDependency.make({ name: "left-pad", current: "1.0.0", wanted: "1.0.0", latest: "1.3.0" })]
})

export const TestLayer = (
  files: Record<string, string | Uint8Array> = {},
  config: Parameters<typeof AppConfig.layerTest>[0] = {},
  tracking: Layer.Layer<Tracking | ReleaseStore> = Tracking.layerTest
) =>
  servicesLayer(Layer.mergeAll(
    AppConfig.layerTest(config),
    FileStore.layerTemp(files),
    tracking,
    Dependencies.layerFixed(fixedDependencies),
    Progress.layerTest
  ))

/** The reference system's public data (../shared/reference), read from disk once. */
export const referenceDir = process.env.DRS_REFERENCE_DIR ?? NodePath.resolve(import.meta.dirname, "../../shared/reference")

export const referenceFiles = (): Record<string, string> => {
  if (!NodeFs.existsSync(referenceDir)) {
    throw new Error(`reference data not found at ${referenceDir}; set DRS_REFERENCE_DIR to the folder holding practicedata/ and testdata/`)
  }
  const read = (rel: string) => NodeFs.readFileSync(NodePath.join(referenceDir, rel), "utf8")
  return {
    "/t/data/sourcedata/dataset1.csv": read("practicedata/dataset1.csv"),
    "/t/data/sourcedata/dataset2.csv": read("practicedata/dataset2.csv"),
    "/t/data/testdata/testdata.csv": read("testdata/testdata.csv")
  }
}

/** A test fixture row of the default columns (tests only: the system itself never builds row objects). */
export type Row = {
  readonly corporation: string
  readonly lastmonth_activity: number | null
  readonly lastyear_activity: number | null
  readonly number_of_employees: number | null
  readonly exited: 0 | 1
}

export const row = (corporation: string, lm: number | null, ly: number | null, ne: number | null, exited: 0 | 1): Row => ({
  corporation, lastmonth_activity: lm, lastyear_activity: ly, number_of_employees: ne, exited
})

const quote = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s)

/**
 * Rows whose label follows a rule a model can learn exactly (lastmonth_activity < 300, with a
 * clear margin); `flip` inverts the rule (drift); `employeesFrom` moves a feature that does
 * not decide the label (data drift).
 */
export const ruled = (n: number, seed: number, flip = false, employeesFrom = 0): Array<Row> => {
  const rand = prng(seed)
  return Array.from({ length: n }, (_, i) => {
    const lm = rand() < 0.5 ? Math.round(rand() * 250) : Math.round(350 + rand() * 350)
    return row(`c${seed}-${i}`, lm, Math.round(rand() * 5000), employeesFrom + Math.round(rand() * 50), (lm < 300) !== flip ? 1 : 0)
  })
}

/** Fixture rows as a CSV document of the given schema (default: the reference's columns). */
export const csv = (rows: ReadonlyArray<Record<string, unknown>>, dataset: DatasetSchema = DEFAULT_DATASET) =>
  [columnsOf(dataset).join(","), ...rows.map((r) => columnsOf(dataset).map((c) => {
    const v = r[c]
    return v === null || v === undefined ? "" : typeof v === "string" ? quote(v) : String(v)
  }).join(","))].join("\n") + "\n"

/** Fixture rows as a frame of the default features. */
export const frame = (rows: ReadonlyArray<Row>): Frame => ({
  rows: rows.length,
  featureNames: DEFAULT_DATASET.feature_columns,
  features: DEFAULT_DATASET.feature_columns.map((f) => Float64Array.from(rows, (r) => (r[f as keyof Row] as number | null) ?? Number.NaN)),
  levels: DEFAULT_DATASET.feature_columns.map(() => null),
  target: Float64Array.from(rows, (r) => r.exited)
})

export const readText = (path: string) => Effect.flatMap(FileStore, (s) => s.readText(path))
