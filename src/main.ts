#!/usr/bin/env node
/**
 * The command line's entry. A `fullprocess` with nothing new is answered without loading
 * Effect (most cron ticks); everything else runs the full command line (cli/Main.ts), from
 * the bundle dist/cli.cjs with its code cache when there is one (see cli/CodeCache.ts).
 */
import { fileURLToPath } from "node:url"
import { setFlagsFromString } from "node:v8"
import { runBundle } from "./cli/CodeCache.js"
import { noNewDataOutput, nothingNew, parseQuickArgs } from "./cli/QuickCheck.js"

/** true in the bundled dist/main.js (scripts/bundle.mjs defines it), undefined in tsc's output */
declare const DRS_BUNDLE: boolean | undefined

// V8's young generation doubles each time it fills (up to 16 MB a half) while the command
// line starts, and a one-shot command never gives that memory back: 8–13 MB more at the
// ingestion's peak. It stays at its first size instead. Set for every command, before the
// bundle is compiled, because V8 stamps its code cache with the flags.
setFlagsFromString("--semi-space-growth-factor=1")

const server = process.argv[2] === "serve" || process.argv[2] === "worker"
// the servers change the flag below once the bundle is compiled (the end of this file); V8
// stamps a code cache with the flags in force when it is written (at exit, when it was
// missing or rejected), so they are set back first: a server's cache is one every command accepts
if (server) process.once("exit", () => setFlagsFromString("--semi-space-growth-factor=1"))

const quick = parseQuickArgs(process.argv.slice(2))
if (quick !== undefined && nothingNew(quick)) {
  process.stderr.write(`timestamp=${new Date().toISOString()} level=INFO fiber=#0 message="no new data; nothing to do" quick=true\n`)
  process.stdout.write(noNewDataOutput(quick.json) + "\n")
} else if (typeof DRS_BUNDLE === "undefined" || !runBundle(fileURLToPath(new URL("./cli.cjs", import.meta.url)))) {
  // an unbundled build (tsc only): the modules one by one
  await import("./cli/Main.js")
}
// the servers allocate for every request: their young generation grows as V8's default has it
if (server) setFlagsFromString("--semi-space-growth-factor=2")
