#!/usr/bin/env node
/**
 * The command line's entry. A `fullprocess` with nothing new is answered without loading
 * Effect (most cron ticks); everything else loads the full command line (cli/Main.ts).
 */
import { noNewDataOutput, nothingNew, parseQuickArgs } from "./cli/QuickCheck.js"

const quick = parseQuickArgs(process.argv.slice(2))
if (quick !== undefined && nothingNew(quick)) {
  process.stderr.write(`timestamp=${new Date().toISOString()} level=INFO fiber=#0 message="no new data; nothing to do" quick=true\n`)
  process.stdout.write(noNewDataOutput(quick.json) + "\n")
} else {
  await import("./cli/Main.js")
}
