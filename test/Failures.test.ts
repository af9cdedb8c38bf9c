/**
 * Expected operational failures print one clear line, exit with their documented code, and
 * are recorded as failed runs: a full disk (a real 200 KB tmpfs when root), no permission
 * (as the unprivileged user `nobody` when root), and a port in use. The built CLI, real files.
 */
import { afterEach, assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeNet from "node:net"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"

const ROOT = NodePath.resolve(import.meta.dirname, "..")
const MAIN = NodePath.join(ROOT, "dist", "main.js")
const isRoot = process.getuid?.() === 0
const cleanups: Array<() => void> = []
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!()
})

/** A project folder with the sample data and a config whose paths can be moved elsewhere. */
const project = (paths: Record<string, string> = {}) => {
  const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "drs-fail-"))
  NodeFs.chmodSync(dir, 0o755)
  cleanups.push(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
  NodeFs.cpSync(NodePath.join(ROOT, "data", "sourcedata"), NodePath.join(dir, "in"), { recursive: true })
  NodeFs.cpSync(NodePath.join(ROOT, "data", "testdata"), NodePath.join(dir, "test"), { recursive: true })
  const config = {
    input_folder_path: "in", output_folder_path: "out", test_data_path: "test", output_model_path: "models",
    prod_deployment_path: "production", quarantine_folder_path: "quarantine", ...paths
  }
  NodeFs.writeFileSync(NodePath.join(dir, "config.json"), JSON.stringify(config, null, 2))
  return dir
}

const run = (dir: string, args: ReadonlyArray<string>, asUser?: string) => {
  const command = asUser ? "setpriv" : process.execPath
  const argv = asUser ? [`--reuid=${asUser}`, "--regid=nogroup", "--clear-groups", process.execPath, MAIN, ...args] : [MAIN, ...args]
  const r = spawnSync(command, argv, { cwd: dir, encoding: "utf8", timeout: 120_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** The error output, without the log lines (logfmt, `timestamp=…`). */
const errorLines = (stderr: string) => stderr.split("\n").filter((l) => l.trim().length > 0 && !l.startsWith("timestamp="))

const lastRun = (dbPath: string) => {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true })
  try {
    return (db.prepare("SELECT status, summary FROM runs ORDER BY id DESC LIMIT 1").all() as Array<{ status: string; summary: string }>)[0]!
  } finally {
    db.close()
  }
}

describe("clean failures of the built CLI", () => {
  it("a full disk: one line naming the file, exit 5, the run recorded as failed with that reason; --json carries it", () => {
    const dir = project({ output_model_path: "small/models", prod_deployment_path: "small/production" })
    const small = NodePath.join(dir, "small")
    NodeFs.mkdirSync(small)
    if (isRoot) {
      const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=200k", "tmpfs", small])
      assert.strictEqual(mounted.status, 0, `mount: ${mounted.stderr}`)
      cleanups.push(() => spawnSync("umount", ["-l", small]))
      // fill it almost up, as a disk that is nearly full
      NodeFs.writeFileSync(NodePath.join(small, "ballast"), new Uint8Array(150 * 1024))
    } else {
      // without root no tmpfs can be mounted: a folder the run cannot write is refused the same way (EACCES)
      NodeFs.chmodSync(small, 0o555)
      cleanups.push(() => NodeFs.chmodSync(small, 0o755))
    }
    const r = run(dir, ["fullprocess", "--no-apicalls"])
    assert.strictEqual(r.code, 5, r.stdout + r.stderr)
    const lines = errorLines(r.stderr)
    assert.lengthOf(lines, 1, r.stderr)
    assert.match(lines[0]!, isRoot ? /^StorageError: no space left on the device writing .*small\/.* \(ENOSPC\)/ : /^StorageError: permission denied/)
    assert.notMatch(r.stderr + r.stdout, /^\s+at /m)
    const recorded = lastRun(NodePath.join(dir, "out", "drs.sqlite"))
    assert.strictEqual(recorded.status, "failed")
    assert.include(JSON.parse(recorded.summary).error, isRoot ? "no space left" : "permission denied")
    // what went live before the failure is whole: CURRENT names a release with its model
    const current = NodePath.join(small, "production", "CURRENT")
    if (NodeFs.existsSync(current)) {
      const id = NodeFs.readFileSync(current, "utf8").trim()
      assert.isTrue(NodeFs.existsSync(NodePath.join(small, "production", "releases", id, "trainedmodel.json")))
    }

    // the same failure from a single step, as JSON, and with the full cause under --verbose
    const json = run(dir, ["run", "--steps", "reporting", "--json"])
    assert.strictEqual(json.code, 5, json.stdout + json.stderr)
    const out = JSON.parse(json.stdout)
    assert.isFalse(out.ok)
    assert.strictEqual(out.error.tag, "StorageError")
    assert.strictEqual(out.error.exitCode, 5)
    assert.strictEqual(lastRun(NodePath.join(dir, "out", "drs.sqlite")).status, "failed")
    const verbose = run(dir, ["run", "--steps", "reporting", "--verbose"])
    assert.strictEqual(verbose.code, 5)
    assert.isAbove(errorLines(verbose.stderr).length, 1)
  })

  it("no permission: one line, exit 5, recorded as failed", () => {
    const dir = project()
    const models = NodePath.join(dir, "models")
    NodeFs.mkdirSync(models, { mode: 0o555 })
    NodeFs.chmodSync(models, 0o555)
    cleanups.push(() => NodeFs.chmodSync(models, 0o755))
    if (isRoot) {
      // root ignores file modes: run as nobody, who may write the rest of the project
      for (const sub of ["in", "test"]) spawnSync("chown", ["-R", "nobody:nogroup", NodePath.join(dir, sub)])
      NodeFs.mkdirSync(NodePath.join(dir, "out"))
      NodeFs.mkdirSync(NodePath.join(dir, "production"))
      NodeFs.mkdirSync(NodePath.join(dir, "quarantine"))
      for (const sub of ["out", "production", "quarantine"]) spawnSync("chown", ["nobody:nogroup", NodePath.join(dir, sub)])
    }
    const r = run(dir, ["fullprocess", "--no-apicalls"], isRoot ? "nobody" : undefined)
    assert.strictEqual(r.code, 5, r.stdout + r.stderr)
    const lines = errorLines(r.stderr)
    assert.lengthOf(lines, 1, r.stderr)
    assert.match(lines[0]!, /^StorageError: permission denied on .*models.* \((EACCES|EPERM)\)/)
    assert.notMatch(r.stderr, /^\s+at /m)
    const recorded = lastRun(NodePath.join(dir, "out", "drs.sqlite"))
    assert.strictEqual(recorded.status, "failed")
    assert.include(JSON.parse(recorded.summary).error, "permission denied")
  })

  it("a port in use: one line, exit 6", async () => {
    const dir = project()
    const blocker = NodeNet.createServer()
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve))
    cleanups.push(() => blocker.close())
    const port = (blocker.address() as NodeNet.AddressInfo).port
    const r = run(dir, ["serve", "--port", String(port)])
    assert.strictEqual(r.code, 6, r.stdout + r.stderr)
    const lines = errorLines(r.stderr)
    assert.lengthOf(lines, 1, r.stderr)
    assert.match(lines[0]!, /^PortInUse: the port is already in use \(EADDRINUSE\)/)
    // with workers, the first worker's failure stops them all with its code (no restart storm)
    const workers = run(dir, ["serve", "--port", String(port), "--workers", "2"])
    assert.strictEqual(workers.code, 6, workers.stdout + workers.stderr)
    assert.include(workers.stderr, "PortInUse: the port is already in use")
  })

  it("a missing input folder: one line, exit 5", () => {
    const dir = project({ input_folder_path: "nowhere" })
    const r = run(dir, ["run", "--steps", "training"])
    assert.include([3, 5], r.code ?? -1, r.stdout + r.stderr)
    assert.lengthOf(errorLines(r.stderr), 1, r.stderr)
    assert.notMatch(r.stderr, /^\s+at /m)
  })

  it("an unreachable tracking database: one line that says so, exit 5", () => {
    const dir = project({ database_url: "postgres://postgres@127.0.0.1:1/drs" })
    for (const args of [["status"], ["worker", "--port", "1"]]) {
      const r = run(dir, args)
      assert.strictEqual(r.code, 5, r.stdout + r.stderr)
      const lines = errorLines(r.stderr)
      assert.lengthOf(lines, 1, r.stderr)
      assert.match(lines[0]!, /^DatabaseError: the tracking database failed: .*ECONNREFUSED 127\.0\.0\.1:1.*; check database_url/)
    }
  })
})

describe("a run that took in nothing", () => {
  it("every new file rejected: exit 3, outcome no-valid-data, said on stderr and in --json; the run recorded so", () => {
    const dir = project()
    for (const f of NodeFs.readdirSync(NodePath.join(dir, "in"))) NodeFs.rmSync(NodePath.join(dir, "in", f))
    NodeFs.writeFileSync(NodePath.join(dir, "in", "bad1.csv"), "nonsense\n1\n")
    NodeFs.writeFileSync(NodePath.join(dir, "in", "bad2.csv"), "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\nx,1,2,three,0\n")
    const r = run(dir, ["fullprocess", "--no-apicalls"])
    assert.strictEqual(r.code, 3, r.stdout + r.stderr)
    assert.strictEqual(r.stdout.split("\n")[0], "fullprocess: no-valid-data")
    assert.match(errorLines(r.stderr).join("\n"), /every new file was rejected \(bad1\.csv, bad2\.csv\)/)
    assert.strictEqual(lastRun(NodePath.join(dir, "out", "drs.sqlite")).status, "no-valid-data")

    NodeFs.writeFileSync(NodePath.join(dir, "in", "bad3.csv"), "nonsense\n2\n")
    const json = run(dir, ["fullprocess", "--no-apicalls", "--json"])
    assert.strictEqual(json.code, 3, json.stdout + json.stderr)
    const out = JSON.parse(json.stdout)
    assert.isFalse(out.ok)
    assert.strictEqual(out.result.outcome, "no-valid-data")
    assert.deepStrictEqual(out.error.exitCode, 3)
    assert.strictEqual(out.error.tag, "NoValidData")
  })
})
