/** The built CLI against the real filesystem and a real SQLite file, in a temporary folder. */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { MAIN, sampleProject } from "./support/Project.js"

let dir = ""

const cli = (...args: Array<string>) => {
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd: dir, encoding: "utf8", timeout: 120_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

beforeAll(() => {
  dir = sampleProject("cli")
})

afterAll(() => {
  if (dir) NodeFs.rmSync(dir, { recursive: true, force: true })
})

describe("drs CLI on the real filesystem", () => {
  it("fullprocess deploys the sample data, then is a quick no-op", () => {
    const first = cli("fullprocess", "--json", "--no-apicalls")
    assert.strictEqual(first.code, 0, first.stderr)
    const summary = JSON.parse(first.stdout)
    assert.isTrue(summary.ok)
    assert.strictEqual(summary.result.outcome, "redeployed")
    const current = NodeFs.readFileSync(NodePath.join(dir, "production", "CURRENT"), "utf8").trim()
    assert.isTrue(NodeFs.existsSync(NodePath.join(dir, "production", "releases", current, "trainedmodel.json")))
    assert.isTrue(NodeFs.existsSync(NodePath.join(dir, "data", "models", "report.pdf")))
    assert.isTrue(NodeFs.existsSync(NodePath.join(dir, "data", "ingesteddata", "drs.sqlite")))
    assert.strictEqual(NodeFs.readFileSync(NodePath.join(dir, "data", "ingesteddata", "ingestedfiles.txt"), "utf8"), "dataset3.csv\ndataset4.csv\n")

    const t0 = Date.now()
    const again = cli("fullprocess", "--json")
    assert.strictEqual(again.code, 0, again.stderr)
    assert.deepStrictEqual(JSON.parse(again.stdout), { ok: true, result: { outcome: "no-new-data", runId: null, warnings: [] } })
    // answered without loading the stack: the config file was validated by the run before
    assert.include(again.stderr, "quick=true")
    assert.isBelow(Date.now() - t0, 15_000)
    assert.strictEqual(cli("fullprocess").stdout.trim(), "fullprocess: no-new-data")

    // a changed config file is validated again by the full command line, which then stamps it
    const config = NodePath.join(dir, "config.json")
    NodeFs.writeFileSync(config, NodeFs.readFileSync(config, "utf8") + "\n")
    const revalidated = cli("fullprocess", "--json")
    assert.strictEqual(JSON.parse(revalidated.stdout).result.outcome, "no-new-data")
    assert.notInclude(revalidated.stderr, "quick=true")
    assert.include(cli("fullprocess").stderr, "quick=true")
    // an invalid config is never taken for "nothing new"
    const original = NodeFs.readFileSync(config, "utf8")
    NodeFs.writeFileSync(config, original.replace(/"drift_test": "raw"/, `"drift_test": "bogus"`))
    const invalid = cli("fullprocess")
    assert.strictEqual(invalid.code, 2, invalid.stdout + invalid.stderr)
    NodeFs.writeFileSync(config, original)
  })

  it("run --steps runs the named steps; status reports the deployment", () => {
    const r = cli("run", "--steps", "training,scoring", "--json")
    assert.strictEqual(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout).result
    assert.deepStrictEqual(Object.keys(out), ["training", "scoring"])
    assert.isAbove(out.scoring.f1, 0.5)
    assert.strictEqual(NodeFs.readFileSync(NodePath.join(dir, "data", "models", "latestscore.txt"), "utf8").trim(), String(out.scoring.f1))
    const s = cli("status")
    assert.strictEqual(s.code, 0)
    assert.match(s.stdout, /deployed: release \S+, F1 0\.\d+/)
  })

  it("exit codes: 2 for bad steps and bad config, 75 while another run holds the lock", () => {
    const steps = cli("run", "--steps", "ingestion,magic")
    assert.strictEqual(steps.code, 2)
    assert.include(steps.stderr, "unknown step(s): magic")
    const cfg = cli("fullprocess", "--set", "drift_test=sometimes", "--json")
    assert.strictEqual(cfg.code, 2)
    assert.include(JSON.parse(cfg.stdout).error.message, "drift_test")
    const missing = cli("fullprocess", "--config", "nope.json")
    assert.strictEqual(missing.code, 2)
    NodeFs.writeFileSync(NodePath.join(dir, "data", "ingesteddata", ".drs.lock"), JSON.stringify({ pid: process.pid, host: NodeOs.hostname(), startedAt: new Date().toISOString() }))
    try {
      const locked = cli("fullprocess")
      assert.strictEqual(locked.code, 75)
      assert.include(locked.stderr, "another run holds the lock")
    } finally {
      NodeFs.rmSync(NodePath.join(dir, "data", "ingesteddata", ".drs.lock"))
    }
  })

  it("a malformed file dropped in is set aside with its reason; good files still go in", () => {
    NodeFs.writeFileSync(NodePath.join(dir, "data", "sourcedata", "broken.csv"), "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\nabc,1,2,three,0\n")
    NodeFs.writeFileSync(NodePath.join(dir, "data", "sourcedata", "fresh.csv"), "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\nnewco,5,900,12,1\n")
    const r = cli("fullprocess", "--json", "--no-apicalls")
    assert.strictEqual(r.code, 0, r.stderr)
    const result = JSON.parse(r.stdout).result
    assert.deepStrictEqual(result.ingestion.newFiles.map((f: { name: string }) => f.name), ["fresh.csv"])
    assert.include(result.warnings[0], `broken.csv, line 2, column "number_of_employees": "three" is not a number`)
    assert.isFalse(NodeFs.existsSync(NodePath.join(dir, "data", "sourcedata", "broken.csv")))
    const moved = NodeFs.readdirSync(NodePath.join(dir, "data", "quarantine"))
    assert.isTrue(moved.some((f) => f.endsWith("broken.csv")))
    assert.isTrue(moved.some((f) => f.endsWith("broken.csv.error.txt")))
  })

  it("one code cache serves every command: a one-shot command and the server both accept it, so none rewrites it", async () => {
    // V8 stamps the cache with its flags, and dist/main.js sets one for every command
    // before the bundle is compiled (and resets it for the servers only afterwards)
    const cache = NodePath.join(NodePath.dirname(MAIN), "cli.cjs.v8cache")
    const before = NodeFs.statSync(cache).mtimeMs
    assert.strictEqual(cli("status").code, 0)
    const server: ChildProcess = spawn(process.execPath, [MAIN, "serve", "--port", "0"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] })
    let log = ""
    server.stderr!.on("data", (d: Buffer) => { log += d.toString() })
    const exited = new Promise<void>((resolve) => server.on("exit", () => resolve()))
    for (let i = 0; i < 300 && !/Listening on/.test(log); i++) await new Promise((r) => setTimeout(r, 100))
    assert.match(log, /Listening on/)
    server.kill("SIGTERM")
    await exited
    assert.strictEqual(cli("--help").code, 0)
    assert.strictEqual(NodeFs.statSync(cache).mtimeMs, before, "a command rejected the code cache and wrote it again")
  })

  it("serve answers on a real port; apicalls saves every response", async () => {
    const server: ChildProcess = spawn(process.execPath, [MAIN, "serve", "--port", "0"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] })
    try {
      const base = await new Promise<string>((resolve, reject) => {
        let log = ""
        const timer = setTimeout(() => reject(new Error(`server did not start: ${log}`)), 30_000)
        server.stderr!.on("data", (d: Buffer) => {
          log += d.toString()
          const m = /Listening on (http:\/\/[\d.]+:\d+)/.exec(log)
          if (m) {
            clearTimeout(timer)
            resolve(m[1]!)
          }
        })
        server.on("exit", (code) => reject(new Error(`server exited with ${code}: ${log}`)))
      })
      const health = await (await fetch(`${base}/health`)).json() as { status: string; releaseId: string }
      assert.strictEqual(health.status, "ok")
      assert.isString(health.releaseId)
      const p = await fetch(`${base}/prediction`, {
        method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ rows: [{ lastmonth_activity: 10, lastyear_activity: 3000, number_of_employees: 4 }] })
      })
      assert.strictEqual(p.status, 200)
      const viaUrl = spawnSync(process.execPath, [MAIN, "apicalls", "--url", base], { cwd: dir, encoding: "utf8", timeout: 120_000 })
      assert.strictEqual(viaUrl.status, 0, viaUrl.stderr)
    } finally {
      server.kill("SIGTERM")
    }
    const text = NodeFs.readFileSync(NodePath.join(dir, "data", "ingesteddata", "apireturns.txt"), "utf8")
    for (const path of ["/health", "/prediction", "/scoring", "/summarystats", "/diagnostics", "/drift", "/releases", "/download", "/metrics"]) {
      assert.match(text, new RegExp(`### (GET|POST) ${path} -> 200`))
    }
    const inProcess = cli("apicalls", "--json")
    assert.strictEqual(inProcess.code, 0, inProcess.stderr)
    assert.strictEqual(JSON.parse(inProcess.stdout).result.calls, 9)
  })

  it("releases lists them with the live one marked; rollback makes the one before live, and says so", () => {
    const deploy = cli("run", "--steps", "training,scoring,deployment", "--json")
    assert.strictEqual(deploy.code, 0, deploy.stderr)
    const listed = JSON.parse(cli("releases", "--json").stdout).result as Array<{ releaseId: string; live: boolean; f1: number; dataHash: string }>
    assert.strictEqual(listed.length, 2)
    assert.deepStrictEqual(listed.map((r) => r.live), [false, true])
    assert.match(listed[0]!.dataHash, /^[0-9a-f]{64}$/)
    const back = cli("rollback", "--reason", "checking rollback")
    assert.strictEqual(back.code, 0, back.stderr)
    assert.include(back.stdout, `release ${listed[0]!.releaseId} is live (was ${listed[1]!.releaseId})`)
    assert.strictEqual(NodeFs.readFileSync(NodePath.join(dir, "production", "CURRENT"), "utf8").trim(), listed[0]!.releaseId)
    const text = cli("releases").stdout
    assert.match(text, new RegExp(`^\\* ${listed[0]!.releaseId}`, "m"))
    const forward = cli("rollback", listed[1]!.releaseId)
    assert.strictEqual(forward.code, 0, forward.stderr)
    const missing = cli("rollback", "no-such-release")
    assert.strictEqual(missing.code, 4)
    assert.include(missing.stderr, "ReleaseNotFound: no release no-such-release")
  })
})
