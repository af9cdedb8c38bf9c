// Bundles the command line (src/main.ts) into dist/main.js plus lazily loaded chunks, so that
// a command loads one file instead of thousands of modules. Native and asset-carrying
// packages stay outside the bundle. `npm run build` runs tsc first (types, and dist/ for the tools).
import { build } from "esbuild"
import * as NodeFs from "node:fs"

NodeFs.rmSync("dist/chunks", { recursive: true, force: true })
await build({
  entryPoints: { main: "src/main.ts" },
  outdir: "dist",
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
  external: [
    "@duckdb/*", "better-sqlite3", "playwright-core", "@sparticuz/chromium", "pdfkit", "pureimage",
    "dejavu-fonts-ttf", "ml-logistic-regression", "ml-matrix", "csv-parse", "uplot", "@effect/sql-pg", "pg"
  ],
  // CommonJS packages inside the bundle call require()
  banner: { js: "import { createRequire as __drsCreateRequire } from 'node:module'; const require = __drsCreateRequire(import.meta.url);" }
})
