/** The prediction log in a real server process (the built CLI): a SIGTERM writes the open batch. */
import { DuckDBInstance } from "@duckdb/node-api"
import { assert, describe, it } from "@effect/vitest"
import { spawn, spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeNet from "node:net"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"

const ROOT = NodePath.resolve(import.meta.dirname, "..")
const MAIN = NodePath.join(ROOT, "dist", "main.js")

const freePort = () => new Promise<number>((resolve) => {
  const s = NodeNet.createServer().listen(0, "127.0.0.1", () => {
    const port = (s.address() as NodeNet.AddressInfo).port
    s.close(() => resolve(port))
  })
})

describe("the prediction log of a server process", () => {
  it("a graceful stop (SIGTERM) writes the open batch; each process names its own files", async () => {
    const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "drs-plog-"))
    try {
      const config = NodePath.join(dir, "config.json")
      NodeFs.writeFileSync(config, JSON.stringify({
        input_folder_path: NodePath.join(ROOT, "data", "sourcedata"), output_folder_path: NodePath.join(dir, "out"),
        test_data_path: NodePath.join(ROOT, "data", "testdata"), output_model_path: NodePath.join(dir, "models"),
        prod_deployment_path: NodePath.join(dir, "production"), quarantine_folder_path: NodePath.join(dir, "quarantine"),
        // a batch that neither fills nor ages during the test: only the stop can write it
        prediction_log_max_rows: 100_000, prediction_log_max_seconds: 3600
      }))
      const deployed = spawnSync(process.execPath, [MAIN, "fullprocess", "--no-apicalls", "--config", config], { encoding: "utf8" })
      assert.strictEqual(deployed.status, 0, deployed.stderr)
      const port = await freePort()
      const server = spawn(process.execPath, [MAIN, "serve", "--config", config, "--port", String(port)], { stdio: ["ignore", "ignore", "pipe"] })
      let log = ""
      server.stderr!.on("data", (d: Buffer) => (log += d.toString()))
      const exited = new Promise<number | null>((resolve) => server.on("exit", (code) => resolve(code)))
      for (let k = 0; ; k++) {
        const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false)
        if (ok) break
        if (k > 150) throw new Error(`the server did not start: ${log}`)
        await new Promise((r) => setTimeout(r, 200))
      }
      for (let k = 0; k < 3; k++) {
        const res = await fetch(`http://127.0.0.1:${port}/prediction`, {
          method: "POST", headers: { "content-type": "application/json" },
          body: JSON.stringify({ rows: [{ corporation: `p${k}`, lastmonth_activity: 10 * k, lastyear_activity: 20, number_of_employees: 3 }, { lastmonth_activity: null, lastyear_activity: 1, number_of_employees: 2 }] })
        })
        assert.strictEqual(res.status, 200)
      }
      const logDir = NodePath.join(dir, "out", "predictions")
      assert.isFalse(NodeFs.existsSync(logDir) && NodeFs.readdirSync(logDir).some((f) => f.endsWith(".parquet")), "nothing is written before the stop")
      server.kill("SIGTERM")
      assert.strictEqual(await exited, 0, log)
      const files = NodeFs.readdirSync(logDir)
      assert.lengthOf(files, 1)
      assert.match(files[0]!, new RegExp(`^.+-${server.pid}-\\d+-000000\\.parquet$`))
      const db = await DuckDBInstance.create(":memory:")
      const c = await db.connect()
      const rows = (await c.runAndReadAll(`SELECT id, "f:lastmonth_activity" AS lm FROM read_parquet('${NodePath.join(logDir, "*.parquet")}') ORDER BY request_id, "row"`)).getRowObjectsJS()
      c.closeSync()
      db.closeSync()
      assert.lengthOf(rows, 6)
      assert.sameMembers(rows.map((r) => r.id), ["p0", "p1", "p2", null, null, null])
      assert.strictEqual(rows.filter((r) => r.lm === null).length, 3)
    } finally {
      NodeFs.rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)
})
