/** Progress lines: shown on a real terminal (a pseudo-terminal from util-linux `script`), never when stderr is not one, never with --json. */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { MAIN, sampleProject } from "./support/Project.js"

let dir = ""

beforeAll(() => {
  dir = sampleProject("progress")
})
afterAll(() => {
  if (dir) NodeFs.rmSync(dir, { recursive: true, force: true })
})

/** The command under a pseudo-terminal: stdout and stderr both reach the terminal, which `script` copies to its stdout. */
const onTerminal = (args: string) => {
  const r = spawnSync("script", ["-qfec", `${JSON.stringify(process.execPath)} ${JSON.stringify(MAIN)} ${args}`, "/dev/null"], { cwd: dir, encoding: "utf8", timeout: 120_000 })
  assert.strictEqual(r.status, 0, r.stdout + r.stderr)
  return r.stdout
}

describe("progress on a terminal", () => {
  it("shows rows and rows/s for ingestion and training on a terminal, and nothing extra otherwise", () => {
    const tty = onTerminal("run --steps ingestion,training")
    assert.match(tty, /ingestion: [\d,]+ rows · [\d.]+[kM]? rows\/s · file \d+\/\d+/)
    assert.match(tty, /training: [\d,]+ rows · [\d.]+[kM]? rows\/s · iteration \d+/)

    const piped = spawnSync(process.execPath, [MAIN, "run", "--steps", "training"], { cwd: dir, encoding: "utf8", timeout: 120_000 })
    assert.strictEqual(piped.status, 0, piped.stderr)
    assert.notInclude(piped.stderr + piped.stdout, "rows/s")

    const json = onTerminal("run --steps training --json")
    assert.notInclude(json, "rows/s")
    assert.include(json, "\"ok\":true")
  })
})
