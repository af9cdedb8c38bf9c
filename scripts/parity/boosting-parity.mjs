// Regenerates test/fixtures/boosting-sklearn.json: scikit-learn 1.2.1's figures on the
// seeded synthetic data of test/support/boostingData.ts.
//   node scripts/parity/boosting-parity.mjs        (needs /usr/bin/python3 with scikit-learn 1.2.1)
import { build } from "esbuild"
import { execFileSync } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..")
const dir = mkdtempSync(join(tmpdir(), "boosting-parity-"))
await build({
  entryPoints: [join(root, "test/support/boostingData.ts")],
  bundle: true, format: "esm", platform: "node", outfile: join(dir, "data.mjs"), logLevel: "error"
})
const { syntheticData, toCsv, parityCases } = await import(pathToFileURL(join(dir, "data.mjs")).href)
for (const [name, c] of Object.entries(parityCases)) {
  for (const [part, spec] of Object.entries(c)) {
    writeFileSync(join(dir, `${name}-${part}.csv`), toCsv(syntheticData(spec.rows, spec.seed)))
  }
}
const python = process.env.SKLEARN_PYTHON ?? "/usr/bin/python3"
const out = execFileSync(python, [join(root, "scripts/parity/sklearn_parity.py"), dir], { encoding: "utf8", maxBuffer: 1 << 26 })
const target = join(root, "test/fixtures/boosting-sklearn.json")
writeFileSync(target, out)
console.log(`wrote ${target} (data in ${dir})`)
