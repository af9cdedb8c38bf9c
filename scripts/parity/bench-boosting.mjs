// Informational benchmark: fit time of our learner vs scikit-learn 1.2.1's
// HistGradientBoostingClassifier on the same data, side by side in one run.
//   node scripts/parity/bench-boosting.mjs [rows=1000000] [max_iter=100]
// Data: 1M×3 numeric and 1M×15 (10 numeric, 5 categorical), seeded, with missing values,
// handed to Python as raw float64 files (no CSV parsing on either side). Early stopping is
// off on both sides so both fit exactly max_iter trees.
import { build } from "esbuild"
import { execFileSync } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..")
const rows = Number(process.argv[2] ?? 1_000_000)
const maxIter = Number(process.argv[3] ?? 100)
const dir = mkdtempSync(join(tmpdir(), "boosting-bench-"))
await build({
  entryPoints: [join(root, "src/lib/learners/boosting/index.ts")],
  bundle: true, format: "esm", platform: "node", outfile: join(dir, "boosting.mjs"), logLevel: "error"
})
const { fitBoosting, defaultBoostingSettings } = await import(pathToFileURL(join(dir, "boosting.mjs")).href)

const mulberry32 = (seed) => () => {
  seed = (seed + 0x6d2b79f5) >>> 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const makeData = (nNumeric, nCategorical, seed) => {
  const u = mulberry32(seed)
  const numeric = Array.from({ length: nNumeric }, () => new Float64Array(rows))
  const cats = Array.from({ length: nCategorical }, () => new Int32Array(rows))
  const cards = Array.from({ length: nCategorical }, (_, k) => [3, 8, 20, 50, 120][k % 5])
  const y = new Uint8Array(rows)
  for (let i = 0; i < rows; i++) {
    let z = -0.3
    for (let j = 0; j < nNumeric; j++) {
      const v = u() < 0.02 ? NaN : (u() - 0.5) * 6
      numeric[j][i] = v
      if (v === v) z += j % 3 === 0 ? (v > 0.5 ? 0.8 : -0.2) : j % 3 === 1 ? 0.3 * v : 0.05 * v * v
    }
    for (let k = 0; k < nCategorical; k++) {
      const c = u() < 0.02 ? -1 : Math.floor(cards[k] * u() * u())
      cats[k][i] = c
      z += c < 0 ? 0.4 : ((c * 7919) % 13) / 13 - 0.5
    }
    y[i] = u() < 1 / (1 + Math.exp(-z)) ? 1 : 0
  }
  return { numeric, cats, cards, y }
}

const python = `
import sys, time, numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
d, rows, p, ncat, max_iter = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
t0 = time.perf_counter()
X = np.fromfile(d + "/X.f64", dtype=np.float64).reshape(p, rows).T
y = np.fromfile(d + "/y.u8", dtype=np.uint8)
t1 = time.perf_counter()
clf = HistGradientBoostingClassifier(random_state=0, early_stopping=False, max_iter=max_iter,
    categorical_features=list(range(p - ncat, p)) if ncat else None).fit(X, y)
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {clf.n_iter_}")
`

const results = []
for (const [nNumeric, nCategorical] of [[3, 0], [10, 5]]) {
  const d = makeData(nNumeric, nCategorical, 42)
  const p = nNumeric + nCategorical
  const X = new Float64Array(p * rows)
  d.numeric.forEach((c, j) => X.set(c, j * rows))
  d.cats.forEach((c, k) => {
    const off = (nNumeric + k) * rows
    for (let i = 0; i < rows; i++) X[off + i] = c[i] < 0 ? NaN : c[i]
  })
  writeFileSync(join(dir, "X.f64"), X)
  writeFileSync(join(dir, "y.u8"), d.y)
  const features = [
    ...d.numeric.map((values) => ({ kind: "numeric", values })),
    ...d.cats.map((codes, k) => ({ kind: "categorical", codes, cardinality: d.cards[k] }))
  ]
  const settings = { ...defaultBoostingSettings, early_stopping: false, max_iter: maxIter }
  const t0 = performance.now()
  const model = fitBoosting(features, d.y, settings)
  const ours = (performance.now() - t0) / 1000
  const [, skFit, skIter] = execFileSync("/usr/bin/python3", ["-c", python, dir, String(rows), String(p), String(nCategorical), String(maxIter)], { encoding: "utf8" }).trim().split(" ").map(Number)
  const label = `${rows}×${p}${nCategorical ? ` (${nCategorical} cat)` : ""}`
  results.push({ label, ours, sklearn: skFit, ratio: ours / skFit, iterations: `${model.iterations}/${skIter}` })
  console.log(`${label}: ours ${ours.toFixed(2)} s, scikit-learn ${skFit.toFixed(2)} s, ratio ${(ours / skFit).toFixed(2)} (trees ${model.iterations}/${skIter})`)
}
console.table(results)
