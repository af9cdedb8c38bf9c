/**
 * The no-op `fullprocess` without loading Effect: most cron ticks find nothing new, and
 * loading the whole stack for that costs seconds. This module answers only "is there a file
 * in the input folder whose content was neither ingested nor rejected?" with node:fs,
 * node:crypto and the SQLite file, and only for a config file that a full run has already
 * validated (its hash is stamped in the output folder). Anything else, or any doubt, goes
 * to the full command line.
 */
import Database from "better-sqlite3"
import * as NodeCrypto from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"

/** Where a full run records the hash of the config file it validated. */
export const validatedStampPath = (outputFolder: string) => NodePath.join(outputFolder, ".validated-config")

/**
 * The stamp of a config file as this build validates it: its text and the build (the entry
 * script's size and time), so that a new build, whose config schema may differ, validates
 * the config again.
 */
export const configStamp = (configText: string) => {
  const build = NodeFs.statSync(process.argv[1]!)
  return NodeCrypto.createHash("sha256").update(configText).update(`\0${build.size}:${build.mtimeMs}`).digest("hex")
}

const hashFile = (path: string) => {
  const hash = NodeCrypto.createHash("sha256")
  const fd = NodeFs.openSync(path, "r")
  try {
    const buffer = Buffer.allocUnsafe(1 << 20)
    for (;;) {
      const n = NodeFs.readSync(fd, buffer, 0, buffer.length, null)
      if (n === 0) break
      hash.update(buffer.subarray(0, n))
    }
  } finally {
    NodeFs.closeSync(fd)
  }
  return hash.digest("hex")
}

export interface QuickArgs {
  readonly config: string
  readonly json: boolean
}

/** The options of a `fullprocess` command line this check understands; undefined for anything else. */
export const parseQuickArgs = (argv: ReadonlyArray<string>): QuickArgs | undefined => {
  if (argv[0] !== "fullprocess") return undefined
  let config = "config.json"
  let json = false
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!
    if (a === "--json") json = true
    else if (a === "--no-apicalls") continue
    else if (a === "--config" && i + 1 < argv.length) config = argv[++i]!
    else if (a.startsWith("--config=")) config = a.slice("--config=".length)
    else return undefined
  }
  return { config, json }
}

/** True when there is certainly nothing new to ingest; false when the full run must decide. */
export const nothingNew = (args: QuickArgs): boolean => {
  try {
    const text = NodeFs.readFileSync(args.config, "utf8")
    const raw = JSON.parse(text) as Record<string, unknown>
    const input = raw.input_folder_path
    const output = raw.output_folder_path
    if (typeof input !== "string" || typeof output !== "string") return false
    if (NodeFs.readFileSync(validatedStampPath(output), "utf8").trim() !== configStamp(text)) return false
    // a run under way, or a lock to clear: the full run reports it
    if (NodeFs.existsSync(NodePath.join(output, ".drs.lock"))) return false
    const url = typeof raw.database_url === "string" ? raw.database_url : typeof raw.db_path === "string" ? raw.db_path : NodePath.join(output, "drs.sqlite")
    // PostgreSQL: the full command line decides
    if (/^postgres(ql)?:\/\//.test(url)) return false
    const dbPath = url
    const db = new Database(dbPath, { readonly: true, fileMustExist: true })
    let known: Set<string>
    try {
      known = new Set([
        ...db.prepare("SELECT sha256 FROM ingested_files").pluck().all() as Array<string>,
        ...db.prepare("SELECT sha256 FROM rejected_files").pluck().all() as Array<string>
      ])
    } finally {
      db.close()
    }
    const inputReal = NodeFs.realpathSync(input)
    for (const name of NodeFs.readdirSync(input)) {
      if (name.startsWith(".") || !name.toLowerCase().endsWith(".csv")) continue
      const path = NodePath.join(input, name)
      const real = NodeFs.realpathSync(path)
      // a link out of the folder is refused by the full run too, and never read
      if (!real.startsWith(inputReal + NodePath.sep)) continue
      if (!NodeFs.statSync(real).isFile()) continue
      if (!known.has(hashFile(real))) return false
    }
    return true
  } catch {
    return false
  }
}

/** What the full command prints for a run with nothing new. */
export const noNewDataOutput = (json: boolean) =>
  json
    ? JSON.stringify({ ok: true, result: { outcome: "no-new-data", runId: null, warnings: [] } })
    : "fullprocess: no-new-data"
