/** Dependencies: which npm packages are outdated (npm outdated, with a bounded timeout). */
import { Effect, Layer } from "effect"
import { execFile } from "node:child_process"
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
    // npm asks the registry: one answer serves a whole run (diagnostics and report) and a busy API
    const cached = yield* Effect.cachedWithTTL(outdated(), "10 minutes")
    return { outdated: () => cached } as const
  })
}) {
  /** A fixed answer, for tests. */
  static readonly layerFixed = (report: DependencyReport) =>
    Layer.succeed(Dependencies, new Dependencies({ outdated: () => Effect.succeed(report) }))
}
