/** Deterministic sample data: the same seed always gives the same files, byte for byte. */
import { Effect } from "effect"
import * as NodePath from "node:path"
import type { Row } from "../domain/Schemas.js"
import { toCsv } from "../lib/Csv.js"
import { FileStore } from "../services/FileStore.js"

/** mulberry32: a small, fast, seeded PRNG */
export const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const LETTERS = "abcdefghijklmnopqrstuvwxyz"

/**
 * Rows from a hidden attrition model: customers whose activity fell last month relative
 * to last year, and small ones, exit more often. `shift` moves the hidden model (drift).
 */
export const generateRows = (n: number, seed: number, options: { shift?: number; duplicates?: number } = {}): Array<Row> => {
  const rand = prng(seed)
  const shift = options.shift ?? 0
  const rows: Array<Row> = []
  for (let i = 0; i < n; i++) {
    const corporation = Array.from({ length: 4 }, () => LETTERS[Math.floor(rand() * 26)]).join("")
    const lastyear = Math.round(200 + rand() * 12000)
    const lastmonth = Math.round(rand() * 700)
    const employees = Math.max(1, Math.round(Math.exp(rand() * 6.5)))
    // low recent activity and few employees push towards exiting
    const z = 2.2 - 0.009 * lastmonth + 0.00004 * lastyear - 0.002 * employees + shift
    const p = 1 / (1 + Math.exp(-z))
    rows.push({
      corporation,
      lastmonth_activity: lastmonth,
      lastyear_activity: lastyear,
      number_of_employees: employees,
      exited: rand() < p ? 1 : 0
    })
  }
  const dupes = options.duplicates ?? 0
  for (let d = 0; d < dupes && rows.length > 0; d++) rows.push(rows[Math.floor(rand() * n)]!)
  return rows
}

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

export const writeSampleData = (root: string, layout: SampleLayout = SAMPLE_LAYOUT) =>
  Effect.gen(function*() {
    const store = yield* FileStore
    const written: Array<string> = []
    for (const [rel, spec] of Object.entries(layout)) {
      const path = NodePath.join(root, rel)
      yield* store.writeAtomic(path, toCsv(generateRows(spec.rows, spec.seed, spec))).pipe(Effect.orDie)
      written.push(path)
    }
    return written
  })

/** Large generated data for benchmarks: `files` CSVs of `rows` rows in total. */
export const writeBulkData = (dir: string, rows: number, files: number, seed: number) =>
  Effect.gen(function*() {
    const store = yield* FileStore
    const per = Math.ceil(rows / files)
    const written: Array<string> = []
    for (let f = 0; f < files; f++) {
      const n = Math.min(per, rows - f * per)
      if (n <= 0) break
      const path = NodePath.join(dir, `bulk-${String(f).padStart(3, "0")}.csv`)
      yield* store.writeAtomic(path, toCsv(generateRows(n, seed + f))).pipe(Effect.orDie)
      written.push(path)
    }
    return written
  })
