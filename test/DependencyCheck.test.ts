/**
 * The dependency check (npm outdated) on a machine without a network: the built CLI in a
 * temporary folder with a fake `npm` first on PATH that never answers. It costs at most its
 * timeout, once: the answer is kept for a day, and the deployment is committed before npm is
 * even asked.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { csv, ruled } from "./layers.js"
import { MAIN, sampleProject } from "./support/Project.js"

let dir = ""
const TIMEOUT_MS = 1500
const log = () => NodePath.join(dir, "npm-calls.log")
const calls = () => (NodeFs.existsSync(log()) ? NodeFs.readFileSync(log(), "utf8").trim().split("\n").map(Number) : [])

const cli = (...args: Array<string>) => {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    cwd: dir, encoding: "utf8", timeout: 120_000,
    env: { ...process.env, PATH: `${NodePath.join(dir, "bin")}:${process.env.PATH}`, NPM_CALLS: log() }
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

const sqlite = (query: string) => {
  const r = spawnSync(process.execPath, ["-e", `const D = require("better-sqlite3"); console.log(JSON.stringify(new D(process.argv[1], { readonly: true }).prepare(process.argv[2]).all()))`,
    NodePath.join(dir, "data", "ingesteddata", "drs.sqlite"), query], { encoding: "utf8", cwd: NodePath.dirname(MAIN) })
  assert.strictEqual(r.status, 0, r.stderr)
  return JSON.parse(r.stdout) as Array<Record<string, unknown>>
}

const diagnosticsJson = () => JSON.parse(NodeFs.readFileSync(NodePath.join(dir, "data", "models", "diagnostics.json"), "utf8"))

beforeAll(() => {
  dir = sampleProject("deps")
  // npm with no network: it never answers (exec: the timeout's kill reaches the sleeper itself)
  NodeFs.mkdirSync(NodePath.join(dir, "bin"))
  NodeFs.writeFileSync(NodePath.join(dir, "bin", "npm"), `#!/bin/sh\ndate +%s%3N >> "$NPM_CALLS"\nexec sleep 60\n`, { mode: 0o755 })
  const config = NodePath.join(dir, "config.json")
  NodeFs.writeFileSync(config, JSON.stringify({ ...JSON.parse(NodeFs.readFileSync(config, "utf8")), dependency_check_timeout_ms: TIMEOUT_MS, deploy_gate: "always" }))
})

afterAll(() => {
  if (dir) NodeFs.rmSync(dir, { recursive: true, force: true })
})

describe("the dependency check without a network", () => {
  it("costs its timeout once, never before the deployment is committed, and its answer is kept for a day", () => {
    const first = cli("fullprocess", "--json", "--no-apicalls")
    assert.strictEqual(first.code, 0, first.stderr)
    assert.strictEqual(JSON.parse(first.stdout).result.outcome, "redeployed")
    assert.strictEqual(calls().length, 1)
    const deps = diagnosticsJson().dependencies
    assert.isFalse(deps.checked)
    assert.include(deps.error, `timed out after ${TIMEOUT_MS} ms`)
    // the release was committed before npm was asked
    const deployedAt = Date.parse(String(sqlite("SELECT measured_at FROM step_timings WHERE step = 'deployment' ORDER BY id DESC LIMIT 1")[0]!.measured_at))
    assert.isBelow(deployedAt, calls()[0]!)

    // a second redeploy the same day: npm is not asked again, the kept answer is reported
    NodeFs.writeFileSync(NodePath.join(dir, "data", "sourcedata", "flipped.csv"), csv(ruled(400, 9, true)))
    const second = cli("fullprocess", "--json", "--no-apicalls")
    assert.strictEqual(second.code, 0, second.stderr)
    assert.strictEqual(JSON.parse(second.stdout).result.outcome, "redeployed")
    assert.strictEqual(calls().length, 1)
    assert.deepStrictEqual(diagnosticsJson().dependencies, deps)

    // a day later the answer has expired: npm is asked again
    const cache = NodePath.join(dir, "data", "ingesteddata", "dependencies.json")
    const kept = JSON.parse(NodeFs.readFileSync(cache, "utf8"))
    NodeFs.writeFileSync(cache, JSON.stringify({ ...kept, checkedAt: kept.checkedAt - 25 * 3600 * 1000 }))
    const third = cli("run", "--steps", "diagnostics", "--json")
    assert.strictEqual(third.code, 0, third.stderr)
    assert.strictEqual(calls().length, 2)
  })
})
