#!/usr/bin/env node
/**
 * The command line's entry. A `fullprocess` with nothing new is answered without loading
 * Effect (most cron ticks); everything else runs the full command line (cli/Main.ts), from
 * the bundle dist/cli.cjs with its code cache when there is one (see cli/CodeCache.ts).
 */
import { fileURLToPath } from "node:url"
import { runBundle } from "./cli/CodeCache.js"
import { noNewDataOutput, nothingNew, parseQuickArgs } from "./cli/QuickCheck.js"

/** true in the bundled dist/main.js (scripts/bundle.mjs defines it), undefined in tsc's output */
declare const DRS_BUNDLE: boolean | undefined

const quick = parseQuickArgs(process.argv.slice(2))
if (quick !== undefined && nothingNew(quick)) {
  process.stderr.write(`timestamp=${new Date().toISOString()} level=INFO fiber=#0 message="no new data; nothing to do" quick=true\n`)
  process.stdout.write(noNewDataOutput(quick.json) + "\n")
} else if (typeof DRS_BUNDLE === "undefined" || !runBundle(fileURLToPath(new URL("./cli.cjs", import.meta.url)))) {
  // an unbundled build (tsc only): the modules one by one
  await import("./cli/Main.js")
}
