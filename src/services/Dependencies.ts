/**
 * Dependencies: which npm packages are outdated (npm outdated, with a bounded timeout). npm
 * asks the registry over the network, so its answer, or its failure, is kept for a day in
 * `<output_folder_path>/dependencies.json` (keyed by package.json and package-lock.json): a
 * machine without a network pays the timeout once a day, not on every run.
 */
import { Effect, Layer, Schema } from "effect"
import { execFile } from "node:child_process"
import { createHash } from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { DependencyReport, OutdatedDependency } from "../domain/Schemas.js"
import { AppConfig } from "./AppConfig.js"

interface NpmOutdatedEntry {
  readonly current?: string
  readonly wanted?: string
  readonly latest?: string
}

/** Parse `npm outdated --json` output (an object keyed by package name). */
export const parseNpmOutdated = (stdout: string): ReadonlyArray<OutdatedDependency> => {
  const trimmed = stdout.trim()
  if (trimmed.length === 0) return []
  const parsed = JSON.parse(trimmed) as Record<string, NpmOutdatedEntry | ReadonlyArray<NpmOutdatedEntry>>
  return Object.entries(parsed)
    .map(([name, v]) => {
      const e = Array.isArray(v) ? (v[0] as NpmOutdatedEntry) : (v as NpmOutdatedEntry)
      return OutdatedDependency.make({ name, current: e.current ?? "missing", wanted: e.wanted ?? "", latest: e.latest ?? "" })
    })
    .sort((a, b) => a.name.localeCompare(b.name))
}

/** How long an answer of npm outdated is kept. */
export const DEPENDENCY_CACHE_MS = 24 * 60 * 60 * 1000

export const dependencyCachePath = (outputFolder: string) => NodePath.join(outputFolder, "dependencies.json")

/** What npm outdated reads: the manifest and the lock file of the working directory. */
const manifestKey = (cwd: string) => {
  const h = createHash("sha256")
  for (const f of ["package.json", "package-lock.json"]) {
    try {
      h.update(NodeFs.readFileSync(NodePath.join(cwd, f)))
    } catch {
      h.update(`no ${f}`)
    }
  }
  return h.digest("hex")
}

interface CachedReport {
  readonly key: string
  readonly checkedAt: number
  readonly report: unknown
}

export class Dependencies extends Effect.Service<Dependencies>()("drs/Dependencies", {
  effect: Effect.gen(function*() {
    const config = yield* AppConfig
    const outdated = Effect.fn("Dependencies.outdated")(function*() {
      const result = yield* Effect.async<{ stdout: string; error: string | null }>((resume) => {
        const child = execFile(
          "npm",
          ["outdated", "--json"],
          { timeout: config.dependency_check_timeout_ms, maxBuffer: 8 * 1024 * 1024, env: { ...process.env, NO_UPDATE_NOTIFIER: "1" } },
          (err, stdout) => {
            // npm outdated exits 1 when something is outdated: that is an answer, not a failure
            const failed = err !== null && (err.killed || typeof err.code !== "number" || stdout.trim().length === 0)
            resume(Effect.succeed({ stdout, error: failed ? (err.killed ? `timed out after ${config.dependency_check_timeout_ms} ms` : err.message) : null }))
          }
        )
        return Effect.sync(() => child.kill())
      })
      if (result.error !== null) return DependencyReport.make({ checked: false, error: result.error, packages: [] })
      return yield* Effect.try(() => DependencyReport.make({ checked: true, packages: parseNpmOutdated(result.stdout) })).pipe(
        Effect.orElseSucceed(() => DependencyReport.make({ checked: false, error: "npm outdated printed no JSON", packages: [] }))
      )
    })
    const cacheFile = dependencyCachePath(config.output_folder_path)
    const fromDisk = Effect.sync(() => {
      try {
        const c = JSON.parse(NodeFs.readFileSync(cacheFile, "utf8")) as CachedReport
        const age = Date.now() - c.checkedAt
        return c.key === manifestKey(process.cwd()) && age >= 0 && age < DEPENDENCY_CACHE_MS ? Schema.decodeUnknownSync(DependencyReport)(c.report) : null
      } catch {
        return null
      }
    })
    const toDisk = (report: DependencyReport) => Effect.sync(() => {
      try {
        const tmp = `${cacheFile}.${process.pid}.tmp`
        NodeFs.writeFileSync(tmp, JSON.stringify({ key: manifestKey(process.cwd()), checkedAt: Date.now(), report: Schema.encodeSync(DependencyReport)(report) } satisfies CachedReport))
        NodeFs.renameSync(tmp, cacheFile)
      } catch {
        // an unwritable output folder means asking npm again next time, nothing worse
      }
    })
    const daily = Effect.flatMap(fromDisk, (hit) => hit !== null ? Effect.succeed(hit) : Effect.tap(outdated(), toDisk))
    // one answer serves a whole run (diagnostics and report) and a busy API
    const cached = yield* Effect.cachedWithTTL(daily, "10 minutes")
    return { outdated: () => cached } as const
  })
}) {
  /** A fixed answer, for tests. */
  static readonly layerFixed = (report: DependencyReport) =>
    Layer.succeed(Dependencies, new Dependencies({ outdated: () => Effect.succeed(report) }))
}
