/**
 * `serve` (the built CLI) answers every request that reaches it, even one that arrives as
 * the port opens, before the API's handler is attached (such requests were never answered).
 */
import { assert, describe, it } from "@effect/vitest"
import { spawn, spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeHttp from "node:http"
import * as NodeNet from "node:net"
import * as NodePath from "node:path"
import { MAIN, sampleProject } from "./support/Project.js"

const freePort = () => new Promise<number>((resolve) => {
  const s = NodeNet.createServer().listen(0, "127.0.0.1", () => {
    const port = (s.address() as NodeNet.AddressInfo).port
    s.close(() => resolve(port))
  })
})

/** GET /health on a fresh connection: its status, "refused" before the port opens, "unanswered" after 5 s. */
const health = (port: number) =>
  new Promise<number | "refused" | "unanswered">((resolve) => {
    const req = NodeHttp.get({ host: "127.0.0.1", port, path: "/health", agent: false, timeout: 5000 }, (res) => {
      res.resume()
      res.on("end", () => resolve(res.statusCode ?? 0))
    })
    req.on("timeout", () => {
      req.destroy()
      resolve("unanswered")
    })
    req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code === "ECONNREFUSED" ? "refused" : "unanswered"))
  })

describe("serve as it starts", () => {
  it("answers the requests that arrive as the port opens", async () => {
    const dir = sampleProject("early")
    try {
      const deployed = spawnSync(process.execPath, [MAIN, "fullprocess", "--no-apicalls"], { cwd: dir, encoding: "utf8", timeout: 120_000 })
      assert.strictEqual(deployed.status, 0, deployed.stderr)
      for (let run = 0; run < 2; run++) {
        const port = await freePort()
        const server = spawn(process.execPath, [MAIN, "serve", "--port", String(port)], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] })
        let log = ""
        server.stderr!.on("data", (d: Buffer) => (log += d.toString()))
        const exited = new Promise<void>((resolve) => server.on("exit", () => resolve()))
        try {
          // a request every 2 ms from before the port opens until one is answered
          const sent: Array<Promise<number | "refused" | "unanswered">> = []
          let answered = false
          const deadline = Date.now() + 60_000
          while (!answered && Date.now() < deadline) {
            const r = health(port)
            r.then((x) => { if (x === 200) answered = true }, () => undefined)
            sent.push(r)
            await new Promise((resolve) => setTimeout(resolve, 2))
          }
          assert.isTrue(answered, log)
          const results = await Promise.all(sent)
          const reached = results.filter((x) => x !== "refused")
          assert.deepStrictEqual(reached.filter((x) => x !== 200), [], `${reached.length} requests reached the server`)
        } finally {
          server.kill("SIGTERM")
          await exited
        }
      }
    } finally {
      NodeFs.rmSync(dir, { recursive: true, force: true })
    }
  }, 180_000)
})
