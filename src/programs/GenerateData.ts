/** Deterministic sample data: the same seed always gives the same files, byte for byte. */
import { Effect } from "effect"
import * as NodePath from "node:path"
import * as NodeFs from "node:fs"
import { columnsOf, DEFAULT_DATASET, type DatasetSchema } from "../domain/Dataset.js"
import { mulberry32 } from "../lib/Random.js"
import { FileStore } from "../services/FileStore.js"
import { generateRichLines } from "./GenerateRich.js"

/** mulberry32: a small, fast, seeded PRNG */
export const prng = mulberry32

const LETTERS = "abcdefghijklmnopqrstuvwxyz"

const quote = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s)

const isDefault = (d: DatasetSchema) =>
  d.feature_columns.length === DEFAULT_DATASET.feature_columns.length &&
  d.feature_columns.every((f, j) => f === DEFAULT_DATASET.feature_columns[j])

/**
 * CSV lines (without the header) from a hidden attrition model, in the declared column
 * order. For the default columns: customers whose activity fell last month relative to last
 * year, and small ones, exit more often. For any other schema: a hidden linear model over
 * the declared features. With categorical features or text labels: see GenerateRich.
 * `shift` moves the hidden model (drift).
 */
export const generateLines = (
  n: number,
  seed: number,
  dataset: DatasetSchema = DEFAULT_DATASET,
  options: { shift?: number; duplicates?: number } = {}
): Array<string> => {
  const rand = prng(seed)
  const shift = options.shift ?? 0
  const k = dataset.feature_columns.length
  if (dataset.categorical_columns.length > 0 || dataset.positive_label !== "1" || dataset.negative_label !== "0") {
    const lines = generateRichLines(n, rand, dataset, () => Array.from({ length: 4 }, () => LETTERS[Math.floor(rand() * 26)]).join(""), options)
    for (let d = 0; d < (options.duplicates ?? 0) && lines.length > 0; d++) lines.push(lines[Math.floor(rand() * n)]!)
    return lines
  }
  const lines: Array<string> = []
  const values = new Array<number>(k)
  for (let i = 0; i < n; i++) {
    const id = Array.from({ length: 4 }, () => LETTERS[Math.floor(rand() * 26)]).join("")
    let z: number
    if (isDefault(dataset)) {
      const lastyear = Math.round(200 + rand() * 12000)
      const lastmonth = Math.round(rand() * 700)
      const employees = Math.max(1, Math.round(Math.exp(rand() * 6.5)))
      values[0] = lastmonth
      values[1] = lastyear
      values[2] = employees
      // low recent activity and few employees push towards exiting
      z = 2.2 - 0.009 * lastmonth + 0.00004 * lastyear - 0.002 * employees + shift
    } else {
      z = shift
      for (let j = 0; j < k; j++) {
        const x = Math.round(rand() * 100 * (j + 1))
        values[j] = x
        // alternate signs, so no feature alone decides
        z += ((j % 2 === 0 ? 1 : -1) * 2.5 * (x / (50 * (j + 1)) - 1)) / Math.sqrt(k)
      }
    }
    const p = 1 / (1 + Math.exp(-z))
    const label = rand() < p ? 1 : 0
    lines.push([...(dataset.id_column ? [quote(id)] : []), ...values.map(String), String(label)].join(","))
  }
  const dupes = options.duplicates ?? 0
  for (let d = 0; d < dupes && lines.length > 0; d++) lines.push(lines[Math.floor(rand() * n)]!)
  return lines
}

/** A whole CSV document of generated rows, header included. */
export const generateCsv = (
  n: number,
  seed: number,
  dataset: DatasetSchema = DEFAULT_DATASET,
  options: { shift?: number; duplicates?: number } = {}
) => [columnsOf(dataset).join(","), ...generateLines(n, seed, dataset, options)].join("\n") + "\n"

export interface SampleLayout {
  readonly [relativePath: string]: { readonly rows: number; readonly seed: number; readonly shift?: number; readonly duplicates?: number }
}

/** The sample data shipped in data/: practice files, source files for the cron job, test data. */
export const SAMPLE_LAYOUT: SampleLayout = {
  "practicedata/dataset1.csv": { rows: 16, seed: 1, duplicates: 2 },
  "practicedata/dataset2.csv": { rows: 18, seed: 2, duplicates: 2 },
  "sourcedata/dataset3.csv": { rows: 60, seed: 3, duplicates: 3 },
  "sourcedata/dataset4.csv": { rows: 60, seed: 4, duplicates: 3 },
  "testdata/testdata.csv": { rows: 40, seed: 5 }
}

export const writeSampleData = (root: string, layout: SampleLayout = SAMPLE_LAYOUT, dataset: DatasetSchema = DEFAULT_DATASET) =>
  Effect.gen(function*() {
    const store = yield* FileStore
    const written: Array<string> = []
    for (const [rel, spec] of Object.entries(layout)) {
      const path = NodePath.join(root, rel)
      yield* store.writeAtomic(path, generateCsv(spec.rows, spec.seed, dataset, spec)).pipe(Effect.orDie)
      written.push(path)
    }
    return written
  })

/** Large generated data for benchmarks: `files` CSVs of `rows` rows in total. */
export const writeBulkData = (dir: string, rows: number, files: number, seed: number, dataset: DatasetSchema = DEFAULT_DATASET) =>
  Effect.gen(function*() {
    const store = yield* FileStore
    const per = Math.ceil(rows / files)
    const written: Array<string> = []
    for (let f = 0; f < files; f++) {
      const n = Math.min(per, rows - f * per)
      if (n <= 0) break
      const path = NodePath.join(dir, `bulk-${String(f).padStart(3, "0")}.csv`)
      yield* writeBulkFile(store.localPath(path), n, seed + f, dataset)
      written.push(path)
    }
    return written
  })

/** One bulk file, written in blocks so that memory stays flat however many rows it has. */
const writeBulkFile = (path: string, rows: number, seed: number, dataset: DatasetSchema) =>
  Effect.promise(async () => {
    await NodeFs.promises.mkdir(NodePath.dirname(path), { recursive: true })
    const tmp = `${path}.tmp-${process.pid}`
    const out = NodeFs.createWriteStream(tmp)
    const write = (s: string) => new Promise<void>((resolve, reject) => out.write(s, (e) => (e ? reject(e) : resolve())))
    await write(columnsOf(dataset).join(",") + "\n")
    const BLOCK = 100_000
    // each block has its own seed, derived from the file's
    for (let done = 0; done < rows; done += BLOCK) {
      const lines = generateLines(Math.min(BLOCK, rows - done), seed * 1_000_003 + done, dataset)
      await write(lines.join("\n") + "\n")
    }
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())))
    await NodeFs.promises.rename(tmp, path)
  })
