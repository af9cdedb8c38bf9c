// Bundles the command line for a fast start: dist/main.js, the entry (ES module; answers the
// no-op fullprocess without loading Effect), and dist/cli.cjs, the whole command line
// (src/cli/Main.ts) in one CommonJS file that main.js compiles with V8's code cache (see
// src/cli/CodeCache.ts), so that a command loads one file and does not compile it again.
// Native and asset-carrying packages stay outside the bundle. `npm run build` runs tsc first
// (types, and dist/ for the tools and the unbundled fallback).
import { build } from "esbuild"
import { spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"

const external = [
  // DuckDB's JavaScript API is bundled (loading its 124 files took ~45 ms); its native binding is not
  "@duckdb/node-bindings", "@duckdb/node-bindings-*", "better-sqlite3", "playwright-core", "@sparticuz/chromium", "pdfkit", "pureimage",
  "dejavu-fonts-ttf", "ml-logistic-regression", "ml-matrix", "csv-parse", "uplot", "@effect/sql-pg", "pg"
]

NodeFs.rmSync("dist/chunks", { recursive: true, force: true })
for (const f of ["dist/cli.cjs", "dist/cli.cjs.map"]) NodeFs.rmSync(f, { force: true })
// the code caches: the plain one and those of processes started with node flags (see src/cli/CodeCache.ts)
for (const f of NodeFs.existsSync("dist") ? NodeFs.readdirSync("dist") : []) if (/^cli\.cjs\..*v8cache$/.test(f)) NodeFs.rmSync(`dist/${f}`, { force: true })

// the entry: the command line itself is dist/cli.cjs (or, failing that, tsc's dist/cli/Main.js)
await build({
  entryPoints: { main: "src/main.ts" },
  outdir: "dist",
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
  external,
  define: { DRS_BUNDLE: "true" },
  plugins: [{
    name: "cli-main-external",
    setup: (b) => b.onResolve({ filter: /\/cli\/Main\.js$/ }, () => ({ path: "./cli/Main.js", external: true }))
  }]
})

await build({
  entryPoints: { cli: "src/cli/Main.ts" },
  outdir: "dist",
  outExtension: { ".js": ".cjs" },
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
  external,
  // dynamic imports of the external packages become require() (all have a CommonJS entry)
  supported: { "dynamic-import": false },
  // a smaller file to read, compile and keep in memory (~40 ms and ~20 MB less per command).
  // Identifiers are not renamed, so function and class names stay as written; esbuild's
  // keepNames would instead wrap every function expression in a __name() call, closures
  // created per request included, which cut the HTTP server's throughput by a third.
  minifyWhitespace: process.env.DRS_NO_MINIFY !== "1", // DRS_NO_MINIFY=1 for a readable bundle
  minifySyntax: process.env.DRS_NO_MINIFY !== "1",
  define: { "import.meta.url": "__drsImportMetaUrl" },
  banner: { js: "var __drsImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" }
})

// The first run writes the code cache, with every function it compiled: do it now, with a
// fullprocess on a copy of the sample data in a throwaway folder, so that the cache covers
// the pipeline's steps and not only the command line's start.
const seedDir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "drs-cache-seed-"))
try {
  NodeFs.cpSync("data/sourcedata", NodePath.join(seedDir, "in"), { recursive: true })
  NodeFs.cpSync("data/testdata", NodePath.join(seedDir, "test"), { recursive: true })
  const config = NodePath.join(seedDir, "config.json")
  NodeFs.writeFileSync(config, JSON.stringify({
    input_folder_path: NodePath.join(seedDir, "in"), output_folder_path: NodePath.join(seedDir, "out"),
    test_data_path: NodePath.join(seedDir, "test"), output_model_path: NodePath.join(seedDir, "models"),
    prod_deployment_path: NodePath.join(seedDir, "production"), quarantine_folder_path: NodePath.join(seedDir, "quarantine")
  }))
  spawnSync(process.execPath, [NodePath.resolve("dist/main.js"), "fullprocess", "--no-apicalls", "--config", config], { stdio: "ignore", cwd: seedDir })
} finally {
  NodeFs.rmSync(seedDir, { recursive: true, force: true })
}
if (!NodeFs.existsSync("dist/cli.cjs.v8cache")) console.warn("bundle: could not write the code cache (the first command will)")
